// `kubecast serve`: everything the desktop app runs, headless.
import { resolve } from 'node:path';
import { resolveDataFolder } from '../util/paths';
import { createLogger } from '../util/log';
import { kubectlExecCommand } from '../util/shell';
import { startServe, type ServeHandle, type ServeOptions } from '../serve/serve';
import { UpstreamError } from '../proxy/upstream';
import { CliError, parseCommand, type Command } from './command';
import { isLoopback, parseListen, parseRecorderUrls, parseRetainDays, parseSeconds, parseSeekIndexMib } from './options';

export { startServe, type ServeHandle, type ServeOptions };

const spec = {
  name: 'serve',
  usage: 'kubecast serve [--data DIR] [--upstream local|current|context:NAME|URL] [--json] [options]',
  description: [
    'Runs the recording proxy, the recorder and (with --upstream local, the default) the built-in local',
    'cluster, and writes DATA/kubeconfig: `kubectl --kubeconfig DATA/kubeconfig exec -it shell -- sh`',
    'then goes through the proxy and is recorded. The local cluster\'s pods are local processes running',
    'as your OS user, not isolated containers.',
  ].join('\n'),
  options: {
    data: { type: 'string' },
    upstream: { type: 'string' },
    kubeconfig: { type: 'string' },
    'proxy-listen': { type: 'string' },
    'recorder-listen': { type: 'string' },
    'console-listen': { type: 'string' },
    'local-listen': { type: 'string' },
    recorder: { type: 'string', multiple: true },
    'recorder-token': { type: 'string' },
    'fail-closed': { type: 'boolean' },
    'fail-open': { type: 'boolean' },
    'record-stdin': { type: 'boolean' },
    'ack-timeout': { type: 'string' },
    'dial-timeout': { type: 'string' },
    'dial-total-timeout': { type: 'string' },
    'retain-days': { type: 'string' },
    'seek-index-mib': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '--data DIR                 data folder (default: the one chosen in Settings, else the platform app-data folder + /kubecast)',
    '--upstream SPEC            local (default) | current | context:NAME | http(s) URL',
    '--kubeconfig FILE          kubeconfig for current/context:NAME, and credentials for a URL upstream',
    '--proxy-listen HOST:PORT   the proxy kubectl talks to (https; default 127.0.0.1:0 = any free port)',
    '--recorder-listen HOST:PORT, --console-listen HOST:PORT (loopback only), --local-listen HOST:PORT',
    '--recorder URL             send recordings to this recorder (repeatable; tried in order) instead of the embedded one',
    '--recorder-token FILE      bearer token for --recorder URLs',
    '--fail-closed              a session that cannot be recorded does not run (default)',
    '--fail-open                a session that cannot be recorded runs unrecorded, with a warning',
    '--record-stdin             also record what is typed (off by default: it carries passwords)',
    '--ack-timeout SECONDS      a recorder that acknowledges nothing this long has failed (default 5)',
    '--dial-timeout SECONDS     per recorder dial (default 5); --dial-total-timeout SECONDS for all (default 30)',
    '--retain-days N            delete recordings older than N days',
    '--seek-index-mib N         recordings of N MiB and more get a seek index for fast replay (default 8; 0 = none)',
    '--json                     print one JSON line with the URLs when ready',
  ],
} as const;

export const serve: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const { readFile } = await import('node:fs/promises');
  const { dataDir, pointer } = resolveDataFolder(v.data);
  const consoleListen = parseListen(v['console-listen'], '--console-listen');
  // Checked before anything starts; the console server refuses it too.
  if (!isLoopback(consoleListen.host)) throw new CliError(`--console-listen: the console is loopback-only (plain HTTP, recordings behind one token); ${consoleListen.host} is not a loopback address`);
  const logger = createLogger();
  const handle = await startServe({
    dataDir,
    dataFolderPointer: pointer,
    upstream: v.upstream,
    kubeconfig: v.kubeconfig,
    proxyListen: parseListen(v['proxy-listen'], '--proxy-listen'),
    recorderListen: parseListen(v['recorder-listen'], '--recorder-listen'),
    localListen: parseListen(v['local-listen'], '--local-listen'),
    consoleListen,
    retainDays: parseRetainDays(v['retain-days']),
    seekIndexThresholdBytes: parseSeekIndexMib(v['seek-index-mib']),
    recorders: parseRecorderUrls(v.recorder),
    recorderToken: v['recorder-token'] ? (await readFile(v['recorder-token'], 'utf8')).trim() : undefined,
    policy: v['fail-open'] ? 'fail-open' : v['fail-closed'] ? 'fail-closed' : undefined,
    recordStdin: v['record-stdin'],
    ackTimeoutMs: parseSeconds(v['ack-timeout'], '--ack-timeout', 5) * 1000,
    dialTimeoutMs: parseSeconds(v['dial-timeout'], '--dial-timeout', 5) * 1000,
    totalDialTimeoutMs: parseSeconds(v['dial-total-timeout'], '--dial-total-timeout', 30) * 1000,
    logger,
  }).catch((err: unknown) => {
    // A bad --upstream or kubeconfig is the user's to fix: say so without a stack trace.
    throw err instanceof UpstreamError ? new CliError(`serve: ${err.message}`, 1) : err;
  });
  const ready = {
    proxy: handle.urls.proxy,
    recorder: handle.urls.recorder,
    console: handle.urls.console,
    local: handle.urls.local,
    kubeconfig: handle.kubeconfigPath,
    data: handle.dataDir,
  };
  if (v.json) process.stdout.write(JSON.stringify(ready) + '\n');
  else {
    process.stdout.write(
      [
        `kubecast is recording kubectl exec/attach through ${handle.urls.proxy} (${handle.proxy.settings.policy})`,
        `  console:    ${handle.urls.console}`,
        `  upstream:   ${handle.upstream.label}${handle.urls.local ? ` (built-in local cluster at ${handle.urls.local}; its pods are local processes)` : ''}`,
        `  recorder:   ${handle.proxy.settings.recorders.map((r) => r.url).join(', ')}`,
        `  recordings: ${resolve(dataDir, 'recordings')}`,
        '',
        'Try it:',
        `  ${kubectlExecCommand(handle.kubeconfigPath)}`,
        '',
      ].join('\n'),
    );
  }
  await new Promise<void>((resolveSignal) => {
    const onSignal = () => resolveSignal();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await handle.stop();
  return 0;
};
