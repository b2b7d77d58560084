// The Kubernetes channel layer on top of WebSocket frames: message fragmentation and the channel
// marker that starts every data message (kubectl-exec-protocol.md §4).
//
// The channel marker is the first byte (binary subprotocols) or first character (base64 ones) of
// a MESSAGE, not of each fragment: a continuation frame is all data. Messages are streamed out
// fragment by fragment (nothing is reassembled), so memory stays bounded by one frame.

import { WsProtocolError } from '../errors';
import { Opcode, isReservedOpcode, type WsFrame } from './frame';

/** Channel numbers of the remote-command protocol (local copies: this layer stays self-contained). */
export const WsChannel = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  ERROR: 3,
  RESIZE: 4,
  /** v5.channel.k8s.io: `[255, channel]` means "no more data on that channel" (half-close). */
  CLOSE: 255,
} as const;

/** How data messages carry their channel and payload. */
export type ChannelEncoding =
  /** `v5.channel.k8s.io`, `v4.channel.k8s.io`, `channel.k8s.io`: binary messages, `[channel byte][data]`. */
  | 'binary'
  /** `base64.channel.k8s.io`, `v4.base64.channel.k8s.io`: text messages, `'0'`–`'9'` then base64 data. */
  | 'base64';

/**
 * What one frame means at the channel layer. A discriminated union on `type`:
 *
 * - `data`: a piece of a data message on `channel`, already stripped of the channel marker and (in
 *   base64 mode) decoded. `first` is set on the piece that reveals the channel (the first non-empty
 *   fragment), `last` on the piece from the FIN frame; every message yields exactly one `first`
 *   and one `last` event (possibly the same event, possibly with empty `data`). A channel-only
 *   message such as `[0x01]` is one event with empty data; `[255, 0]` is channel 255, data `[0]`.
 * - `empty-message`: a data message with no bytes at all, so no channel (kubectl treats it as fatal).
 * - `control`: close, ping or pong, possibly between the fragments of a message (which it does not
 *   disturb). For close with a payload, `closeCode` and `closeReason` (UTF-8, lossy) are decoded.
 * - `text`: (binary mode) a fragment of a text message, which the binary subprotocols never use
 *   (kubectl treats it as fatal). Bytes as they are (no channel stripped); `first` on the
 *   message's first frame, `last` on its FIN frame; empty middle fragments yield nothing.
 * - `binary`: (base64 mode) the same for a binary message, which the base64 subprotocols never use.
 * - `reserved`: a frame with an opcode RFC 6455 reserves (0x3–0x7, 0xB–0xF). Reported as is; it
 *   does not start, continue or end a message.
 */
export type ChannelEvent =
  | { type: 'data'; channel: number; data: Uint8Array; first: boolean; last: boolean }
  | { type: 'empty-message' }
  | { type: 'control'; opcode: number; payload: Uint8Array; closeCode?: number; closeReason?: string }
  | { type: 'text'; data: Uint8Array; first: boolean; last: boolean }
  | { type: 'binary'; data: Uint8Array; first: boolean; last: boolean }
  | { type: 'reserved'; opcode: number; fin: boolean; payload: Uint8Array };

export interface ChannelReaderOptions {
  /** Default `'binary'`. */
  encoding?: ChannelEncoding;
  /** Cap on the wire payload of one whole message, all fragments together. Default 32 MiB. */
  maxMessageSize?: number;
}

export const DEFAULT_WS_MAX_MESSAGE_SIZE = 32 * 1024 * 1024;

/** Nothing seen yet of the message in progress that could carry its channel. */
const NO_CHANNEL = -1;

const ASCII_ZERO = 0x30;

const closeReasonDecoder = new TextDecoder('utf-8');

/**
 * Turns a sequence of frames (one direction of one connection) into channel events. Feed it the
 * frames from `WsFrameParser` in order. Protocol violations throw `WsProtocolError`; the reader is
 * then poisoned and rethrows on every later call.
 */
export class ChannelReader {
  private readonly encoding: ChannelEncoding;
  private readonly maxMessageSize: number;

  /** Opcode of the data message in progress (TEXT or BINARY), or null between messages. */
  private messageOpcode: number | null = null;
  /** Channel of the message in progress, NO_CHANNEL until its first non-empty fragment. */
  private channel = NO_CHANNEL;
  private messageSize = 0;
  /** A text (binary mode) or binary (base64 mode) message in progress has had its first event. */
  private foreignStarted = false;
  /** base64 mode: 0–3 characters held back because base64 decodes in groups of 4. */
  private base64Pending = '';
  private failure: WsProtocolError | null = null;

  constructor(options: ChannelReaderOptions = {}) {
    const { encoding = 'binary', maxMessageSize = DEFAULT_WS_MAX_MESSAGE_SIZE } = options;
    if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 0) {
      throw new RangeError(`maxMessageSize must be a non-negative safe integer, got ${maxMessageSize}`);
    }
    this.encoding = encoding;
    this.maxMessageSize = maxMessageSize;
  }

  /** True while a fragmented message has started and its FIN frame has not arrived. */
  get inMessage(): boolean {
    return this.messageOpcode !== null;
  }

  /** Returns the events for one frame, in order (none for an empty middle fragment). */
  push(frame: WsFrame): ChannelEvent[] {
    if (this.failure !== null) throw this.failure;
    try {
      return this.handle(frame);
    } catch (error) {
      if (error instanceof WsProtocolError) this.failure = error;
      throw error;
    }
  }

  private handle(frame: WsFrame): ChannelEvent[] {
    const { opcode } = frame;
    if (opcode === Opcode.CLOSE || opcode === Opcode.PING || opcode === Opcode.PONG) return [controlEvent(frame)];
    if (isReservedOpcode(opcode)) return [{ type: 'reserved', opcode, fin: frame.fin, payload: frame.payload }];

    if (opcode === Opcode.CONTINUATION) {
      if (this.messageOpcode === null) {
        throw new WsProtocolError('WS_UNEXPECTED_CONTINUATION', 'WebSocket continuation frame without a message in progress');
      }
    } else {
      if (this.messageOpcode !== null) {
        throw new WsProtocolError('WS_EXPECTED_CONTINUATION', 'WebSocket data frame while a fragmented message is in progress (expected a continuation)');
      }
      this.messageOpcode = opcode;
      this.channel = NO_CHANNEL;
      this.messageSize = 0;
      this.foreignStarted = false;
      this.base64Pending = '';
    }

    const payload = frame.payload;
    this.messageSize += payload.length;
    if (this.messageSize > this.maxMessageSize) {
      throw new WsProtocolError('WS_PAYLOAD_TOO_LARGE', `WebSocket message exceeds the ${this.maxMessageSize}-byte limit`);
    }

    const messageOpcode = this.messageOpcode;
    const last = frame.fin;
    if (last) this.messageOpcode = null;

    const channelOpcode = this.encoding === 'binary' ? Opcode.BINARY : Opcode.TEXT;
    if (messageOpcode !== channelOpcode) return this.foreignMessage(messageOpcode, payload, last);
    return this.encoding === 'binary' ? this.binaryData(payload, last) : this.base64Data(payload, last);
  }

  private binaryData(payload: Uint8Array, last: boolean): ChannelEvent[] {
    if (this.channel === NO_CHANNEL) {
      if (payload.length === 0) return last ? [{ type: 'empty-message' }] : [];
      this.channel = payload[0];
      return [{ type: 'data', channel: this.channel, data: payload.subarray(1), first: true, last }];
    }
    if (payload.length === 0 && !last) return [];
    return [{ type: 'data', channel: this.channel, data: payload, first: false, last }];
  }

  private base64Data(payload: Uint8Array, last: boolean): ChannelEvent[] {
    let first = false;
    let text = payload;
    if (this.channel === NO_CHANNEL) {
      if (payload.length === 0) return last ? [{ type: 'empty-message' }] : [];
      // Plain byte arithmetic, never an error: a non-digit maps outside 0–9 and the layer above
      // treats it as an unknown channel, as it does in binary mode.
      this.channel = (payload[0] - ASCII_ZERO) & 0xff;
      text = payload.subarray(1);
      first = true;
    }
    const data = this.decodeBase64(text, last);
    if (!first && !last && data.length === 0) return [];
    return [{ type: 'data', channel: this.channel, data, first, last }];
  }

  /** Decodes whole groups of 4 characters; holds back the rest until the next fragment or the end. */
  private decodeBase64(text: Uint8Array, last: boolean): Uint8Array {
    const chars = this.base64Pending + latin1(text);
    const usable = last ? chars.length : chars.length - (chars.length & 3);
    this.base64Pending = last ? '' : chars.slice(usable);
    if (usable === 0) return new Uint8Array(0);
    return Buffer.from(usable === chars.length ? chars : chars.slice(0, usable), 'base64');
  }

  /** A message of the type the subprotocol does not use: reported frame by frame, bytes as they are. */
  private foreignMessage(opcode: number, payload: Uint8Array, last: boolean): ChannelEvent[] {
    const first = !this.foreignStarted;
    this.foreignStarted = true;
    if (!first && !last && payload.length === 0) return [];
    return [{ type: opcode === Opcode.TEXT ? 'text' : 'binary', data: payload, first, last }];
  }
}

function controlEvent(frame: WsFrame): ChannelEvent {
  const { opcode, payload } = frame;
  if (opcode !== Opcode.CLOSE || payload.length === 0) return { type: 'control', opcode, payload };
  if (payload.length === 1) {
    throw new WsProtocolError('WS_BAD_CLOSE_FRAME', 'WebSocket close frame has a 1-byte payload (a close code needs 2)');
  }
  return {
    type: 'control',
    opcode,
    payload,
    closeCode: (payload[0] << 8) | payload[1],
    closeReason: closeReasonDecoder.decode(payload.subarray(2)),
  };
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}
