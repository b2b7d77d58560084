// A kubeconfig that points kubectl at the local cluster, so nobody needs `--server` (which would still
// mix in ~/.kube/config's credentials and namespace).

export interface KubeconfigOptions {
  server: string;
  token?: string;
  /** Name of the cluster, user and context. Default "kubecast-local". */
  name?: string;
  namespace?: string;
}

/** kubeconfig YAML (JSON is valid YAML; kubectl reads it either way). */
export function localClusterKubeconfig(options: KubeconfigOptions): string {
  const name = options.name ?? 'kubecast-local';
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: options.server } }],
    users: [{ name, user: options.token ? { token: options.token } : {} }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: options.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  };
  return JSON.stringify(config, null, 2) + '\n';
}
