// `kubecast serve`: the local cluster, the recorder and the proxy together, as the desktop app
// runs them. Everything listens on loopback unless told otherwise.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { LocalCluster } from '../localcluster';
import { ProxyMetrics } from '../proxy/metrics';
import { ProxyServer } from '../proxy/server';
import type { FailurePolicy } from '../proxy/recording';
import { osUser } from '../proxy/identity';
import { resolveUpstream, type Upstream } from '../proxy/upstream';
import type { RecorderTarget } from '../recorder/client';
import type { IngestObserver } from '../recorder/ingest';
import { RecorderServer } from '../recorder/server';
import { RecordingStore } from '../store/store';
import { newToken } from '../util/secret';
import { loadOrCreateTls } from '../util/tls';
import { silentLogger, type Logger } from '../util/log';
import { kubectlExecCommand } from '../util/shell';
import { writeDataFolderPointer } from '../util/paths';
import { writeKubeconfig } from './kubeconfig';
import { persistentToken } from './secrets';
import { Library, progressPrinter } from '../store/library';
import { LiveHub } from '../live/hub';
import { loggedFanOut } from '../live/fanout';
import { ConsoleServer } from '../console/server';
import type { ConsoleSettings, ConsoleStatus, SettingsResult } from '../console/types';
import { listContexts } from '../proxy/upstream';
import { loadSettings, saveSettings } from './settings';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServeOptions {
  dataDir: string;
  /**
   * The pointer file (outside any data folder) that names the data folder for the next start; when
   * absent (the folder came from --data or KUBECAST_DATA) Settings cannot change the folder.
   */
  dataFolderPointer?: string;
  /** local | current | context:NAME | URL; default: saved settings, else local. */
  upstream?: string;
  kubeconfig?: string;
  proxyListen?: ListenAddress;
  recorderListen?: ListenAddress;
  consoleListen?: ListenAddress;
  /** Serve the console (API + UI). Default true. */
  console?: boolean;
  /** The built renderer; default dist/renderer next to the running bundle. */
  rendererDir?: string;
  retainDays?: number | null;
  /** Recordings of at least this many bytes get a seek index (default 8 MiB; 0 = none). */
  seekIndexThresholdBytes?: number;
  localListen?: ListenAddress;
  /** Remote recorders; empty = the embedded one. */
  recorders?: string[];
  /** Token for remote recorders (none by default). */
  recorderToken?: string;
  policy?: FailurePolicy;
  recordStdin?: boolean;
  ackTimeoutMs?: number;
  dialTimeoutMs?: number;
  totalDialTimeoutMs?: number;
  /** Extra observers of ingested recordings (the live hub and the library join here). */
  observers?: IngestObserver[];
  logger?: Logger;
  metrics?: ProxyMetrics;
}

export interface ServeHandle {
  /** `console` carries the token (for the person who started kubecast, not for pages). */
  urls: { proxy: string; recorder: string | null; local: string | null; console: string | null };
  kubeconfigPath: string;
  dataDir: string;
  /** The proxy token in DATA/kubeconfig (never shown to a renderer). */
  token: string;
  proxy: ProxyServer;
  recorder: RecorderServer | undefined;
  localCluster: LocalCluster | undefined;
  readonly upstream: Upstream;
  library: Library;
  live: LiveHub;
  console: ConsoleServer | undefined;
  stop(): Promise<void>;
}

export async function startServe(requested: ServeOptions): Promise<ServeHandle> {
  const log = requested.logger ?? silentLogger;
  const dataDir = requested.dataDir;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Settings saved from the console fill in what the command line leaves open.
  const saved = await loadSettings(dataDir);
  const options: ServeOptions = {
    ...requested,
    upstream: requested.upstream ?? saved.upstream ?? 'local',
    recorders: requested.recorders && requested.recorders.length > 0 ? requested.recorders : (saved.recorders ?? []),
    policy: requested.policy ?? saved.policy ?? 'fail-closed',
    recordStdin: requested.recordStdin ?? saved.recordStdin ?? false,
    retainDays: requested.retainDays !== undefined ? requested.retainDays : (saved.retainDays ?? null),
  };
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log.error('stop failed', { error: err instanceof Error ? err.message : String(err) }));
  };
  try {
    const metrics = requested.metrics ?? new ProxyMetrics(undefined, true);
    const library = await Library.open(dataDir, {
      logger: log,
      retainDays: options.retainDays ?? undefined,
      seekIndex: options.seekIndexThresholdBytes === undefined ? undefined : { thresholdBytes: options.seekIndexThresholdBytes },
      onProgress: process.stderr.isTTY ? progressPrinter() : undefined,
    });
    stops.push(() => library.close());
    const live = new LiveHub({ logger: log });
    stops.push(async () => live.close());

    // The local cluster: only when the upstream is "local", and only reachable through the proxy.
    let localCluster: LocalCluster | undefined;
    let local: { url: string; token: string } | undefined;
    const startLocal = async () => {
      if (local) return local;
      localCluster = new LocalCluster();
      const token = newToken();
      const info = await localCluster.start({ listen: options.localListen ?? { host: '127.0.0.1', port: 0 }, token, tls: false, dataDir, log: log.child({ component: 'local-cluster' }) });
      local = { url: info.url, token };
      const cluster = localCluster;
      stops.push(() => cluster.stop());
      return local;
    };
    if (options.upstream === 'local') await startLocal();
    let upstream = await resolveUpstream(options.upstream ?? 'local', { kubeconfig: options.kubeconfig, local });

    // The recorder: embedded unless remote ones are given. It is always started, so settings can
    // switch back to it; recordings from remote proxies can reach it too.
    const recorderToken = await persistentToken(join(dataDir, 'recorder.token'));
    const recorder = new RecorderServer({
      host: options.recorderListen?.host ?? '127.0.0.1',
      port: options.recorderListen?.port ?? 0,
      store: new RecordingStore(dataDir),
      token: recorderToken,
      observer: loggedFanOut(log.child({ component: 'recorder' }), [library, live, ...(options.observers ?? [])]),
      logger: log,
    });
    const recorderUrl = await recorder.start();
    stops.push(() => recorder.stop());
    const embedded: RecorderTarget[] = [{ url: recorderUrl, token: recorderToken, local: recorder }];
    const targetsFor = (urls: string[]): RecorderTarget[] =>
      urls.length > 0 ? urls.map((url) => ({ url, token: options.recorderToken ?? null })) : embedded;

    const token = await persistentToken(join(dataDir, 'token'));
    const tls = await loadOrCreateTls(join(dataDir, 'tls'));
    const proxyListen = options.proxyListen ?? { host: '127.0.0.1', port: 0 };
    const proxy = new ProxyServer({
      host: proxyListen.host,
      port: proxyListen.port,
      tls,
      auth: { tokens: [{ token, user: osUser() }] },
      logger: log,
      metrics,
      settings: {
        upstream,
        recorders: targetsFor(options.recorders ?? []),
        policy: options.policy ?? 'fail-closed',
        recordStdin: options.recordStdin ?? false,
        spoolDir: join(dataDir, 'spool'),
        connect: {
          ackTimeoutMs: options.ackTimeoutMs ?? 5000,
          dialTimeoutMs: options.dialTimeoutMs ?? 5000,
          totalTimeoutMs: options.totalDialTimeoutMs ?? 30000,
        },
      },
    });
    const proxyUrl = await proxy.start();
    // Stopped first (stops run in reverse): sessions end and finish writing before the recorder goes.
    stops.push(() => proxy.stop());

    const kubeconfigPath = join(dataDir, 'kubeconfig');
    await writeKubeconfig(kubeconfigPath, { server: proxyUrl.replace('://0.0.0.0:', '://127.0.0.1:'), token, ca: tls.ca });

    let current: ConsoleSettings = {
      upstream: options.upstream ?? 'local',
      recorders: options.recorders ?? [],
      policy: options.policy ?? 'fail-closed',
      recordStdin: options.recordStdin ?? false,
      retainDays: options.retainDays ?? null,
      dataDir,
    };
    const status = (): ConsoleStatus => ({
      upstream: { kind: upstream.kind, name: upstream.kind === 'local' ? 'local cluster' : upstream.kind === 'context' ? (upstream.context ?? upstream.label) : upstream.url.host, url: upstream.url.href },
      policy: current.policy,
      recordStdin: current.recordStdin,
      recorders: current.recorders.length > 0 ? current.recorders : [`${recorderUrl} (embedded)`],
      retainDays: current.retainDays,
      dataDir,
      kubeconfigPath,
      kubectlCommand: kubectlExecCommand(kubeconfigPath),
      localCluster: upstream.kind === 'local',
      live: live.list().filter((s) => s.endedAt === null).length,
      version: KUBECAST_VERSION_TEXT,
    });
    /** Makes `folder` the data folder of the next start (it must be usable now, not at restart). */
    const repointDataFolder = async (folder: string): Promise<void> => {
      const pointer = options.dataFolderPointer;
      if (!pointer) throw new Error(`the data folder was given on the command line (--data or KUBECAST_DATA): change it there (it is ${dataDir})`);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      writeDataFolderPointer(pointer, folder);
    };
    const applySettings = async (update: Partial<ConsoleSettings>): Promise<SettingsResult> => {
      let restartRequired = false;
      const next = { ...current, ...update };
      // Everything that can fail comes first, so a refused change leaves nothing applied or saved.
      let nextUpstream = upstream;
      try {
        if (update.upstream !== undefined && update.upstream !== current.upstream) {
          const localNow = update.upstream === 'local' ? await startLocal() : local;
          nextUpstream = await resolveUpstream(update.upstream, { kubeconfig: options.kubeconfig, local: localNow });
        }
        if (update.dataDir !== undefined) {
          if (!isAbsolute(update.dataDir)) throw new Error(`the data folder must be an absolute path, not ${JSON.stringify(update.dataDir)}`);
          next.dataDir = resolve(update.dataDir);
        }
        if (next.dataDir !== current.dataDir) await repointDataFolder(next.dataDir);
        restartRequired = next.dataDir !== dataDir;
      } catch (err) {
        return { applied: false, restartRequired: false, error: err instanceof Error ? err.message : String(err) };
      }
      upstream = nextUpstream;
      if (update.retainDays !== undefined && update.retainDays !== current.retainDays) library.setRetention(update.retainDays);
      // New sessions pick these up; sessions in progress keep what they started with.
      proxy.settings = {
        ...proxy.settings,
        upstream,
        recorders: targetsFor(next.recorders),
        policy: next.policy,
        recordStdin: next.recordStdin,
      };
      current = next;
      await saveSettings(dataDir, next);
      // The new folder starts with these settings, unless it is a data folder with its own.
      if (next.dataDir !== dataDir && !existsSync(join(next.dataDir, 'settings.json'))) await saveSettings(next.dataDir, next);
      log.info('settings applied', { upstream: upstream.label, policy: next.policy, recorders: next.recorders, recordStdin: next.recordStdin, retainDays: next.retainDays });
      return { applied: true, restartRequired };
    };

    let consoleServer: ConsoleServer | undefined;
    if (options.console !== false) {
      const consoleToken = await persistentToken(join(dataDir, 'console.token'));
      const listen = options.consoleListen ?? { host: '127.0.0.1', port: 0 };
      consoleServer = new ConsoleServer({
        host: listen.host,
        port: listen.port,
        token: consoleToken,
        rendererDir: options.rendererDir ?? defaultRendererDir(),
        logger: log,
        backend: {
          library,
          live,
          metrics: metrics.registry,
          status,
          settings: () => current,
          applySettings,
          contexts: () => listContexts(options.kubeconfig),
        },
      });
      await consoleServer.start();
      const server = consoleServer;
      stops.push(() => server.stop());
    }

    return {
      urls: { proxy: proxyUrl, recorder: recorderUrl, local: local?.url ?? null, console: consoleServer?.urlWithToken ?? null },
      kubeconfigPath,
      dataDir,
      token,
      proxy,
      recorder,
      get localCluster() {
        return localCluster;
      },
      get upstream() {
        return upstream;
      },
      library,
      live,
      console: consoleServer,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The built renderer. The core is bundled into dist/cli.js (renderer in dist/renderer) and into
 * dist/electron/main.js (renderer one level up); under tsx it runs from src/serve.
 */
export function defaultRendererDir(here: string = __dirname): string {
  const candidates = [join(here, 'renderer')];
  // Only from those two places: one level up from dist/ would be the unbuilt renderer/ sources.
  if (basename(here) === 'electron') candidates.push(join(here, '..', 'renderer'));
  if (basename(here) === 'serve') candidates.push(join(here, '..', '..', 'dist', 'renderer'));
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

declare const KUBECAST_VERSION: string;
const KUBECAST_VERSION_TEXT = typeof KUBECAST_VERSION === 'string' ? KUBECAST_VERSION : 'dev';
