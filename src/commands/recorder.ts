// `kubecast recorder`: only the recorder endpoint (for teams running it apart from the proxies).
import { resolve, join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { RecorderServer } from '../recorder/server';
import { Library, progressPrinter } from '../store/library';
import { RecordingStore } from '../store/store';
import { persistentToken } from '../serve/secrets';
import { createLogger } from '../util/log';
import { defaultDataDir } from '../util/paths';
import { CliError, parseCommand, type Command } from './command';
import { isLoopback, parseListen, parseRetainDays, parseSeekIndexMib } from './options';

const spec = {
  name: 'recorder',
  usage: 'kubecast recorder [--data DIR] [--listen HOST:PORT] [--auth token|none [--allow-unauthenticated]] [--token FILE] [--retain-days N] [--seek-index-mib N] [--json]',
  description: [
    'Receives recordings from kubecast proxies (and from Tailscale-compatible proxies): h2c `POST /v2/record`',
    'with acks of durably stored bytes, and `POST /record` over HTTP/1.1. Stores them under DATA/recordings,',
    'indexes them (for `kubecast ls --data DIR`) and seals each one when it closes (for `kubecast verify`).',
  ].join('\n'),
  options: {
    data: { type: 'string' },
    listen: { type: 'string' },
    auth: { type: 'string' },
    'allow-unauthenticated': { type: 'boolean' },
    token: { type: 'string' },
    'retain-days': { type: 'string' },
    'seek-index-mib': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '--data DIR            data folder (default: the platform app-data folder + /kubecast)',
    '--listen HOST:PORT    default 127.0.0.1:0 (any free port)',
    '--auth token|none     require `Authorization: Bearer TOKEN` (default) or accept anyone (for peers that send no token)',
    '--allow-unauthenticated  with --auth none on a non-loopback address: yes, anyone reaching the port may write recordings',
    '--token FILE          the token (default: DATA/recorder.token, created if missing)',
    '--retain-days N       delete recordings older than N days (checked at start, then hourly)',
    '--seek-index-mib N    recordings of N MiB and more get a seek index for fast replay (default 8; 0 = none)',
    '--json                print {"recorder":URL,"token":FILE} when ready',
  ],
} as const;

export const recorder: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const dataDir = resolve(v.data ?? defaultDataDir());
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const listen = parseListen(v.listen, '--listen');
  const auth = v.auth ?? 'token';
  if (auth !== 'token' && auth !== 'none') throw new CliError(`--auth: expected token or none, got ${JSON.stringify(auth)}`);
  if (auth === 'none' && !isLoopback(listen.host)) {
    // Peer proxies upload over the network with no token, so this is allowed, but only on purpose.
    if (!v['allow-unauthenticated']) throw new CliError('--auth none on a non-loopback address lets anyone reaching the port write recordings; add --allow-unauthenticated if that is intended (e.g. for peer proxies that send no token)');
    process.stderr.write(`WARNING: kubecast recorder accepts UNAUTHENTICATED uploads on ${listen.host}:${listen.port}: anyone who can reach this port can write recordings\n`);
  }
  const tokenFile = v.token ? resolve(v.token) : join(dataDir, 'recorder.token');
  const token = auth === 'none' ? null : v.token ? (await readFile(tokenFile, 'utf8')).trim() : await persistentToken(tokenFile);
  const retainDays = parseRetainDays(v['retain-days']);
  const seekIndexThresholdBytes = parseSeekIndexMib(v['seek-index-mib']);
  // Said plainly up front (Library.open would refuse too, with a stack trace).
  if (Library.serverRunningIn(dataDir)) throw new CliError(`another kubecast process (serve or recorder) is already serving the data folder ${dataDir}; give this one its own --data DIR`);
  const logger = createLogger();
  // The index writer, as in `serve`: it takes DATA/index.lock (so `ls` tells live from
  // interrupted), seals each recording when it closes, indexes it for search, applies retention.
  const library = await Library.open(dataDir, {
    logger,
    retainDays: retainDays ?? undefined,
    seekIndex: seekIndexThresholdBytes === undefined ? undefined : { thresholdBytes: seekIndexThresholdBytes },
    onProgress: process.stderr.isTTY ? progressPrinter() : undefined,
  });
  const server = new RecorderServer({ host: listen.host, port: listen.port, store: new RecordingStore(dataDir), token, observer: library, logger });
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    await library.close();
    throw err;
  }
  if (v.json) process.stdout.write(JSON.stringify({ recorder: url, token: token === null ? null : tokenFile, data: dataDir }) + '\n');
  else process.stdout.write(`kubecast recorder listening on ${url}; recordings in ${join(dataDir, 'recordings')}${token ? `; token in ${tokenFile}` : ' (no auth)'}\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  // Uploads end and are written first; then the library seals what ended and releases the lock.
  await server.stop();
  await library.close();
  return 0;
};
