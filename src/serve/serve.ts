// `kubecast serve`: the local cluster, the recorder and the proxy together, as the desktop app
// runs them. Everything listens on loopback unless told otherwise.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
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
import { writeKubeconfig } from './kubeconfig';
import { persistentToken } from './secrets';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServeOptions {
  dataDir: string;
  /** local | current | context:NAME | URL */
  upstream: string;
  kubeconfig?: string;
  proxyListen?: ListenAddress;
  recorderListen?: ListenAddress;
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
  urls: { proxy: string; recorder: string | null; local: string | null };
  kubeconfigPath: string;
  dataDir: string;
  /** The proxy token in DATA/kubeconfig (never shown to a renderer). */
  token: string;
  proxy: ProxyServer;
  recorder: RecorderServer | undefined;
  localCluster: LocalCluster | undefined;
  upstream: Upstream;
  stop(): Promise<void>;
}

export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const log = options.logger ?? silentLogger;
  const dataDir = options.dataDir;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => log.error('stop failed', { error: err instanceof Error ? err.message : String(err) }));
  };
  try {
    // The local cluster: only when the upstream is "local", and only reachable through the proxy.
    let localCluster: LocalCluster | undefined;
    let local: { url: string; token: string } | undefined;
    if (options.upstream === 'local') {
      localCluster = new LocalCluster();
      const token = newToken();
      const info = await localCluster.start({ listen: options.localListen ?? { host: '127.0.0.1', port: 0 }, token, tls: false, dataDir, log: log.child({ component: 'local-cluster' }) });
      local = { url: info.url, token };
      stops.push(() => localCluster!.stop());
    }
    const upstream = await resolveUpstream(options.upstream, { kubeconfig: options.kubeconfig, local });

    // The recorder: embedded unless remote ones are given.
    let recorder: RecorderServer | undefined;
    let recorders: RecorderTarget[];
    if (options.recorders && options.recorders.length > 0) {
      recorders = options.recorders.map((url) => ({ url, token: options.recorderToken ?? null }));
    } else {
      const recorderToken = await persistentToken(join(dataDir, 'recorder.token'));
      recorder = new RecorderServer({
        host: options.recorderListen?.host ?? '127.0.0.1',
        port: options.recorderListen?.port ?? 0,
        store: new RecordingStore(dataDir),
        token: recorderToken,
        observer: fanOut(options.observers ?? []),
        logger: log,
      });
      const url = await recorder.start();
      stops.push(() => recorder!.stop());
      recorders = [{ url, token: recorderToken, local: recorder }];
    }

    const token = await persistentToken(join(dataDir, 'token'));
    const tls = await loadOrCreateTls(join(dataDir, 'tls'));
    const proxyListen = options.proxyListen ?? { host: '127.0.0.1', port: 0 };
    const proxy = new ProxyServer({
      host: proxyListen.host,
      port: proxyListen.port,
      tls,
      auth: { tokens: [{ token, user: osUser() }] },
      logger: log,
      metrics: options.metrics,
      settings: {
        upstream,
        recorders,
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

    return {
      urls: { proxy: proxyUrl, recorder: recorder?.address ?? null, local: local?.url ?? null },
      kubeconfigPath,
      dataDir,
      token,
      proxy,
      recorder,
      localCluster,
      upstream,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** One observer that forwards to several; one failing observer never breaks ingestion. */
export function fanOut(observers: IngestObserver[]): IngestObserver | undefined {
  if (observers.length === 0) return undefined;
  if (observers.length === 1) return observers[0];
  const each = (fn: (o: IngestObserver) => void) => {
    for (const observer of observers) {
      try {
        fn(observer);
      } catch {
        // An observer's bug must not stop the recording from being stored.
      }
    }
  };
  return {
    started: (recording) => each((o) => o.started(recording)),
    lines: (id, lines) => each((o) => o.lines(id, lines)),
    ended: (id, outcome) => each((o) => o.ended(id, outcome)),
  };
}
