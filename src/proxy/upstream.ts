// Where the proxy sends requests, and with which credentials. kubeconfig handling (TLS CAs, client
// certificates, tokens, exec credential plugins) is @kubernetes/client-node's job; it is loaded
// only when a kubeconfig is actually used.
import type { SecureContextOptions } from 'node:tls';

export type UpstreamKind = 'local' | 'context' | 'url';

export interface UpstreamRequestOptions {
  /** Headers to add (e.g. Authorization); they replace the client's. */
  headers: Record<string, string>;
  /** TLS options for https upstreams. */
  tls: SecureContextOptions & { rejectUnauthorized?: boolean; servername?: string };
}

export interface Upstream {
  readonly kind: UpstreamKind;
  /** Human label: "local", "context:kind-prod", or the URL. */
  readonly label: string;
  readonly url: URL;
  /** Cluster name for recordings: "local", the kubeconfig cluster, or the host. */
  readonly cluster: string;
  readonly context?: string;
  readonly kubeconfigUser?: string;
  /** Options for one request; may run an exec credential plugin, so it is async. */
  requestOptions(): Promise<UpstreamRequestOptions>;
}

export interface UpstreamSpecOptions {
  /** kubeconfig file for `current`, `context:NAME`, and credentials of a URL upstream. */
  kubeconfig?: string;
  /** The embedded local cluster, for `local`. */
  local?: { url: string; token?: string };
}

export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** Resolves `local | current | context:NAME | URL` to an Upstream. */
export async function resolveUpstream(spec: string, options: UpstreamSpecOptions = {}): Promise<Upstream> {
  if (spec === 'local') {
    if (!options.local) throw new UpstreamError('upstream "local" needs the local cluster, which is not running');
    const token = options.local.token;
    return {
      kind: 'local',
      label: 'local',
      url: new URL(options.local.url),
      cluster: 'local',
      requestOptions: async (): Promise<UpstreamRequestOptions> => ({ headers: token ? { authorization: `Bearer ${token}` } : {}, tls: {} }),
    };
  }
  if (spec === 'current' || spec.startsWith('context:')) {
    const kc = await loadKubeconfig(options.kubeconfig);
    const context = spec === 'current' ? kc.getCurrentContext() : spec.slice('context:'.length);
    const object = kc.getContextObject(context);
    if (!context || !object) {
      const known = kc.getContexts().map((c) => c.name);
      throw new UpstreamError(`kubeconfig has no context ${JSON.stringify(context)}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    }
    kc.setCurrentContext(context);
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) throw new UpstreamError(`context ${JSON.stringify(context)} has no cluster server`);
    return {
      kind: 'context',
      label: `context:${context}`,
      url: new URL(cluster.server),
      cluster: cluster.name,
      context,
      kubeconfigUser: object.user,
      requestOptions: () => kubeconfigOptions(kc, cluster.skipTLSVerify === true),
    };
  }
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new UpstreamError(`upstream must be local, current, context:NAME or an http(s) URL, got ${JSON.stringify(spec)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UpstreamError(`upstream URL must be http or https, got ${url.protocol}`);
  const kc = options.kubeconfig ? await loadKubeconfig(options.kubeconfig) : undefined;
  return {
    kind: 'url',
    label: url.origin + (url.pathname === '/' ? '' : url.pathname),
    url,
    cluster: url.host,
    kubeconfigUser: kc?.getCurrentUser()?.name,
    requestOptions: async () => (kc ? kubeconfigOptions(kc, false) : { headers: {}, tls: {} }),
  };
}

type KubeConfig = import('@kubernetes/client-node').KubeConfig;

async function loadKubeconfig(file: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new UpstreamError(`cannot load kubeconfig${file ? ` ${file}` : ''}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return kc;
}

async function kubeconfigOptions(kc: KubeConfig, skipTlsVerify: boolean): Promise<UpstreamRequestOptions> {
  const opts: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
    else if (typeof value === 'number') headers[name.toLowerCase()] = String(value);
  }
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  return {
    headers,
    tls: {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: skipTlsVerify ? false : opts.rejectUnauthorized,
      servername: opts.servername,
    },
  };
}

/** The user's kubeconfig contexts, for the settings panel. */
export async function listContexts(kubeconfig?: string): Promise<Array<{ name: string; cluster: string; user: string; server: string }>> {
  // Without any kubeconfig, client-node invents a "loaded-context" at localhost:8080: list nothing.
  const { existsSync } = await import('node:fs');
  const { homedir } = await import('node:os');
  const { join, delimiter } = await import('node:path');
  const files = kubeconfig ? [kubeconfig] : process.env.KUBECONFIG ? process.env.KUBECONFIG.split(delimiter) : [join(homedir(), '.kube', 'config')];
  if (!files.some((file) => file !== '' && existsSync(file))) return [];
  const kc = await loadKubeconfig(kubeconfig);
  return kc.getContexts().map((c) => ({ name: c.name, cluster: c.cluster, user: c.user, server: kc.getCluster(c.cluster)?.server ?? '' }));
}
