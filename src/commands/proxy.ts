// `kubecast proxy`: only the recording proxy, in front of a cluster, sending to remote recorders.
import { resolve, join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { ProxyServer } from '../proxy/server';
import { osUser } from '../proxy/identity';
import { resolveUpstream, UpstreamError } from '../proxy/upstream';
import { writeKubeconfig } from '../serve/kubeconfig';
import { persistentToken } from '../serve/secrets';
import { createLogger } from '../util/log';
import { defaultDataDir } from '../util/paths';
import { shellQuote } from '../util/shell';
import { loadOrCreateTls } from '../util/tls';
import { startMetricsServer } from '../util/metrics-server';

const listenArgs = (l: { host: string; port: number }): [string, number] => [l.host, l.port];
import { CliError, parseCommand, type Command } from './command';
import { parseListen, parseRecorderUrls, parseSeconds } from './options';

const spec = {
  name: 'proxy',
  usage: 'kubecast proxy --recorder URL [--upstream current|context:NAME|URL] [--listen HOST:PORT] [--data DIR] [--json] [options]',
  description: [
    'Runs the recording proxy alone. kubectl talks to it (https, bearer token) through DATA/kubeconfig;',
    'it forwards every request to the upstream with the upstream\'s credentials and records exec/attach.',
  ].join('\n'),
  options: {
    data: { type: 'string' },
    listen: { type: 'string' },
    upstream: { type: 'string' },
    kubeconfig: { type: 'string' },
    recorder: { type: 'string', multiple: true },
    'recorder-token': { type: 'string' },
    token: { type: 'string' },
    'fail-closed': { type: 'boolean' },
    'fail-open': { type: 'boolean' },
    'record-stdin': { type: 'boolean' },
    'ack-timeout': { type: 'string' },
    'dial-timeout': { type: 'string' },
    'dial-total-timeout': { type: 'string' },
    'metrics-listen': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '--recorder URL            a recorder (repeatable; tried in order)',
    '--recorder-token FILE     bearer token for the recorders',
    '--upstream SPEC           current (default) | context:NAME | http(s) URL',
    '--kubeconfig FILE         kubeconfig for the upstream (default: $KUBECONFIG or ~/.kube/config)',
    '--listen HOST:PORT        default 127.0.0.1:0',
    '--token FILE              the token clients must present (default: DATA/token, created if missing)',
    '--fail-closed | --fail-open, --record-stdin, --ack-timeout S, --dial-timeout S, --dial-total-timeout S: as for serve',
    '--metrics-listen HOST:PORT  serve /metrics (Prometheus) and /healthz there',
    '--json                    print {"proxy":URL,"kubeconfig":PATH} when ready',
  ],
} as const;

export const proxy: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const recorders = parseRecorderUrls(v.recorder);
  if (recorders.length === 0 && !v['fail-open']) throw new CliError('proxy: give at least one --recorder URL (or --fail-open to run sessions unrecorded)');
  const dataDir = resolve(v.data ?? defaultDataDir());
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const listen = parseListen(v.listen, '--listen');
  const token = v.token ? (await readFile(v.token, 'utf8')).trim() : await persistentToken(join(dataDir, 'token'));
  const recorderToken = v['recorder-token'] ? (await readFile(v['recorder-token'], 'utf8')).trim() : null;
  const upstream = await resolveUpstream(v.upstream ?? 'current', { kubeconfig: v.kubeconfig }).catch((err: unknown) => {
    // A bad --upstream or kubeconfig is the user's to fix: say so without a stack trace.
    throw err instanceof UpstreamError ? new CliError(`proxy: ${err.message}`, 1) : err;
  });
  const tls = await loadOrCreateTls(join(dataDir, 'tls'), listen.host === '0.0.0.0' || listen.host === '::' ? [] : [listen.host]);
  const logger = createLogger();
  const server = new ProxyServer({
    host: listen.host,
    port: listen.port,
    tls,
    auth: { tokens: [{ token, user: osUser() }] },
    logger,
    settings: {
      upstream,
      recorders: recorders.map((url) => ({ url, token: recorderToken })),
      policy: v['fail-open'] ? 'fail-open' : 'fail-closed',
      recordStdin: v['record-stdin'] ?? false,
      spoolDir: join(dataDir, 'spool'),
      connect: {
        ackTimeoutMs: parseSeconds(v['ack-timeout'], '--ack-timeout', 5) * 1000,
        dialTimeoutMs: parseSeconds(v['dial-timeout'], '--dial-timeout', 5) * 1000,
        totalTimeoutMs: parseSeconds(v['dial-total-timeout'], '--dial-total-timeout', 30) * 1000,
      },
    },
  });
  const url = await server.start();
  const metrics = v['metrics-listen'] ? await startMetricsServer(server.metrics.registry, ...listenArgs(parseListen(v['metrics-listen'], '--metrics-listen'))) : undefined;
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, { server: url.replace('://0.0.0.0:', '://127.0.0.1:'), token, ca: tls.ca });
  if (v.json) process.stdout.write(JSON.stringify({ proxy: url, kubeconfig: kubeconfigPath, data: dataDir, metrics: metrics?.url ?? null }) + '\n');
  else process.stdout.write(`kubecast proxy on ${url} in front of ${upstream.label}; kubectl --kubeconfig ${shellQuote(kubeconfigPath)} …\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.stop();
  metrics?.server.close();
  return 0;
};
