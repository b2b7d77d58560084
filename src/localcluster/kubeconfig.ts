// A kubeconfig that points kubectl at the local cluster, so nobody needs `--server` (which would still
// mix in ~/.kube/config's credentials and namespace). With https it carries the local CA: kubectl
// sends the token only over TLS, and must be able to verify the server's certificate.

export interface KubeconfigOptions {
  server: string;
  token?: string;
  /** PEM of the CA that signed an https server's certificate (written as certificate-authority-data). */
  ca?: string;
  /** Name of the cluster, user and context. Default "kubecast-local". */
  name?: string;
  namespace?: string;
}

/** kubeconfig YAML (JSON is valid YAML; kubectl reads it either way). */
export function localClusterKubeconfig(options: KubeconfigOptions): string {
  const name = options.name ?? 'kubecast-local';
  const cluster: Record<string, string> = { server: options.server };
  if (options.ca) cluster['certificate-authority-data'] = Buffer.from(options.ca).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster }],
    users: [{ name, user: options.token ? { token: options.token } : {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: options.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  };
  return JSON.stringify(config, null, 2) + '\n';
}
