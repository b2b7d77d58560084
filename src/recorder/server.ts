// The recorder endpoint: h2c and HTTP/1.1 on one port. Stores each upload as a cast file and acks
// the bytes it has durably written. Wire-compatible with the peer's proxy client (see protocol.ts).
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, constants as h2, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { RecordingStore } from '../store/store';
import { silentLogger, type Logger } from '../util/log';
import { isRecordingId, newRecordingId } from '../util/ids';
import { sameSecret } from '../util/secret';
import { Ingest, type IngestObserver } from './ingest';
import { HEADER_OFFSET, HEADER_RECORDING_ID, HEADER_RESUME, V1_PATH, V2_PATH } from './protocol';

export interface RecorderServerOptions {
  host: string;
  port: number;
  store: RecordingStore;
  /** Bearer token uploads must carry; `null` = no auth (`--auth none`, for the peer's proxies). */
  token: string | null;
  observer?: IngestObserver;
  logger?: Logger;
  /** Idle ack period. Default 1000 ms. */
  ackIntervalMs?: number;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export class RecorderServer {
  private readonly log: Logger;
  private readonly net = createNetServer((socket) => this.route(socket));
  private readonly h2 = createH2Server();
  private readonly h1 = createHttpServer();
  private readonly active = new Set<Ingest>();
  private readonly sockets = new Set<Socket>();
  private readonly takeovers = new Map<string, () => void>();
  private url: string | undefined;

  constructor(private readonly options: RecorderServerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'recorder' });
    this.h2.on('stream', (stream, headers) => this.onH2Stream(stream, headers));
    this.h2.on('sessionError', () => {});
    this.h1.on('checkContinue', (req, res) => this.onH1(req, res, true));
    this.h1.on('request', (req, res) => this.onH1(req, res, false));
    this.h1.on('clientError', (_err, socket) => socket.destroy());
    // Uploads are long-lived streams: no request or header timeouts beyond the defaults' slowloris guard.
    this.h1.requestTimeout = 0;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.net.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    return this.url;
  }

  get address(): string | undefined {
    return this.url;
  }

  /** An in-process upload (see local.ts): same storage, acks and observers as the network paths. */
  async openLocal(options: { resumeId?: string; remoteAddress?: string } = {}): Promise<{ ingest: Ingest; release: () => void }> {
    if (!this.url) throw new Error('recorder is not running');
    let ingest: Ingest | undefined;
    if (options.resumeId !== undefined) {
      if (!isRecordingId(options.resumeId)) throw new Error('bad recording id');
      this.takeovers.get(options.resumeId)?.();
      ingest = await Ingest.resume(this.options.store, options.resumeId, this.options.observer, options.remoteAddress);
      if (!ingest) throw new Error('no such recording');
    } else {
      ingest = Ingest.fresh(this.options.store, newRecordingId(), this.options.observer, options.remoteAddress);
    }
    const active = ingest;
    this.active.add(active);
    return { ingest: active, release: () => this.active.delete(active) };
  }

  /** Stops accepting; uploads in progress are cut and what they wrote is flushed and kept. */
  async stop(): Promise<void> {
    // close() only settles once every connection is gone, and an idle HTTP/1.1 keep-alive one
    // would hold it for seconds: stop accepting, cut what is left, then wait.
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    await Promise.all([...this.active].map((ingest) => ingest.abort('recorder stopped')));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.h2.close();
    this.h1.close();
  }

  /** Hands a connection to the h2c or HTTP/1.1 server depending on its first bytes. */
  private route(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.byteLength === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.byteLength, H2_PREFACE.byteLength);
      const prefaceSoFar = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (prefaceSoFar && head.byteLength < H2_PREFACE.byteLength) return;
      socket.off('data', onData);
      socket.pause();
      if (prefaceSoFar) {
        // node:http2 reads straight from the socket's handle and would miss bytes already read,
        // so it gets a JS stream that replays them first.
        this.h2.emit('connection', replayingStream(socket, head));
      } else {
        socket.unshift(head);
        this.h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  }

  private authorized(headers: IncomingHttpHeaders): boolean {
    if (this.options.token === null) return true;
    const value = headers.authorization;
    if (typeof value !== 'string' || !value.startsWith('Bearer ')) return false;
    return sameSecret(value.slice('Bearer '.length).trim(), this.options.token);
  }

  // --- HTTP/2 (v2) --------------------------------------------------------------------------

  private onH2Stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders & { ':method'?: string; ':path'?: string }): void {
    stream.on('error', () => {});
    const method = headers[':method'];
    const path = (headers[':path'] ?? '').split('?')[0];
    if (path !== V2_PATH) {
      stream.respond({ ':status': 404 });
      stream.end();
      return;
    }
    if (!this.authorized(headers)) {
      stream.respond({ ':status': 401, 'content-type': 'text/plain' });
      stream.end('unauthorized\n');
      return;
    }
    if (method === 'HEAD') {
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    if (method !== 'POST') {
      stream.respond({ ':status': 405 });
      stream.end();
      return;
    }
    void this.receiveV2(stream, headers);
  }

  private async receiveV2(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const remote = stream.session?.socket?.remoteAddress;
    const resume = headers[HEADER_RESUME];
    let ingest: Ingest | undefined;
    if (typeof resume === 'string') {
      if (!isRecordingId(resume)) {
        stream.respond({ ':status': 400, 'content-type': 'text/plain' });
        stream.end('bad recording id\n');
        return;
      }
      this.takeovers.get(resume)?.();
      ingest = await Ingest.resume(this.options.store, resume, this.options.observer, remote).catch(() => undefined);
      if (!ingest) {
        stream.respond({ ':status': 404, 'content-type': 'text/plain' });
        stream.end('no such recording\n');
        return;
      }
    } else {
      ingest = Ingest.fresh(this.options.store, newRecordingId(), this.options.observer, remote);
    }
    const active = ingest;
    this.active.add(active);
    const log = this.log.child({ recording: active.id });
    log.info(resume ? 'upload resumed' : 'upload started', { remote, offset: active.offset, protocol: 'v2' });

    // 200 at once: the peer's client treats the response headers as "connected".
    stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson', [HEADER_RECORDING_ID]: active.id, [HEADER_OFFSET]: String(active.offset) });
    let lastAck = -1;
    const ack = (force: boolean) => {
      const durable = active.durable;
      if (!force && durable === lastAck) return;
      lastAck = durable;
      if (!stream.destroyed && !stream.writableEnded) stream.write(`{"ack":${durable}}\n`);
    };
    const idle = setInterval(() => ack(true), this.options.ackIntervalMs ?? 1000);
    active.onDurable = () => ack(false);
    active.onBackpressure = (paused) => (paused ? stream.pause() : stream.resume());
    let settled = false;
    const settle = () => {
      settled = true;
      clearInterval(idle);
      this.active.delete(active);
      this.takeovers.delete(active.id);
    };
    const failWith = (error: Error) => {
      if (settled) return;
      settle();
      log.warn('upload failed', { error: error.message });
      if (!stream.destroyed && !stream.writableEnded) stream.end(`${JSON.stringify({ error: error.message })}\n`);
      void active.abort(error.message);
    };
    active.onFailure = failWith;
    this.takeovers.set(active.id, () => {
      failWith(new Error('superseded by a resumed upload'));
      stream.close(h2.NGHTTP2_CANCEL);
    });
    stream.on('data', (chunk: Buffer) => active.push(chunk));
    // A client that resets the stream (RST_STREAM) cut the upload off: that is not an end.
    stream.on('aborted', () => {
      if (settled) return;
      settle();
      log.warn('upload cut off', { bytes: active.offset });
      void active.abort('upload cut off');
    });
    stream.on('end', () => {
      if (settled || stream.aborted) return;
      active
        .finish()
        .then(() => {
          if (settled) return;
          settle();
          ack(true);
          stream.end();
          log.info('upload finished', { bytes: active.offset });
        })
        .catch((err: unknown) => failWith(err instanceof Error ? err : new Error(String(err))));
    });
    stream.on('close', () => {
      if (settled) return;
      settle();
      log.warn('upload cut off', { bytes: active.offset });
      void active.abort('upload cut off');
    });
  }

  // --- HTTP/1.1 (v1) ------------------------------------------------------------------------

  private onH1(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const path = (req.url ?? '').split('?')[0];
    res.on('error', () => {});
    if (path === V2_PATH && req.method === 'HEAD') {
      // v2 needs HTTP/2: tell an HTTP/1 prober it is here, the client then checks the version.
      res.writeHead(this.authorized(req.headers) ? 200 : 401).end();
      return;
    }
    if (path !== V1_PATH || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!this.authorized(req.headers)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    const ingest = Ingest.fresh(this.options.store, newRecordingId(), this.options.observer, req.socket.remoteAddress);
    this.active.add(ingest);
    const log = this.log.child({ recording: ingest.id });
    log.info('upload started', { remote: req.socket.remoteAddress, protocol: 'v1' });
    if (expectsContinue) res.writeContinue();
    let settled = false;
    const failWith = (error: Error) => {
      if (settled) return;
      settled = true;
      this.active.delete(ingest);
      log.warn('upload failed', { error: error.message });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
      void ingest.abort(error.message);
      req.destroy();
    };
    ingest.onFailure = failWith;
    ingest.onBackpressure = (paused) => (paused ? req.pause() : req.resume());
    req.on('data', (chunk: Buffer) => ingest.push(chunk));
    req.on('end', () => {
      ingest
        .finish()
        .then(() => {
          if (settled) return;
          settled = true;
          this.active.delete(ingest);
          res.writeHead(200, { [HEADER_RECORDING_ID]: ingest.id }).end();
          log.info('upload finished', { bytes: ingest.offset });
        })
        .catch((err: unknown) => failWith(err instanceof Error ? err : new Error(String(err))));
    });
    req.on('close', () => {
      if (settled || req.complete) return;
      settled = true;
      this.active.delete(ingest);
      log.warn('upload cut off', { bytes: ingest.offset });
      void ingest.abort('upload cut off');
    });
  }
}

/** A duplex over `socket` that yields `head` before the socket's further bytes. */
function replayingStream(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => socket.write(chunk, callback),
    final: (callback) => socket.end(callback),
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  stream.push(head);
  return stream;
}
