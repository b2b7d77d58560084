// LocalCluster: an HTTP server that plays a Kubernetes API server + kubelet for exec, attach, cp,
// logs and `get pods`, whose pods are local processes. Used standalone (`kubecast local-cluster`),
// as `serve`'s default upstream, and by every integration test as the far end of a real kubectl.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../util/log';
import { handleApiRequest, sendError, type ApiContext } from './api';
import { MainProcesses, type MainProcessStatus } from './attach';
import { bearerAuthorized, checkListenPolicy } from './auth';
import { ProcessTracker, type ContainerContext, type SessionDeps } from './container';
import { ExecSession } from './exec';
import { negotiateStreamProtocol, offeredStreamProtocols, serveSpdy } from './exec-spdy';
import { offeredWsSubprotocols, pickWsSubprotocol, WsStreamServer, WS_SUBPROTOCOLS } from './exec-ws';
import { defaultPods, MAX_PODS_FILE_BYTES, parsePodsFile, PodSet, PodsFileError, type PodSpec } from './pods';
import type { ContainerSession, SessionOutput } from './session';
import { ApiError, badRequest, unauthorized } from './status';
import { resolveStreamRequest, isStreamPath } from './stream-request';

export interface ListenAddress {
  host: string;
  /** 0 = any free port. */
  port: number;
}

export interface LocalClusterOptions {
  /** Default 127.0.0.1:0. A non-loopback host needs a token. */
  listen?: ListenAddress;
  /** Bearer token every request must carry (`Authorization: Bearer …`). */
  token?: string;
  /** A pods file (see parsePodsFile) replacing the default pods. */
  podsFile?: string;
  /** Pods given directly (tests, embedding); replaces the defaults; ignored when podsFile is set. */
  pods?: PodSpec[];
  /** Data folder: containers work in DATA/local-cluster/<namespace>/<pod>/<container>. */
  dataDir: string;
  /** Extra environment for every container process (tests mark their processes with it). */
  env?: Record<string, string>;
  log?: Logger;
}

export interface LocalClusterInfo {
  /** http://HOST:PORT, what a kubeconfig's `server` points at. */
  url: string;
  host: string;
  port: number;
}

/** One accepted exec/attach connection (kept for tests and diagnostics; the last 1000). */
export interface SessionRecord {
  transport: 'spdy' | 'websocket';
  /** Negotiated subprotocol, e.g. v4.channel.k8s.io. */
  protocol: string;
  kind: 'exec' | 'attach';
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
}

const MAX_SESSION_RECORDS = 1000;

export class LocalCluster {
  private readonly records: SessionRecord[] = [];
  private server: Server | null = null;
  private wsServer: WsStreamServer | null = null;
  private readonly upgraded = new Set<Duplex>();
  private readonly tracker = new ProcessTracker();
  private mains: MainProcesses | null = null;
  private pods: PodSet | null = null;
  private info: LocalClusterInfo | null = null;
  private log: Logger = silentLogger;
  private token: string | undefined;
  private stopping: Promise<void> | null = null;

  /** Loads the pods, listens, and resolves with the URL once the port is bound. An instance starts once. */
  async start(options: LocalClusterOptions): Promise<LocalClusterInfo> {
    if (this.server || this.stopping) throw new Error('LocalCluster.start: an instance starts once');
    const listen = options.listen ?? { host: '127.0.0.1', port: 0 };
    checkListenPolicy(listen.host, options.token);
    if (options.token !== undefined && options.token.length === 0) throw new Error('LocalCluster.start: the token must not be empty');
    this.token = options.token;
    this.log = (options.log ?? silentLogger).child({ component: 'local-cluster' });
    this.pods = new PodSet(options.podsFile ? await loadPodsFile(options.podsFile) : (options.pods ?? defaultPods()));

    const context: ContainerContext = { dataDir: options.dataDir, extraEnv: { ...options.env } };
    const deps: SessionDeps = { context, tracker: this.tracker, log: this.log };
    this.mains = new MainProcesses(deps);
    const apiContext: ApiContext = { pods: this.pods, mains: this.mains, startedAt: new Date() };
    const wsServer = new WsStreamServer();
    this.wsServer = wsServer;

    const server = createServer((req, res) => this.onRequest(req, res, apiContext));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head, deps));
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listen.port, listen.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      wsServer.close();
      throw err;
    }
    this.server = server;
    server.on('error', (err) => this.log.error('server error', { err }));
    const address = server.address() as AddressInfo;
    const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.info = { url: `http://${hostForUrl}:${address.port}`, host: address.address, port: address.port };
    this.log.info('local cluster listening', { url: this.info.url, pods: this.pods.pods.map((p) => `${p.namespace}/${p.name}`) });
    return this.info;
  }

  get url(): string {
    if (!this.info) throw new Error('LocalCluster: not started');
    return this.info.url;
  }

  /** The pods being served. */
  get podSpecs(): PodSpec[] {
    return this.pods?.pods ?? [];
  }

  /** State of a container's main process (what attach joins). */
  mainProcess(namespace: string, pod: string, container: string): MainProcessStatus | null {
    const spec = this.pods?.get(namespace, pod);
    const containerSpec = spec?.containers.find((c) => c.name === container);
    if (!spec || !containerSpec || !this.mains) return null;
    return this.mains.status(spec, containerSpec);
  }

  /** Processes started and not yet reaped (exec sessions in progress + running main processes). */
  get liveProcessCount(): number {
    return this.tracker.size;
  }

  /** exec/attach connections accepted so far, oldest first (the last 1000). */
  get sessions(): readonly SessionRecord[] {
    return this.records;
  }

  private record(entry: SessionRecord): void {
    this.records.push(entry);
    if (this.records.length > MAX_SESSION_RECORDS) this.records.shift();
  }

  /** Open exec/attach connections. */
  get connectionCount(): number {
    return this.upgraded.size;
  }

  /** Stops listening, ends every connection, and kills every process group it started. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
    this.wsServer?.close();
    await this.tracker.killAll();
    await closed;
    this.log.info('local cluster stopped');
  }

  private authorized(req: IncomingMessage): boolean {
    return bearerAuthorized(req.headers.authorization, this.token);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void {
    res.on('error', () => {});
    if (!this.authorized(req)) {
      sendError(res, unauthorized());
      return;
    }
    handleApiRequest(req, res, ctx);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: SessionDeps): void {
    // Until a transport takes over, a socket error must not become an unhandled 'error' event.
    socket.on('error', () => socket.destroy());
    if (this.stopping) {
      socket.destroy();
      return;
    }
    try {
      if (!this.authorized(req)) throw unauthorized();
      const url = new URL(req.url ?? '/', 'http://local');
      if (!isStreamPath(url.pathname)) {
        if (/\/portforward$/.test(url.pathname)) throw badRequest('port-forward is not supported by the kubecast local cluster');
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      const resolved = resolveStreamRequest(url, this.pods!);
      if (resolved instanceof ApiError) throw resolved;
      const { request, pod, container } = resolved;
      const createSession = (output: SessionOutput): ContainerSession =>
        request.kind === 'exec' ? new ExecSession(request, pod, container, output, deps) : this.mains!.attach(request, pod, container, output);
      const log = this.log.child({ kind: request.kind, namespace: request.namespace, pod: request.pod, container: request.container, session: req.headers['kubectl-session'] });
      const track = () => {
        this.upgraded.add(socket);
        return () => this.upgraded.delete(socket);
      };

      const upgradeHeader = String(req.headers.upgrade ?? '').toLowerCase();
      if (upgradeHeader === 'websocket') {
        if (!pickWsSubprotocol(offeredWsSubprotocols(req))) {
          throw badRequest(`unable to upgrade: the WebSocket subprotocol must be one of ${WS_SUBPROTOCOLS.join(', ')}`);
        }
        const untrack = track();
        const protocol = pickWsSubprotocol(offeredWsSubprotocols(req))!;
        this.record({ transport: 'websocket', protocol, kind: request.kind, namespace: request.namespace, pod: request.pod, container: request.container, command: request.command, tty: request.tty });
        this.wsServer!.handleUpgrade({ req, socket, head, request, createSession, log, onClose: untrack });
        return;
      }
      if (upgradeHeader.includes('spdy/3.1')) {
        if (!String(req.headers.connection ?? '').toLowerCase().includes('upgrade')) throw badRequest('unable to upgrade: missing upgrade headers in request');
        const negotiated = negotiateStreamProtocol(offeredStreamProtocols(req.rawHeaders));
        const untrack = track();
        this.record({ transport: 'spdy', protocol: negotiated.protocol, kind: request.kind, namespace: request.namespace, pod: request.pod, container: request.container, command: request.command, tty: request.tty });
        serveSpdy({ socket, head, request, negotiated, createSession, log, onClose: untrack });
        return;
      }
      throw badRequest(`unable to upgrade: unsupported protocol ${JSON.stringify(upgradeHeader)} (expected SPDY/3.1 or websocket)`);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
      if (!(err instanceof ApiError)) this.log.error('upgrade failed', { err });
      rejectUpgrade(socket, apiError);
    }
  }
}

/** An HTTP error response written on a socket whose request asked for an upgrade. */
function rejectUpgrade(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.toStatus());
  const headers = [
    `HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...err.headers.map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

async function loadPodsFile(path: string): Promise<PodSpec[]> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new PodsFileError(`pods file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (size > MAX_PODS_FILE_BYTES) throw new PodsFileError(`pods file ${path}: larger than ${MAX_PODS_FILE_BYTES} bytes`);
  return parsePodsFile(await readFile(path, 'utf8'), `pods file ${path}`);
}
