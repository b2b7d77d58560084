// LocalCluster: an HTTP(S) server that plays a Kubernetes API server + kubelet for exec, attach, cp,
// logs and `get pods`, whose pods are local processes. Used standalone (`kubecast local-cluster`),
// as `serve`'s default upstream, and by every integration test as the far end of a real kubectl.
//
// Transport: plain http without a token; https with a token (kubectl sends bearer tokens only over
// TLS), with a local CA kept in DATA/local-cluster/tls/ that LocalClusterInfo.ca hands to the
// kubeconfig. An embedding caller that talks to it itself can ask for http with a token (`tls: false`).
import { lookup } from 'node:dns/promises';
import { readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../util/log';
import { loadOrCreateTls, type TlsMaterial } from '../util/tls';
import { handleApiRequest, sendError, type ApiContext } from './api';
import { MainProcesses, type MainProcessStatus } from './attach';
import { bearerAuthorized, checkListenPolicy } from './auth';
import { ProcessTracker, type ContainerContext, type SessionDeps } from './container';
import { ExecSession } from './exec';
import { negotiateStreamProtocol, offeredStreamProtocols, serveSpdy } from './exec-spdy';
import { offeredWsSubprotocols, pickWsSubprotocol, WsStreamServer, WS_SUBPROTOCOLS } from './exec-ws';
import { defaultPods, MAX_PODS_FILE_BYTES, parsePodsFile, PodSet, PodsFileError, type PodSpec } from './pods';
import type { ContainerSession, SessionOutput, StreamRequest } from './session';
import { ApiError, badRequest, internalError, unauthorized } from './status';
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
  /**
   * Serve https (certificate in DATA/local-cluster/tls/, signed by a local CA: LocalClusterInfo.ca).
   * Default: on when a token is set, because kubectl sends bearer tokens only over TLS; off otherwise.
   * `tls: false` with a token is for an embedding caller that is the only client and sets the
   * Authorization header itself over loopback (kubecast serve's recording proxy); it is refused on a
   * non-loopback address, where the token would cross the network in clear text.
   */
  tls?: boolean;
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
  /** http(s)://HOST:PORT, what a kubeconfig's `server` points at (loopback when listening on all addresses). */
  url: string;
  /** The bound address. */
  host: string;
  port: number;
  /** With https: PEM of the CA that signed the server certificate, for kubeconfig `certificate-authority-data`. */
  ca?: string;
}

/** One accepted exec/attach connection (kept for tests and diagnostics; the last 1000). */
export interface SessionRecord extends Pick<StreamRequest, 'kind' | 'namespace' | 'pod' | 'container' | 'command' | 'tty'> {
  transport: 'spdy' | 'websocket';
  /** Negotiated subprotocol, e.g. v4.channel.k8s.io. */
  protocol: string;
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
    const useTls = options.tls ?? options.token !== undefined;
    checkListenPolicy(listen.host, options.token, useTls);
    if (options.token !== undefined && options.token.length === 0) throw new Error('LocalCluster.start: the token must not be empty');
    this.token = options.token;
    this.log = (options.log ?? silentLogger).child({ component: 'local-cluster' });
    this.pods = new PodSet(options.podsFile ? await loadPodsFile(options.podsFile) : (options.pods ?? defaultPods()));
    const tls = useTls ? await prepareTls(join(options.dataDir, 'local-cluster', 'tls'), listen.host) : undefined;

    const context: ContainerContext = { dataDir: options.dataDir, extraEnv: { ...options.env } };
    const deps: SessionDeps = { context, tracker: this.tracker, log: this.log };
    this.mains = new MainProcesses(deps);
    const apiContext: ApiContext = { pods: this.pods, mains: this.mains, startedAt: new Date() };
    const wsServer = new WsStreamServer();
    this.wsServer = wsServer;

    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, apiContext);
    const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createHttpServer(onRequest);
    // A failed handshake (a client that does not trust the CA, plain http to the https port) is the client's problem.
    if (tls) server.on('tlsClientError', (err: Error) => this.log.debug('TLS handshake failed', { err }));
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
    this.info = { url: `${tls ? 'https' : 'http'}://${urlHost(address)}:${address.port}`, host: address.address, port: address.port, ...(tls ? { ca: tls.ca } : {}) };
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

  private record(transport: SessionRecord['transport'], protocol: string, request: StreamRequest): void {
    const { kind, namespace, pod, container, command, tty } = request;
    this.records.push({ transport, protocol, kind, namespace, pod, container, command, tty });
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
        this.record('websocket', protocol, request);
        this.wsServer!.handleUpgrade({ req, socket, head, request, createSession, log, onClose: untrack });
        return;
      }
      if (upgradeHeader.includes('spdy/3.1')) {
        if (!String(req.headers.connection ?? '').toLowerCase().includes('upgrade')) throw badRequest('unable to upgrade: missing upgrade headers in request');
        const negotiated = negotiateStreamProtocol(offeredStreamProtocols(req.rawHeaders));
        const untrack = track();
        this.record('spdy', negotiated.protocol, request);
        serveSpdy({ socket, head, request, negotiated, createSession, log, onClose: untrack });
        return;
      }
      throw badRequest(`unable to upgrade: unsupported protocol ${JSON.stringify(upgradeHeader)} (expected SPDY/3.1 or websocket)`);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : internalError(err);
      if (!(err instanceof ApiError)) this.log.error('upgrade failed', { err });
      rejectUpgrade(socket, apiError);
    }
  }
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

/** The host part of the URL kubectl is given: a wildcard bind is reached over loopback. */
function urlHost(address: AddressInfo): string {
  if (isUnspecified(address.address)) return address.family === 'IPv6' ? '[::1]' : '127.0.0.1';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/** The certificate folder cannot be read or written (a setup problem, not a bug). */
export class TlsSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsSetupError';
  }
}

/** The CA and server certificate in `dir`, created or renewed as needed. */
async function prepareTls(dir: string, listenHost: string): Promise<TlsMaterial> {
  try {
    return await loadOrCreateTls(dir, await certificateNames(listenHost));
  } catch (err) {
    throw new TlsSetupError(`cannot prepare the TLS certificate in ${dir}: ${(err as Error).message}`);
  }
}

// A certificate may only name valid DNS names; anything else (an odd hostname) is left out.
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Names the server certificate must cover besides loopback (which it always covers): the listen
 * host and what it resolves to (the URL shows the bound address); for a wildcard bind, this
 * machine's name and addresses, which other machines would use.
 */
async function certificateNames(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  const names: string[] = [];
  if (isUnspecified(bare)) {
    names.push(hostname());
    for (const entries of Object.values(networkInterfaces())) {
      for (const entry of entries ?? []) if (!entry.internal && !entry.address.toLowerCase().startsWith('fe80:')) names.push(entry.address);
    }
  } else {
    names.push(bare);
    if (isIP(bare) === 0) names.push(...(await lookup(bare, { all: true }).catch(() => [])).map((a) => a.address));
  }
  return [...new Set(names)].filter((name) => isIP(name) !== 0 || DNS_NAME.test(name));
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
