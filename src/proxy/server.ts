// The recording proxy: an HTTPS (or, for tests and trusted loopback setups, HTTP) server in front
// of an API server. Every request is authenticated with the proxy's bearer token and forwarded
// with the upstream's credentials; exec/attach upgrades are recorded (session.ts).
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { httpStatus } from '../protocol/channel';
import type { TlsMaterial } from '../util/tls';
import { silentLogger, type Logger } from '../util/log';
import { authenticate, type ProxyAuth } from './identity';
import { ProxyMetrics } from './metrics';
import { closeSpooledRecordings, deliverLeftoverSpools } from './recording';
import { classify, requestTargetProblem } from './routes';
import { handleSessionUpgrade, respondStatus, responseHead, unrecordableRouteMessage, type SessionSettings } from './session';

export interface ProxyServerOptions {
  host: string;
  port: number;
  /** Serve https with this certificate (kubectl only sends tokens over TLS). */
  tls?: TlsMaterial;
  auth: ProxyAuth;
  settings: SessionSettings;
  logger?: Logger;
  metrics?: ProxyMetrics;
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'authorization', 'proxy-authorization']);

export class ProxyServer {
  readonly metrics: ProxyMetrics;
  private readonly log: Logger;
  private readonly server: Server;
  /** Sessions being relayed: `done` (settles once one ended and its recording was delivered) → `stop`. */
  private readonly sessions = new Map<Promise<void>, (message: string) => void>();
  /** Every TCP connection (cut at the end of stop). */
  private readonly sockets = new Set<Duplex>();
  /** The sockets requests are read from: with https the TLS sockets over those connections. */
  private readonly served = new Set<Duplex>();
  private url: string | undefined;
  settings: SessionSettings;

  constructor(private readonly options: ProxyServerOptions) {
    this.settings = options.settings;
    this.log = (options.logger ?? silentLogger).child({ component: 'proxy' });
    this.metrics = options.metrics ?? new ProxyMetrics();
    this.server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head));
    this.server.on('connection', (socket: Duplex) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on(options.tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
      this.served.add(socket);
      socket.on('close', () => this.served.delete(socket));
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
    // watch and logs -f stream for as long as they like.
    this.server.requestTimeout = 0;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `${this.options.tls ? 'https' : 'http'}://${host}:${address.port}`;
    // Recordings an earlier run could not deliver (fail-open gap at shutdown or crash).
    deliverLeftoverSpools({ spoolDir: this.settings.spoolDir, targets: this.settings.recorders, connect: this.settings.connect, log: this.log });
    return this.url;
  }

  get address(): string | undefined {
    return this.url;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting; sessions in progress are ended with a message kubectl prints (not a bare close,
   * which kubectl 1.27 takes for a successful end) and their recordings finish writing (bounded wait).
   */
  async stop(graceMs = 5000): Promise<void> {
    this.server.close();
    const pending = Promise.allSettled([...this.sessions.keys()]);
    for (const stop of [...this.sessions.values()]) stop('kubecast: session ended: the kubecast proxy is shutting down');
    // Ended where requests are read: ending the TCP socket under a TLS socket would cut off TLS
    // records still being written (a session's final Status and close).
    for (const socket of this.served) socket.end();
    const deadline = Date.now() + graceMs;
    const until = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
    await Promise.race([pending, until(graceMs)]);
    // Recordings still waiting for a recorder (fail-open gap) stay in their spool for the next run.
    closeSpooledRecordings(this.settings.spoolDir);
    // Let kubectl read the end of its session and close first (destroying at once would drop the
    // message still on its way); then cut what is left.
    const closed = Promise.all([...this.sockets].map((socket) => new Promise((resolve) => (socket.destroyed ? resolve(null) : socket.once('close', resolve)))));
    await Promise.race([closed, until(Math.min(1000, deadline - Date.now()))]);
    for (const socket of this.sockets) socket.destroy();
  }

  private user(req: IncomingMessage): string | undefined {
    return authenticate(req, this.options.auth);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => {});
    const badTarget = requestTargetProblem(req.url);
    if (badTarget) {
      sendStatus(res, 400, 'BadRequest', `kubecast: ${badTarget}`);
      return;
    }
    const user = this.user(req);
    if (!user) {
      sendStatus(res, 401, 'Unauthorized', 'Unauthorized: kubecast proxy token missing or wrong');
      return;
    }
    const route = classify(req.url!, false);
    if (route.kind === 'shell-capable') {
      // nodes/{node}/proxy: the kubelet API can run commands in any container without an upgrade.
      if (this.settings.policy === 'fail-closed') {
        this.metrics.refused.inc({ type: route.label ?? 'request', reason: 'unrecordable-route' });
        this.log.warn('request refused: route cannot be recorded (fail-closed)', { path: route.normalized, method: req.method, user });
        sendStatus(res, 403, 'Forbidden', unrecordableRouteMessage(route));
        return;
      }
      this.metrics.unrecorded.inc({ type: route.label ?? 'request', reason: 'unrecordable-route' });
      this.log.warn('request passed through unrecorded (fail-open)', { path: route.normalized, method: req.method, user });
    }
    void this.forward(req, res);
  }

  /** Any non-upgrade request: forwarded unchanged, responses streamed (watch, logs -f). */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const upstream = this.settings.upstream;
    let options;
    try {
      options = await upstream.requestOptions();
    } catch (err) {
      sendStatus(res, 502, 'ServiceUnavailable', `kubecast cannot authenticate to ${upstream.label}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    headers.host = upstream.url.host;
    Object.assign(headers, options.headers);
    const base = upstream.url.pathname.replace(/\/$/, '');
    const common = {
      host: upstream.url.hostname.replace(/^\[|\]$/g, ''),
      port: upstream.url.port || (upstream.url.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: base + (req.url ?? '/'),
      headers,
    };
    const upReq = upstream.url.protocol === 'https:' ? httpsRequest({ ...common, ...options.tls }) : httpRequest(common);
    upReq.on('response', (upRes) => {
      const out: string[] = [];
      for (let i = 0; i + 1 < upRes.rawHeaders.length; i += 2) {
        if (!HOP_HEADERS.has(upRes.rawHeaders[i].toLowerCase())) out.push(upRes.rawHeaders[i], upRes.rawHeaders[i + 1]);
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      res.flushHeaders();
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    upReq.on('error', (err) => {
      if (!res.headersSent) sendStatus(res, 502, 'ServiceUnavailable', `kubecast cannot reach ${upstream.label}: ${err.message}`);
      else res.destroy();
    });
    res.on('close', () => upReq.destroy());
    req.pipe(upReq);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    // One id from the first line to the last, so every line of a session (recorded or not) greps together.
    const log = this.log.child({ session: randomUUID() });
    const badTarget = requestTargetProblem(req.url);
    if (badTarget) {
      this.metrics.refused.inc({ type: 'upgrade', reason: 'bad-request-target' });
      log.warn('upgrade refused: bad request target', { target: req.url?.slice(0, 200), error: badTarget });
      respondStatus(socket, httpStatus(400, 'BadRequest', `kubecast: ${badTarget}`));
      return;
    }
    const user = this.user(req);
    if (!user) {
      respondStatus(socket, httpStatus(401, 'Unauthorized', 'Unauthorized: kubecast proxy token missing or wrong'));
      return;
    }
    const route = classify(req.url!, true);
    if (route.kind === 'session') {
      await handleSessionUpgrade(req, socket, head, route, user, {
        settings: this.settings,
        log,
        metrics: this.metrics,
        track: (done, stop) => {
          this.sessions.set(done, stop);
          void done.finally(() => this.sessions.delete(done));
        },
      }).catch((err: unknown) => {
        log.error('session failed', { error: err instanceof Error ? err.message : String(err) });
        socket.destroy();
      });
      return;
    }
    if (this.settings.policy === 'fail-closed') {
      this.metrics.refused.inc({ type: route.label ?? 'upgrade', reason: 'unrecordable-route' });
      log.warn('upgrade refused: route cannot be recorded (fail-closed)', { path: route.normalized, user });
      respondStatus(socket, httpStatus(403, 'Forbidden', unrecordableRouteMessage(route)));
      return;
    }
    this.metrics.unrecorded.inc({ type: route.label ?? 'upgrade', reason: 'unrecordable-route' });
    log.warn('upgrade passed through unrecorded (fail-open)', { path: route.normalized, user });
    await this.passThroughUpgrade(req, socket, head);
  }

  /** Relays an upgrade that is not recorded (fail-open): bytes both ways, nothing parsed. */
  private async passThroughUpgrade(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const upstream = this.settings.upstream;
    let options;
    try {
      options = await upstream.requestOptions();
    } catch (err) {
      // onUpgrade's promise is not awaited: a rejection here would be unhandled and end the process.
      respondStatus(client, httpStatus(502, 'ServiceUnavailable', `kubecast cannot authenticate to ${upstream.label}: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    const headers: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      if (name !== 'authorization' && name !== 'host') headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    headers.push('Host', upstream.url.host);
    for (const [name, value] of Object.entries(options.headers)) headers.push(name, value);
    const common = {
      host: upstream.url.hostname.replace(/^\[|\]$/g, ''),
      port: upstream.url.port || (upstream.url.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: upstream.url.pathname.replace(/\/$/, '') + (req.url ?? '/'),
      headers,
      agent: false as const,
      setHost: false,
    };
    const upReq = upstream.url.protocol === 'https:' ? httpsRequest({ ...common, ...options.tls }) : httpRequest(common);
    upReq.on('upgrade', (res, upstreamSocket, upstreamHead) => {
      upstreamSocket.on('error', () => client.destroy());
      client.write(responseHead(res));
      if (upstreamHead.byteLength) client.write(upstreamHead);
      if (head.byteLength) upstreamSocket.write(head);
      upstreamSocket.pipe(client).pipe(upstreamSocket);
    });
    upReq.on('response', (res) => {
      client.write(responseHead(res));
      res.pipe(client);
    });
    upReq.on('error', (err) => respondStatus(client, httpStatus(502, 'ServiceUnavailable', `kubecast cannot reach ${upstream.label}: ${err.message}`)));
    upReq.end();
  }
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  const body = JSON.stringify(httpStatus(code, reason, message));
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
