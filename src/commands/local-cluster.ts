// `kubecast local-cluster`: run the built-in Kubernetes exec/attach endpoint on its own.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, ListenPolicyError, localClusterKubeconfig, parseTokenFile, PodsFileError, TlsSetupError } from '../localcluster';
import { createLogger } from '../util/log';
import { defaultDataDir } from '../util/paths';
import { kubectlExecCommand } from '../util/shell';
import { CliError, parseCommand, type Command } from './command';

const spec = {
  name: 'local-cluster',
  usage: 'kubecast local-cluster [--listen HOST:PORT] [--token FILE] [--pods FILE] [--data DIR] [--json]',
  description: [
    'Runs a built-in Kubernetes API endpoint for kubectl exec, attach, cp, logs and get pods.',
    '',
    'Its pods are NOT containers: they are local processes running as the current OS user',
    `(${safeUserName()}), in working directories under DATA/local-cluster, with no isolation.`,
    'Anyone who can reach the port can run commands as that user: it listens on loopback',
    'by default and refuses another address unless a --token is set.',
    '',
    'Default pods (namespace "default"): "shell" (container "shell") and "web-0" (containers',
    '"app" and "sidecar"). Each container has a main process (a shell) that `kubectl attach` joins.',
    'It writes DATA/local-cluster/kubeconfig for kubectl. SIGINT/SIGTERM stop it and every process it started.',
    'Without --token it serves plain http; with --token it serves https with a certificate from a',
    'local CA (DATA/local-cluster/tls/) that the written kubeconfig trusts, since kubectl sends',
    'tokens only over TLS.',
  ].join('\n'),
  options: {
    listen: { type: 'string' as const },
    token: { type: 'string' as const },
    pods: { type: 'string' as const },
    data: { type: 'string' as const },
    json: { type: 'boolean' as const },
  },
  help: [
    '--listen HOST:PORT  address to listen on (default 127.0.0.1:0, port 0 = any free port)',
    '--token FILE        require "Authorization: Bearer <contents of FILE>" on every request, and serve',
    '                    https; the written kubeconfig carries the token and the local CA',
    '--pods FILE         JSON pods file replacing the default pods, e.g.',
    '                    {"pods":[{"name":"shell","containers":[{"name":"shell","command":["sh"]}]}]}',
    '--data DIR          data folder (default: the platform app-data folder + /kubecast)',
    '--json              print one line {"local":URL} on stdout when ready (https:// with --token)',
  ],
};

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'the current user';
  }
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT`/`PORT` (host 127.0.0.1). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value) ?? /^()()(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CliError(`local-cluster: --listen must be HOST:PORT (e.g. 127.0.0.1:8001), not ${JSON.stringify(value)}`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export const localCluster: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  const listen = parseListen(values.listen ?? '127.0.0.1:0');
  let token: string | undefined;
  if (values.token !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.token, 'utf8');
    } catch (err) {
      throw new CliError(`local-cluster: cannot read the token file ${values.token}: ${(err as Error).message}`);
    }
    try {
      token = parseTokenFile(text, values.token);
    } catch (err) {
      throw new CliError(`local-cluster: ${(err as Error).message}`);
    }
  }
  const dataDir = values.data ?? defaultDataDir();
  const log = createLogger({ level: values.json ? 'warn' : undefined });
  const cluster = new LocalCluster();
  let info;
  try {
    info = await cluster.start({ listen, token, podsFile: values.pods, dataDir, log });
  } catch (err) {
    if (err instanceof ListenPolicyError || err instanceof PodsFileError) throw new CliError(`local-cluster: ${err.message}`);
    if (err instanceof TlsSetupError) throw new CliError(`local-cluster: ${err.message}`, 1);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`local-cluster: ${listen.host}:${listen.port} is already in use`, 1);
    throw err;
  }

  const kubeconfigDir = join(dataDir, 'local-cluster');
  const kubeconfig = join(kubeconfigDir, 'kubeconfig');
  try {
    mkdirSync(kubeconfigDir, { recursive: true, mode: 0o700 });
    // The file holds the token: owner-only, even if it existed with wider permissions.
    writeFileSync(kubeconfig, localClusterKubeconfig({ server: info.url, token, ca: info.ca }), { mode: 0o600 });
    chmodSync(kubeconfig, 0o600);
  } catch (err) {
    await cluster.stop();
    throw new CliError(`local-cluster: cannot write ${kubeconfig}: ${(err as Error).message}`, 1);
  }

  if (values.json) {
    process.stdout.write(JSON.stringify({ local: info.url }) + '\n');
  } else {
    process.stdout.write(
      [
        `Local cluster listening on ${info.url}. Its pods are local processes running as ${safeUserName()}, not isolated containers.`,
        ...(token === undefined ? [] : ['Every request must carry the token: the kubeconfig has it, and the CA that verifies the https certificate.']),
        `Try: ${kubectlExecCommand(kubeconfig)}`,
        'Press Ctrl-C to stop it (every process it started is stopped too).',
        '',
      ].join('\n'),
    );
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.info('stopping local cluster', { signal });
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await cluster.stop();
  return 0;
};
