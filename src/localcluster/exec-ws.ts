// WebSocket transport for exec/attach (what kubectl 1.30+ tries first): subprotocols
// v5.channel.k8s.io and v4.channel.k8s.io, binary messages `[channel] + data` (0 stdin, 1 stdout,
// 2 stderr, 3 status, 4 resize; v5: `[255, 0]` = no more stdin). Ends with the Status on channel 3,
// then a close frame with code 1000 (anything else makes kubectl exit 1). Reference §4.
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { Channel, protocolInfo, ResizeStreamDecoder, StreamProtocol } from '../protocol/channel';
import type { Logger } from '../util/log';
import { whenFlushed } from './flush';
import { applyResize, type ContainerSession, type SessionOutput, type StreamUpgrade } from './session';
import { resultStatus, type SessionResult } from './status';

export const WS_SUBPROTOCOLS = [StreamProtocol.V5, StreamProtocol.V4] as const;
export type WsSubprotocol = (typeof WS_SUBPROTOCOLS)[number];

/** kubectl writes stdin in ≤32 KiB messages; anything far larger is not kubectl. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Output queued on the socket beyond this pauses the process until it drains. */
const OUTPUT_HIGH_WATER = 1024 * 1024;
/** After our close frame, how long the client gets to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 5000;

/** The subprotocol to answer, from the client's offers (v5 preferred), or null if none is supported. */
export function pickWsSubprotocol(offered: Iterable<string>): WsSubprotocol | null {
  const set = new Set([...offered].map((p) => p.trim()));
  return WS_SUBPROTOCOLS.find((p) => set.has(p)) ?? null;
}

export function offeredWsSubprotocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter((p) => p.length > 0);
}

export interface WsUpgrade extends StreamUpgrade {
  /** The upgrade request, for the handshake. */
  req: IncomingMessage;
}

export class WsStreamServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    handleProtocols: (protocols) => pickWsSubprotocol(protocols) ?? false,
  });

  /** Completes the handshake (the caller has checked a supported subprotocol is offered) and runs the session. */
  handleUpgrade(upgrade: WsUpgrade): void {
    this.wss.handleUpgrade(upgrade.req, upgrade.socket, upgrade.head, (ws) => {
      new WsSession(ws, upgrade).run();
    });
  }

  close(): void {
    this.wss.close();
  }
}

class WsSession implements SessionOutput {
  readonly resizable = true;
  private session: ContainerSession | null = null;
  private finished = false;
  private closed = false;
  private readonly resizeDecoder = new ResizeStreamDecoder();
  private readonly version: number;
  private readonly log: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly upgrade: WsUpgrade,
  ) {
    this.version = protocolInfo(ws.protocol).version;
    this.log = upgrade.log.child({ transport: 'websocket', protocol: ws.protocol });
  }

  run(): void {
    const { ws, upgrade } = this;
    ws.on('error', (err) => {
      this.log.warn('websocket error', { err });
      this.gone(`websocket error: ${err.message}`);
      ws.terminate();
    });
    ws.on('close', () => {
      this.gone('the client closed the connection');
      upgrade.onClose();
    });
    ws.on('message', (data, isBinary) => this.message(data, isBinary));
    // "Ready" marker the API server sends: an empty message on the lowest channel the client reads.
    const request = upgrade.request;
    const ready = request.stdout ? Channel.STDOUT : request.stderr ? Channel.STDERR : Channel.ERROR;
    ws.send(Buffer.from([ready]), { binary: true });
    this.session = upgrade.createSession(this);
    this.session.onStdinDrain(() => ws.resume());
    this.session.start();
  }

  private message(data: RawData, isBinary: boolean): void {
    if (this.finished || !this.session) return;
    if (!isBinary) {
      this.fail('text WebSocket messages are not part of the channel protocol; use binary messages');
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (buf.length === 0) return;
    const payload = buf.subarray(1);
    switch (buf[0]) {
      case Channel.STDIN:
        if (this.upgrade.request.stdin && payload.length > 0 && !this.session.stdin(payload)) this.ws.pause();
        return;
      case Channel.RESIZE: {
        const bad = applyResize(this.resizeDecoder, payload, this.session, this.log);
        if (bad) this.fail(`invalid resize message: ${bad.message}`);
        return;
      }
      case Channel.CLOSE:
        // v5: the client will send nothing more on the named channel; only stdin matters.
        if (this.version >= 5 && payload[0] === Channel.STDIN) this.session.stdinEnd();
        return;
      default:
        // Unknown channels are ignored, as the API server does.
        return;
    }
  }

  write(stream: 'stdout' | 'stderr', data: Uint8Array): boolean {
    if (this.finished || this.closed) return true;
    const message = Buffer.allocUnsafe(data.byteLength + 1);
    message[0] = stream === 'stdout' ? Channel.STDOUT : Channel.STDERR;
    message.set(data, 1);
    this.ws.send(message, { binary: true });
    return this.buffered < OUTPUT_HIGH_WATER;
  }

  onDrain(listener: () => void): void {
    this.upgrade.socket.on('drain', listener);
  }

  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  finish(result: SessionResult): void {
    if (this.finished) return;
    this.finished = true;
    if (this.closed) return;
    const status = Buffer.from(JSON.stringify(resultStatus(result)));
    const ws = this.ws;
    ws.send(Buffer.concat([Buffer.from([Channel.ERROR]), status]), { binary: true });
    // The close handshake starts only once the output is delivered: ws gives a closing peer 30 s
    // in all, however much is still queued, and a slow reader must not lose the end of its output.
    whenFlushed({ pending: () => ws.bufferedAmount, gone: () => ws.readyState !== ws.OPEN }, (stalled) => {
      if (stalled || ws.readyState !== ws.OPEN) {
        ws.terminate();
        return;
      }
      ws.close(1000);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    });
  }

  /** Ends the session because the client broke the protocol: Status with the reason, then close 1000. */
  private fail(message: string): void {
    this.log.warn('ending websocket session', { reason: message });
    this.session?.abort(message);
    this.finish({ kind: 'failure', message });
  }

  private gone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.finished) this.session?.abort(reason);
    this.finished = true;
  }
}
