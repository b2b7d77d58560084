// DATA/kubeconfig: points kubectl at the recording proxy with the token the proxy requires.
import { writeFile, rename } from 'node:fs/promises';

export interface ProxyKubeconfig {
  server: string;
  token: string;
  /** PEM of the CA that signed the proxy's certificate (https). */
  ca?: string;
  namespace?: string;
}

export function renderKubeconfig(config: ProxyKubeconfig): string {
  const cluster = [`    server: ${JSON.stringify(config.server)}`];
  if (config.ca) cluster.push(`    certificate-authority-data: ${Buffer.from(config.ca).toString('base64')}`);
  return [
    '# Written by kubecast serve: kubectl through the recording proxy.',
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kubecast',
    '  cluster:',
    ...cluster,
    'users:',
    '- name: kubecast',
    '  user:',
    `    token: ${JSON.stringify(config.token)}`,
    'contexts:',
    '- name: kubecast',
    '  context:',
    '    cluster: kubecast',
    '    user: kubecast',
    `    namespace: ${JSON.stringify(config.namespace ?? 'default')}`,
    'current-context: kubecast',
    '',
  ].join('\n');
}

/** Writes atomically (rename), readable only by the owner: it holds a token. */
export async function writeKubeconfig(path: string, config: ProxyKubeconfig): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, renderKubeconfig(config), { mode: 0o600 });
  await rename(temp, path);
}
