// The sender: builds RFC 6455 frames for what kubecast itself says on a WebSocket (the local
// cluster's output, a proxy's closing Status and close frame, test traffic). Each call returns one
// Buffer holding whole frames, written with a single allocation.

import { randomFillSync } from 'node:crypto';
import { Opcode, isControlOpcode } from './frame';
import { mask as applyMask } from './mask';

export interface EncodeOptions {
  /**
   * Mask the frame(s) as a client must (RFC 6455 §5.3). `true`: a fresh random key per frame;
   * a 4-byte array: that key for every frame. Default: unmasked (what a server sends).
   */
  mask?: Uint8Array | boolean;
}

export interface EncodeMessageOptions extends EncodeOptions {
  /**
   * Split the message into frames of at most this many payload bytes (first frame BINARY/TEXT,
   * the rest CONTINUATION). The channel marker is only at the start of the message. Default: one frame.
   */
  fragmentSize?: number;
}

export interface EncodeFrameOptions extends EncodeOptions {
  /** Default true. Control frames must have it set. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). Default 0. */
  rsv?: number;
  opcode: number;
  /** Default empty. At most 125 bytes for control frames. */
  payload?: Uint8Array;
}

/** Close codes RFC 6455 §7.4 defines (a selection; any 16-bit code can be sent). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const;

const EMPTY = new Uint8Array(0);
const MAX_CONTROL_PAYLOAD = 125;

/** Encodes one frame. Throws RangeError for frames RFC 6455 forbids (kubecast must not send them). */
export function encodeFrame(options: EncodeFrameOptions): Buffer {
  const { fin = true, rsv = 0, opcode, payload = EMPTY, mask } = options;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 0xf) throw new RangeError(`opcode must be 0–15, got ${opcode}`);
  if (!Number.isInteger(rsv) || rsv < 0 || rsv > 7) throw new RangeError(`rsv must be 0–7, got ${rsv}`);
  if (isControlOpcode(opcode)) {
    if (!fin) throw new RangeError('control frames cannot be fragmented');
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError(`control frame payload is ${payload.length} bytes, above 125`);
  }
  const parts = [payload];
  const key = resolveKey(mask);
  const out = Buffer.allocUnsafe(headerLength(payload.length, key !== null) + payload.length);
  writeFrame(out, 0, { fin, rsv, opcode, parts, start: 0, end: payload.length, key });
  return out;
}

/** A binary message `[channel][data]` (v5/v4/channel.k8s.io), optionally fragmented and masked. */
export function encodeChannelMessage(channel: number, data: Uint8Array, options: EncodeMessageOptions = {}): Buffer {
  if (!Number.isInteger(channel) || channel < 0 || channel > 255) throw new RangeError(`channel must be a byte, got ${channel}`);
  return encodeMessage(Opcode.BINARY, [Uint8Array.of(channel), data], 1 + data.length, options);
}

/**
 * A text message `'<digit>' + base64(data)` (base64.channel.k8s.io, v4.base64.channel.k8s.io),
 * optionally fragmented and masked. Only channels 0–9 have a one-digit marker.
 */
export function encodeBase64ChannelMessage(channel: number, data: Uint8Array, options: EncodeMessageOptions = {}): Buffer {
  if (!Number.isInteger(channel) || channel < 0 || channel > 9) throw new RangeError(`base64 channel must be 0–9, got ${channel}`);
  const text = Buffer.from(String.fromCharCode(0x30 + channel) + toBuffer(data).toString('base64'), 'latin1');
  return encodeMessage(Opcode.TEXT, [text], text.length, options);
}

/**
 * A close frame. Without `code` the payload is empty (reason must then be empty too); otherwise it
 * is the code (big-endian) and the UTF-8 reason, at most 123 bytes of it.
 */
export function encodeClose(code?: number, reason = '', options: EncodeOptions = {}): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new RangeError('a close reason needs a close code');
    return encodeFrame({ opcode: Opcode.CLOSE, mask: options.mask });
  }
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError(`close code must be 16-bit, got ${code}`);
  const reasonBytes = Buffer.from(reason, 'utf8');
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return encodeFrame({ opcode: Opcode.CLOSE, payload, mask: options.mask });
}

export function encodePing(payload: Uint8Array = EMPTY, options: EncodeOptions = {}): Buffer {
  return encodeFrame({ opcode: Opcode.PING, payload, mask: options.mask });
}

/** A pong; answering a ping means echoing its (unmasked) payload. */
export function encodePong(payload: Uint8Array = EMPTY, options: EncodeOptions = {}): Buffer {
  return encodeFrame({ opcode: Opcode.PONG, payload, mask: options.mask });
}

/** Encodes the concatenation of `parts` (`length` bytes) as one message, fragmented as asked. */
function encodeMessage(opcode: number, parts: Uint8Array[], length: number, options: EncodeMessageOptions): Buffer {
  const { fragmentSize = length, mask } = options;
  if (!Number.isSafeInteger(fragmentSize) || fragmentSize < 1) throw new RangeError(`fragmentSize must be a positive integer, got ${fragmentSize}`);
  const fragments = Math.max(1, Math.ceil(length / fragmentSize));
  const keys: (Uint8Array | null)[] = [];
  let total = 0;
  for (let i = 0; i < fragments; i++) {
    const key = resolveKey(mask);
    keys.push(key);
    const size = Math.min(fragmentSize, length - i * fragmentSize);
    total += headerLength(size, key !== null) + size;
  }
  const out = Buffer.allocUnsafe(total);
  let position = 0;
  for (let i = 0; i < fragments; i++) {
    const start = i * fragmentSize;
    const end = Math.min(length, start + fragmentSize);
    position = writeFrame(out, position, {
      fin: i === fragments - 1,
      rsv: 0,
      opcode: i === 0 ? opcode : Opcode.CONTINUATION,
      parts,
      start,
      end,
      key: keys[i],
    });
  }
  return out;
}

interface FrameSpec {
  fin: boolean;
  rsv: number;
  opcode: number;
  /** The payload is bytes `start..end` of the concatenation of `parts`. */
  parts: Uint8Array[];
  start: number;
  end: number;
  key: Uint8Array | null;
}

/** Writes one frame at `out[position]` and returns the position after it. */
function writeFrame(out: Buffer, position: number, spec: FrameSpec): number {
  const { fin, rsv, opcode, parts, start, end, key } = spec;
  const length = end - start;
  out[position++] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = key !== null ? 0x80 : 0;
  if (length < 126) {
    out[position++] = maskBit | length;
  } else if (length < 0x10000) {
    out[position++] = maskBit | 126;
    out.writeUInt16BE(length, position);
    position += 2;
  } else {
    out[position++] = maskBit | 127;
    out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), position);
    out.writeUInt32BE(length >>> 0, position + 4);
    position += 8;
  }
  if (key !== null) {
    out.set(key, position);
    position += 4;
  }

  const payloadStart = position;
  let partStart = 0;
  for (const part of parts) {
    const partEnd = partStart + part.length;
    const from = Math.max(start, partStart);
    const to = Math.min(end, partEnd);
    if (from < to) {
      out.set(part.subarray(from - partStart, to - partStart), position);
      position += to - from;
    }
    partStart = partEnd;
  }
  if (key !== null && length > 0) {
    const payload = out.subarray(payloadStart, position);
    applyMask(payload, key, payload);
  }
  return position;
}

function headerLength(payloadLength: number, masked: boolean): number {
  return 2 + (payloadLength < 126 ? 0 : payloadLength < 0x10000 ? 2 : 8) + (masked ? 4 : 0);
}

function resolveKey(mask: Uint8Array | boolean | undefined): Uint8Array | null {
  if (mask === undefined || mask === false) return null;
  if (mask === true) return randomFillSync(new Uint8Array(4));
  if (mask.length !== 4) throw new RangeError(`masking key must be 4 bytes, got ${mask.length}`);
  return mask;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
