// The console: the JSON API the UI depends on (DESIGN.md "Console API"), the live WebSocket, the
// renderer bundle, /metrics and /healthz — on loopback, token-protected. The same UI runs in the
// Electron window and in a browser, because this API is its only source.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Registry } from 'prom-client';
import type { LiveHub } from '../live/hub';
import { serveLiveSocket } from '../live/socket';
import { LibraryQueryError, RecordingLiveError, RecordingNotFoundError, type Library, type ListQuery } from '../store/library';
import { playerIndex } from '../store/seek-index';
import { isRecordingId } from '../util/ids';
import { silentLogger, type Logger } from '../util/log';
import { sameSecret } from '../util/secret';
import { isLoopbackHost } from '../util/loopback';
import type { ConsoleSettings, ConsoleStatus, ContextInfo, SettingsResult } from './types';

export interface ConsoleBackend {
  library: Library;
  live: LiveHub;
  metrics: Registry;
  status(): ConsoleStatus;
  settings(): ConsoleSettings;
  applySettings(update: Partial<ConsoleSettings>): Promise<SettingsResult>;
  contexts(): Promise<ContextInfo[]>;
}

export interface ConsoleServerOptions {
  host: string;
  port: number;
  token: string;
  backend: ConsoleBackend;
  /** The built renderer (dist/renderer); a placeholder page is served when it is missing. */
  rendererDir: string;
  logger?: Logger;
}

/** The HttpOnly cookie that carries the console token (the Electron shell sets it before loading). */
export const CONSOLE_COOKIE = 'kubecast_console';
const COOKIE = CONSOLE_COOKIE;
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  // asciinema-player compiles its terminal emulator from inline WebAssembly.
  "script-src 'self' 'wasm-unsafe-eval'",
  // xterm.js injects <style> elements; scripts stay strict.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.json': 'application/json',
};

/** The console was asked to listen on a non-loopback address. */
export class ConsoleListenError extends Error {
  constructor(host: string) {
    super(`the console listens on loopback only (plain HTTP, recordings behind one token); ${host} is not a loopback address: use 127.0.0.1 or localhost`);
    this.name = 'ConsoleListenError';
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ConsoleServer {
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly log: Logger;
  private readonly sse = new Set<ServerResponse>();
  private unsubscribeLive: (() => void) | undefined;
  private port = 0;
  private url: string | undefined;

  constructor(private readonly options: ConsoleServerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'console' });
    this.server = createServer((req, res) => {
      res.on('error', () => {});
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  async start(): Promise<string> {
    // Plain HTTP with recordings behind one token: loopback only, by contract (DESIGN.md).
    if (!isLoopbackHost(this.options.host)) throw new ConsoleListenError(this.options.host);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.port = address.port;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${this.port}`;
    this.unsubscribeLive = this.options.backend.live.onChange((change) => {
      const data = `event: live\ndata: ${JSON.stringify(change)}\n\n`;
      for (const res of this.sse) res.write(data);
    });
    return this.url;
  }

  /** The URL a person opens: it carries the token once; the page then keeps it as an HttpOnly cookie. */
  get urlWithToken(): string {
    return `${this.url}/?token=${encodeURIComponent(this.options.token)}`;
  }

  get address(): string | undefined {
    return this.url;
  }

  async stop(): Promise<void> {
    this.unsubscribeLive?.();
    for (const res of this.sse) res.end();
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- request handling ------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.hostAllowed(req)) throw new HttpError(403, 'this console answers only to loopback host names');
    // Dot segments and encoded slashes or dots have no business here: refuse them before any
    // normalisation could turn them into another path.
    if (hasPathTricks(req.url)) throw new HttpError(400, 'bad path');
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
      return;
    }
    // First visit with ?token=…: keep it as an HttpOnly cookie and drop it from the address bar.
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && req.method === 'GET' && !path.startsWith('/api/')) {
      if (!sameSecret(queryToken, this.options.token)) throw new HttpError(401, 'wrong console token');
      url.searchParams.delete('token');
      res.writeHead(302, {
        location: url.pathname + (url.search || ''),
        'set-cookie': `${COOKIE}=${encodeURIComponent(this.options.token)}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    if (path.startsWith('/api/') || path === '/metrics') {
      if (!this.authorized(req)) throw new HttpError(401, 'unauthorized: open the console URL with its token, or send Authorization: Bearer TOKEN');
      if (req.method !== 'GET' && req.method !== 'HEAD' && !this.sameOrigin(req)) throw new HttpError(403, 'cross-origin requests are not accepted');
      if (path === '/metrics') return this.metrics(res);
      return this.api(req, res, url);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    // Pages need the token too: without it the console shows nothing about the recordings.
    if (!this.authorized(req)) return this.sendLoginHint(res);
    return this.staticFile(res, path);
  }

  private hostAllowed(req: IncomingMessage): boolean {
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example.
    const host = (req.headers.host ?? '').toLowerCase();
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (!match) return false;
    const name = match[1];
    const port = match[2] === undefined ? 80 : Number(match[2]);
    const loopbackName = name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
    return loopbackName && port === this.port;
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (typeof header === 'string' && /^Bearer\s+/i.test(header)) return sameSecret(header.replace(/^Bearer\s+/i, '').trim(), this.options.token);
    const cookie = parseCookies(req.headers.cookie)[COOKIE];
    return cookie !== undefined && sameSecret(cookie, this.options.token);
  }

  /** State-changing requests must come from the console's own pages (or a non-browser client). */
  private sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      const parsed = new URL(origin);
      return parsed.port === String(this.port) && (parsed.hostname === 'localhost' || parsed.hostname === '[::1]' || /^127\./.test(parsed.hostname));
    } catch {
      return false;
    }
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const { library, live } = this.options.backend;
    const parts = url.pathname.split('/').filter(Boolean); // ['api', ...]
    const method = req.method ?? 'GET';
    const route = parts.slice(1);

    if (route[0] === 'live' && route.length === 1 && method === 'GET') return sendJson(res, 200, { items: live.list() });
    if (route[0] === 'events' && route.length === 1 && method === 'GET') return this.events(req, res);
    if (route[0] === 'status' && route.length === 1 && method === 'GET') return sendJson(res, 200, this.options.backend.status());
    if (route[0] === 'contexts' && route.length === 1 && method === 'GET') {
      // An unreadable kubeconfig is not a failed request: the panel lists nothing and says why.
      try {
        return sendJson(res, 200, { items: await this.options.backend.contexts() });
      } catch (err) {
        return sendJson(res, 200, { items: [], error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (route[0] === 'settings' && route.length === 1) {
      if (method === 'GET') return sendJson(res, 200, this.options.backend.settings());
      if (method === 'PUT') {
        const body = await readJson(req, 64 * 1024);
        const result = await this.options.backend.applySettings(validateSettings(body));
        return sendJson(res, 200, result);
      }
      throw new HttpError(405, 'method not allowed');
    }
    if (route[0] === 'recordings') {
      if (route.length === 1 && method === 'GET') return sendJson(res, 200, library.list(listQuery(url.searchParams)));
      const id = route[1];
      // Ids are validated before anything touches the disk; no part of a request becomes a path.
      if (!isRecordingId(id)) throw new HttpError(route.length > 3 ? 404 : 400, 'not a recording id');
      if (route.length === 2) {
        if (method === 'GET') {
          const recording = library.get(id);
          if (!recording) throw new HttpError(404, 'no such recording');
          return sendJson(res, 200, recording);
        }
        if (method === 'DELETE') {
          const deleted = await library.delete(id);
          if (!deleted) throw new HttpError(404, 'no such recording');
          return sendJson(res, 200, { deleted: true });
        }
        throw new HttpError(405, 'method not allowed');
      }
      if (route.length === 3 && route[2] === 'cast' && method === 'GET') return this.cast(req, res, id);
      if (route.length === 3 && route[2] === 'index' && method === 'GET') return this.seekIndex(res, id, url.searchParams);
      if (route.length === 4 && route[2] === 'segments' && method === 'GET') return this.seekSegment(res, id, route[3]);
      if (route.length === 3 && route[2] === 'text' && method === 'GET') {
        if (!library.castPath(id)) throw new HttpError(404, 'no such recording');
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'content-disposition': `inline; filename="kubecast-${id}.txt"` });
        await library.writeTranscript(id, (text) => {
          // Respect backpressure on big transcripts.
          if (!res.write(text)) return new Promise<void>((resolve) => res.once('drain', () => resolve()));
        });
        res.end();
        return;
      }
    }
    throw new HttpError(404, 'no such endpoint');
  }

  /** The cast file, with Range support (the player and downloads). */
  private cast(req: IncomingMessage, res: ServerResponse, id: string): void {
    const path = this.options.backend.library.castPath(id);
    if (!path || !existsSync(path)) throw new HttpError(404, 'no such recording');
    const size = statSync(path).size;
    const headers: Record<string, string | number> = {
      'content-type': 'application/x-asciicast',
      'cache-control': 'no-store',
      'accept-ranges': 'bytes',
      'content-disposition': `attachment; filename="kubecast-${id}.cast"`,
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] !== '' || range[2] !== '')) {
      let start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
      let end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}`, 'cache-control': 'no-store' }).end();
        return;
      }
      start = Math.max(0, start);
      end = Math.max(start, end);
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
      createReadStream(path, { start, end }).on('error', () => res.destroy()).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': size });
    createReadStream(path).on('error', () => res.destroy()).pipe(res);
  }

  /**
   * The seek index of a long recording, as asciinema-player's segmented index (segment URLs
   * relative to this one): 200 when ready, 202 while it is being built (the replay loads the whole
   * cast meanwhile), 404 when the recording has none. With `q`, search hits become player markers.
   */
  private async seekIndex(res: ServerResponse, id: string, params: URLSearchParams): Promise<void> {
    const { library } = this.options.backend;
    const found = await library.seekIndex(id);
    if (found.state === 'building') {
      res.setHeader('retry-after', '2');
      return sendJson(res, 202, { state: 'building' });
    }
    if (found.state === 'none') throw new HttpError(404, `no seek index: ${found.reason}`);
    const q = params.get('q') ?? '';
    if (q.length > 1024) throw new HttpError(400, 'q: too long');
    const hits = q.trim() === '' ? [] : library.searchHits(id, q).map((hit): [number, string] => [hit.time, hit.text.trim().slice(0, 120)]);
    return sendJson(res, 200, playerIndex(found.index, (n) => `segments/${n}`, hits));
  }

  /** Segment N of a seek index: its keyframe and the events up to the next one, streamed. */
  private async seekSegment(res: ServerResponse, id: string, segment: string): Promise<void> {
    // A bounded decimal, never a path: it only picks an entry of the index.
    if (!/^\d{1,6}$/.test(segment)) throw new HttpError(404, 'no such segment');
    const n = Number(segment);
    let started = false;
    let written: boolean;
    try {
      written = await this.options.backend.library.writeSeekSegment(id, n, (text) => {
        if (!started) {
          started = true;
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        }
        return writeOrClose(res, text);
      });
    } catch (err) {
      if (err instanceof RangeError && !started) throw new HttpError(404, 'no such segment');
      throw err;
    }
    if (!written) throw new HttpError(404, 'no seek index for this recording');
    res.end();
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: hello\ndata: ${JSON.stringify({ live: this.options.backend.live.list() })}\n\n`);
    this.sse.add(res);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      this.sse.delete(res);
    });
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const registry = this.options.backend.metrics;
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(body);
  }

  private async staticFile(res: ServerResponse, path: string): Promise<void> {
    const root = this.options.rendererDir;
    let relative = 'index.html';
    if (path !== '/') {
      try {
        relative = decodeURIComponent(path).replace(/^\/+/, '');
      } catch {
        throw new HttpError(400, 'bad path'); // a malformed escape such as %zz
      }
    }
    const file = normalize(join(root, relative));
    if (!file.startsWith(normalize(root) + sep)) throw new HttpError(404, 'not found');
    const target = existsSync(file) && statSync(file).isFile() ? file : join(root, 'index.html');
    if (!existsSync(target)) return this.sendPlaceholder(res);
    const body = await readFile(target);
    res.writeHead(200, {
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': target.endsWith('index.html') ? 'no-store' : 'no-cache',
    });
    res.end(body);
  }

  private sendPlaceholder(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CONTENT_SECURITY_POLICY, 'cache-control': 'no-store' });
    res.end('<!doctype html><meta charset="utf-8"><title>kubecast</title><p>kubecast is running. The console UI is not built: run <code>npm run build</code>.</p>');
  }

  private sendLoginHint(res: ServerResponse): void {
    res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CONTENT_SECURITY_POLICY, 'cache-control': 'no-store' });
    res.end('<!doctype html><meta charset="utf-8"><title>kubecast</title><p>Open the console with the URL <code>kubecast serve</code> printed (it carries the token once).</p>');
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://console');
    const match = /^\/api\/live\/([^/]+)$/.exec(url.pathname);
    const refuse = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${message}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
    };
    if (!this.hostAllowed(req)) return refuse(403, 'Forbidden');
    if (!this.authorized(req)) return refuse(401, 'Unauthorized');
    if (!this.sameOrigin(req)) return refuse(403, 'Forbidden');
    if (hasPathTricks(req.url)) return refuse(400, 'Bad Request');
    if (!match || !isRecordingId(match[1])) return refuse(404, 'Not Found');
    const id = match[1];
    this.wss.handleUpgrade(req, socket, head, (ws) => serveLiveSocket(this.options.backend.live, ws, id, { logger: this.log }));
  }

  private fail(res: ServerResponse, err: unknown): void {
    let status = 500;
    let message = 'internal error';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err instanceof LibraryQueryError) {
      status = 400;
      message = err.message;
    } else if (err instanceof RecordingNotFoundError) {
      status = 404;
      message = 'no such recording';
    } else if (err instanceof RecordingLiveError) {
      status = 409;
      message = 'the recording is still live';
    } else if (err instanceof ClientGone) {
      res.destroy();
      return;
    } else this.log.error('console request failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, status, { error: message });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The client closed the connection mid-answer (a player dropping a segment it no longer needs): not an error. */
class ClientGone extends Error {
  constructor() {
    super('the client went away');
  }
}

/** Writes with backpressure; rejects when the client went away (so the producer stops reading files). */
function writeOrClose(res: ServerResponse, text: string): Promise<void> | undefined {
  if (res.destroyed) return Promise.reject(new ClientGone());
  if (res.write(text)) return undefined;
  return new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new ClientGone());
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      try {
        out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        // A cookie we did not set: ignore it.
      }
    }
  }
  return out;
}

function listQuery(params: URLSearchParams): ListQuery {
  const date = (name: string) => {
    const value = params.get(name);
    if (!value) return undefined;
    const parsed = new Date(/^\d+$/.test(value) ? Number(value) : value);
    if (Number.isNaN(parsed.getTime())) throw new HttpError(400, `${name}: not a date`);
    return parsed;
  };
  const text = (name: string) => {
    const value = params.get(name);
    if (value === null || value === '') return undefined;
    if (value.length > 1024) throw new HttpError(400, `${name}: too long`);
    return value;
  };
  const limit = params.get('limit');
  return {
    q: text('q'),
    user: text('user'),
    namespace: text('namespace'),
    pod: text('pod'),
    from: date('from'),
    to: date('to'),
    limit: limit === null ? undefined : Math.max(1, Math.min(500, Number(limit) || 50)),
    cursor: text('cursor'),
  };
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
}

function validateSettings(body: unknown): Partial<ConsoleSettings> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'settings must be a JSON object');
  const input = body as Record<string, unknown>;
  const out: Partial<ConsoleSettings> = {};
  if ('upstream' in input) {
    if (typeof input.upstream !== 'string' || input.upstream.length > 2048) throw new HttpError(400, 'upstream must be a string');
    out.upstream = input.upstream;
  }
  if ('recorders' in input) {
    if (!Array.isArray(input.recorders) || input.recorders.length > 16 || !input.recorders.every((r) => typeof r === 'string' && r.length < 2048)) {
      throw new HttpError(400, 'recorders must be a list of URLs');
    }
    out.recorders = input.recorders as string[];
  }
  if ('policy' in input) {
    if (input.policy !== 'fail-closed' && input.policy !== 'fail-open') throw new HttpError(400, 'policy must be fail-closed or fail-open');
    out.policy = input.policy;
  }
  if ('recordStdin' in input) {
    if (typeof input.recordStdin !== 'boolean') throw new HttpError(400, 'recordStdin must be a boolean');
    out.recordStdin = input.recordStdin;
  }
  if ('retainDays' in input) {
    const days = input.retainDays;
    if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 36500)) throw new HttpError(400, 'retainDays must be null or a whole number of days');
    out.retainDays = days as number | null;
  }
  if ('dataDir' in input) {
    if (typeof input.dataDir !== 'string' || input.dataDir.length > 4096) throw new HttpError(400, 'dataDir must be a path');
    out.dataDir = input.dataDir;
  }
  return out;
}

/**
 * Dot segments and encoded slashes or dots have no business in a console path: they are refused
 * before any normalisation could turn them into another path (HTTP routes and the live WebSocket alike).
 */
function hasPathTricks(requestUrl: string | undefined): boolean {
  const rawPath = (requestUrl ?? '/').split('?')[0];
  return /(^|\/)\.\.?(\/|$)|%2e|%2f|%5c|\\/i.test(rawPath);
}
