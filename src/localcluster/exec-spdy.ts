// SPDY/3.1 transport for exec/attach, behaving like the kubelet's streaming server (reference §1–3, §7–8):
// negotiate the channel protocol, answer 101 ourselves on the raw socket, reply to each SYN_STREAM as it
// arrives, start the process when every expected stream exists, and end with the Status on the error
// stream, RST_STREAM(CANCEL) per stream and GOAWAY last. Never HEADERS, never a ping of our own.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { protocolInfo, ResizeStreamDecoder, roleFromStreamType, StreamProtocol, type StreamRole } from '../protocol/channel';
import { SpdyProtocolError } from '../protocol/errors';
import { encodeDataFrameHeader, GoawayStatus, RstStatus, SpdyEncoder, SpdyParser, type SpdyFrame } from '../protocol/spdy';
import type { Logger } from '../util/log';
import { whenFlushed } from './flush';
import { applyResize, type ContainerSession, type SessionOutput, type StreamRequest, type StreamUpgrade } from './session';
import { ApiError, legacyErrorText, resultStatus, type SessionResult } from './status';

/** What the kubelet's SPDY server supports, in its order; a real cluster therefore answers v4 to kubectl. */
export const SPDY_STREAM_PROTOCOLS = [StreamProtocol.V4, StreamProtocol.V3, StreamProtocol.V2, StreamProtocol.V1] as const;
/** Accepted only when nothing above is offered; over SPDY it behaves exactly like v4 (as client-go treats it). */
const V5 = StreamProtocol.V5;

/** kubelet: the client has 30 s to create every stream. */
const STREAM_CREATION_TIMEOUT_MS = 30_000;
/** Output queued on the socket beyond this pauses the process until it drains. */
const OUTPUT_HIGH_WATER = 1024 * 1024;
/** Largest DATA payload we send (the frame limit is 16 MiB − 1; smaller keeps other streams moving). */
const MAX_DATA_PAYLOAD = 1024 * 1024;
/** stdin/resize arriving before the session exists is held up to this much. */
const MAX_EARLY_INPUT = 4 * 1024 * 1024;
/** After GOAWAY has been delivered, how long the client gets to close before the socket is destroyed. */
const CLOSE_GRACE_MS = 5000;
/** Protect against a client opening streams forever. */
const MAX_STREAMS = 16;

/** Every `X-Stream-Protocol-Version` value from the raw headers, split on commas (Node joins duplicates). */
export function offeredStreamProtocols(rawHeaders: string[]): string[] {
  const offers: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'x-stream-protocol-version') continue;
    for (const part of rawHeaders[i + 1].split(',')) {
      const p = part.trim();
      if (p.length > 0) offers.push(p);
    }
  }
  return offers;
}

export interface NegotiatedProtocol {
  protocol: string;
  /** 1–5; 5 is handled as 4. */
  version: number;
}

/** Picks the first of the client's offers the kubelet supports; v5 only as a last resort. Throws ApiError 400/403. */
export function negotiateStreamProtocol(offers: string[]): NegotiatedProtocol {
  if (offers.length === 0) throw new ApiError(400, 'BadRequest', 'unable to upgrade: X-Stream-Protocol-Version is required');
  const supported = new Set<string>(SPDY_STREAM_PROTOCOLS);
  const chosen = offers.find((p) => supported.has(p)) ?? offers.find((p) => p === V5);
  if (!chosen) {
    throw new ApiError(
      403,
      'Forbidden',
      `unable to upgrade: unable to negotiate protocol: client supports [${offers.join(' ')}], server accepts [${[...SPDY_STREAM_PROTOCOLS, V5].join(' ')}]`,
      undefined,
      [...SPDY_STREAM_PROTOCOLS, V5].map((p): [string, string] => ['X-Accepted-Stream-Protocol-Versions', p]),
    );
  }
  return { protocol: chosen, version: protocolInfo(chosen).version };
}

/** kubelet: error + stdin + stdout + stderr + resize (TTY, protocol ≥ v3). */
export function expectedStreamCount(request: StreamRequest, version: number): number {
  return 1 + Number(request.stdin) + Number(request.stdout) + Number(request.stderr) + Number(request.tty && version >= 3);
}

export interface SpdyUpgrade extends StreamUpgrade {
  negotiated: NegotiatedProtocol;
}

/** Writes the 101 and runs the SPDY session on the upgraded socket. */
export function serveSpdy(upgrade: SpdyUpgrade): void {
  new SpdySession(upgrade).run();
}

class SpdySession implements SessionOutput {
  private readonly parser = new SpdyParser({ maxFrameLength: MAX_EARLY_INPUT });
  private readonly encoder = new SpdyEncoder();
  private readonly socket: Duplex;
  private readonly log: Logger;
  private readonly request: StreamRequest;
  /** Protocol version in effect (v5 over SPDY behaves as v4). */
  private readonly version: number;
  private readonly expected: number;
  private readonly idsByType = new Map<StreamRole, number>();
  private readonly typesById = new Map<number, StreamRole>();
  private lastClientStreamId = 0;
  private session: ContainerSession | null = null;
  private early: Array<{ type: 'stdin' | 'resize'; data: Buffer; fin: boolean }> = [];
  private earlyBytes = 0;
  private readonly resizeDecoder = new ResizeStreamDecoder();
  private streamTimer: NodeJS.Timeout | undefined;
  private finished = false;
  private closed = false;

  constructor(private readonly upgrade: SpdyUpgrade) {
    this.socket = upgrade.socket;
    this.request = upgrade.request;
    this.version = Math.min(upgrade.negotiated.version, 4);
    this.expected = expectedStreamCount(upgrade.request, upgrade.negotiated.version);
    this.log = upgrade.log.child({ transport: 'spdy', protocol: upgrade.negotiated.protocol });
  }

  get resizable(): boolean {
    return this.version >= 3;
  }

  run(): void {
    const { socket } = this;
    (socket as Socket).setNoDelay?.(true);
    socket.on('error', (err) => {
      this.log.debug('socket error', { err });
      socket.destroy();
    });
    socket.on('close', () => {
      this.gone('the client closed the connection');
      this.upgrade.onClose();
    });
    socket.on('end', () => {
      // The client will send nothing more; if we are still running, it is gone.
      if (!this.finished) this.gone('the client ended the connection');
      socket.end();
    });
    // Written by hand: res.writeHead could add headers kubectl's SPDY client does not expect.
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Connection: Upgrade\r\n' +
        'Upgrade: SPDY/3.1\r\n' +
        `X-Stream-Protocol-Version: ${this.upgrade.negotiated.protocol}\r\n` +
        `Date: ${new Date().toUTCString()}\r\n\r\n`,
    );
    this.streamTimer = setTimeout(() => this.streamsTimedOut(), STREAM_CREATION_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    // Bytes the HTTP layer already read belong to the SPDY stream and come first.
    if (this.upgrade.head.length > 0) this.feed(this.upgrade.head);
  }

  private feed(chunk: Buffer): void {
    if (this.closed) return;
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(chunk);
    } catch (err) {
      if (err instanceof SpdyProtocolError) {
        this.protocolFailure(`SPDY protocol error from the client: ${err.message}`);
        return;
      }
      throw err;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.frame(frame);
    }
  }

  private frame(frame: SpdyFrame): void {
    switch (frame.type) {
      case 'syn_stream':
        return this.synStream(frame.streamId, frame.headers, frame.fin);
      case 'data':
        return this.data(frame.streamId, frame.payload, frame.fin);
      case 'ping':
        // Echo the client's (odd) pings only; an even id is the reply to a ping of ours (we send none).
        if (frame.id % 2 === 1) this.send(this.encoder.ping(frame.id));
        return;
      case 'rst_stream':
        return this.reset(frame.streamId);
      case 'goaway':
        // The client is done with this connection; spdystream sends nothing after it either.
        if (!this.finished) this.gone('the client sent GOAWAY');
        this.closeSocket();
        return;
      case 'settings':
      case 'window_update':
      case 'headers':
        // spdystream never enforces flow control and kubectl sends no HEADERS: nothing to do.
        return;
      case 'unknown_control':
        this.log.debug('ignoring unknown control frame', { controlType: frame.controlType });
        return;
      case 'syn_reply':
        // Clients do not reply to streams they created; a server never creates any here.
        return;
    }
  }

  private synStream(streamId: number, headers: Map<string, string[]>, fin: boolean): void {
    if (streamId % 2 === 0 || streamId <= this.lastClientStreamId) {
      this.send(this.encoder.rstStream(streamId, RstStatus.PROTOCOL_ERROR));
      return;
    }
    this.lastClientStreamId = streamId;
    const type = headers.get('streamtype')?.[0];
    const streamType = roleFromStreamType(type);
    if (!streamType || this.idsByType.has(streamType) || this.session || this.typesById.size >= MAX_STREAMS) {
      this.log.debug('refusing stream', { streamId, type });
      this.send(this.encoder.rstStream(streamId, RstStatus.REFUSED_STREAM));
      return;
    }
    this.idsByType.set(streamType, streamId);
    this.typesById.set(streamId, streamType);
    // Reply at once: kubectl creates the next stream only after this one is answered.
    this.send(this.encoder.synReply(streamId, {}));
    if (fin && streamType === 'stdin') this.early.push({ type: 'stdin', data: Buffer.alloc(0), fin: true });
    if (this.typesById.size === this.expected) this.startSession();
  }

  private startSession(): void {
    clearTimeout(this.streamTimer);
    if (!this.idsByType.has('error')) {
      this.protocolFailure('the client created no error stream');
      return;
    }
    const session = this.upgrade.createSession(this);
    this.session = session;
    session.onStdinDrain(() => this.socket.resume());
    session.start();
    const early = this.early;
    this.early = [];
    for (const input of early) {
      if (this.finished) break;
      if (input.type === 'stdin') this.stdin(input.data, input.fin);
      else this.resize(input.data);
    }
  }

  private data(streamId: number, payload: Uint8Array, fin: boolean): void {
    const type = this.typesById.get(streamId);
    if (this.finished || (type !== 'stdin' && type !== 'resize')) return;
    if (!this.session) {
      this.earlyBytes += payload.byteLength;
      if (this.earlyBytes > MAX_EARLY_INPUT) {
        this.protocolFailure('too much input before all streams were created');
        return;
      }
      this.early.push({ type, data: Buffer.from(payload), fin });
      return;
    }
    if (type === 'stdin') this.stdin(payload, fin);
    else this.resize(payload);
  }

  private stdin(payload: Uint8Array, fin: boolean): void {
    const session = this.session!;
    if (payload.byteLength > 0 && this.request.stdin && !session.stdin(payload)) this.socket.pause();
    if (fin) session.stdinEnd();
  }

  private resize(payload: Uint8Array): void {
    const bad = applyResize(this.resizeDecoder, payload, this.session!, this.log);
    if (bad) {
      this.session!.abort(`invalid resize message: ${bad.message}`);
      this.finish({ kind: 'failure', message: `invalid resize message: ${bad.message}` });
    }
  }

  private reset(streamId: number): void {
    if (this.finished) return;
    const type = this.typesById.get(streamId);
    if (type === 'stdin') {
      // A reset stdin stream is the end of input.
      this.session?.stdinEnd();
    } else if (type === 'error' || type === 'stdout' || type === 'stderr') {
      // kubectl can no longer receive what the session produces: the session is over.
      this.gone(`the client reset the ${type} stream`);
      this.closeSocket();
    }
  }

  // --- SessionOutput ---

  write(stream: 'stdout' | 'stderr', data: Uint8Array): boolean {
    const streamId = this.idsByType.get(stream);
    if (this.finished || streamId === undefined) return true;
    const socket = this.socket;
    socket.cork();
    for (let offset = 0; offset < data.byteLength; offset += MAX_DATA_PAYLOAD) {
      const piece = data.subarray(offset, Math.min(data.byteLength, offset + MAX_DATA_PAYLOAD));
      socket.write(encodeDataFrameHeader(streamId, 0, piece.byteLength));
      socket.write(piece);
    }
    socket.uncork();
    return socket.writableLength < OUTPUT_HIGH_WATER;
  }

  onDrain(listener: () => void): void {
    this.socket.on('drain', listener);
  }

  get buffered(): number {
    return this.socket.writableLength;
  }

  finish(result: SessionResult): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.streamTimer);
    if (this.closed) return;
    const errorStream = this.idsByType.get('error');
    if (errorStream !== undefined) {
      const status = resultStatus(result);
      const body = this.version >= 4 ? JSON.stringify(status) : legacyErrorText(status);
      if (body.length > 0) this.socket.write(this.encoder.data(errorStream, Buffer.from(body)));
    }
    this.endLikeKubelet(GoawayStatus.OK);
  }

  /** RST_STREAM(CANCEL) for every stream, GOAWAY last (spdystream reads nothing after it), then close. */
  private endLikeKubelet(goawayStatus: number): void {
    const socket = this.socket;
    if (socket.writable) {
      socket.cork();
      for (const streamId of [...this.typesById.keys()].sort((a, b) => a - b)) socket.write(this.encoder.rstStream(streamId, RstStatus.CANCEL));
      socket.write(this.encoder.goaway(this.lastClientStreamId, goawayStatus));
      socket.uncork();
    }
    this.closeSocket();
  }

  /** Ends our side once everything queued has been delivered; the client then gets a grace to close. */
  private closeSocket(): void {
    const socket = this.socket;
    if (!socket.writableEnded) socket.end();
    whenFlushed({ pending: () => socket.writableLength, gone: () => socket.destroyed }, (stalled) => {
      if (stalled) socket.destroy();
      else setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    });
  }

  /** Replies to the client's frames; none once our side is ended (a write after end would destroy the socket and the output still queued on it). */
  private send(frame: Buffer): void {
    if (!this.socket.writableEnded && !this.socket.destroyed) this.socket.write(frame);
  }

  private streamsTimedOut(): void {
    if (this.session || this.finished) return;
    this.log.warn('timed out waiting for the client to create streams', { expected: this.expected, created: this.typesById.size });
    this.finished = true;
    this.endLikeKubelet(GoawayStatus.OK);
  }

  /** The client broke the protocol: tell it why on the error stream if we can, then end. */
  private protocolFailure(message: string): void {
    this.log.warn('ending SPDY session', { reason: message });
    this.session?.abort(message);
    if (this.session && this.idsByType.has('error')) {
      this.finish({ kind: 'failure', message });
      return;
    }
    this.finished = true;
    clearTimeout(this.streamTimer);
    this.endLikeKubelet(GoawayStatus.PROTOCOL_ERROR);
  }

  /** The client cannot receive anything more: stop the session (its processes are killed). */
  private gone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.streamTimer);
    if (!this.finished) {
      this.finished = true;
      this.session?.abort(reason);
    }
  }
}
