// SPDY/3 frame encoder for one direction of one connection (one shared header compressor).
// Arguments are validated with RangeError: they come from our code, not from the wire.

import { ControlType, FLAG_FIN, FLAG_UNIDIRECTIONAL, MAX_STREAM_ID, SPDY_VERSION, type SpdyHeaders } from './frame';
import { HeaderBlockDeflater, encodeHeaderBlock, type HeaderBlockDeflaterOptions } from './headers';

/** The 24-bit length field's maximum: 16 MiB − 1. */
export const MAX_FRAME_PAYLOAD = 0xffffff;
const HEADER_SIZE = 8;
const MAX_UINT32 = 0xffffffff;
/** Keeps a compressed block (deflate can grow incompressible input by a few bytes per 64 KiB) inside one frame. */
const MAX_UNCOMPRESSED_HEADER_BLOCK = MAX_FRAME_PAYLOAD - 64 * 1024;

export type HeadersInput = SpdyHeaders | Record<string, string | string[]>;

export interface SynStreamOptions {
  streamId: number;
  associatedStreamId?: number;
  /** 0 (highest) to 7. */
  priority?: number;
  slot?: number;
  fin?: boolean;
  unidirectional?: boolean;
  headers: HeadersInput;
}

export interface SettingsEntryInput {
  id: number;
  value: number;
  flags?: number;
}

function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${value}`);
  }
}

function checkStreamId(value: number, allowZero = false): void {
  checkInteger('stream id', value, allowZero ? 0 : 1, MAX_STREAM_ID);
}

/** An 8-byte control frame header followed by `payload`, as one Buffer. Any type and version, for tests of odd frames too. */
export function encodeControlFrame(type: number, flags: number, payload: Uint8Array, version = SPDY_VERSION): Buffer {
  checkInteger('control frame type', type, 0, 0xffff);
  checkInteger('flags', flags, 0, 0xff);
  checkInteger('version', version, 0, 0x7fff);
  checkInteger('payload length', payload.length, 0, MAX_FRAME_PAYLOAD);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  frame.writeUInt16BE(0x8000 | version, 0);
  frame.writeUInt16BE(type, 2);
  frame.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

/** The 8-byte header of a data frame, for writing a large payload without copying it. */
export function encodeDataFrameHeader(streamId: number, flags: number, length: number): Buffer {
  checkStreamId(streamId);
  checkInteger('flags', flags, 0, 0xff);
  checkInteger('payload length', length, 0, MAX_FRAME_PAYLOAD);
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUInt32BE(streamId, 0);
  header.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return header;
}

function fixedPayload(size: number, ...words: number[]): Buffer {
  const payload = Buffer.allocUnsafe(size);
  words.forEach((word, index) => payload.writeUInt32BE(word, index * 4));
  return payload;
}

export class SpdyEncoder {
  private readonly deflater: HeaderBlockDeflater;

  constructor(options?: HeaderBlockDeflaterOptions) {
    this.deflater = new HeaderBlockDeflater(options);
  }

  data(streamId: number, payload: Uint8Array, fin = false): Buffer {
    const header = encodeDataFrameHeader(streamId, fin ? FLAG_FIN : 0, payload.length);
    const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
    frame.set(header, 0);
    frame.set(payload, HEADER_SIZE);
    return frame;
  }

  synStream(options: SynStreamOptions): Buffer {
    const { streamId, associatedStreamId = 0, priority = 0, slot = 0 } = options;
    checkStreamId(streamId);
    checkStreamId(associatedStreamId, true);
    checkInteger('priority', priority, 0, 7);
    checkInteger('slot', slot, 0, 0xff);
    const flags = (options.fin ? FLAG_FIN : 0) | (options.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
    const block = this.compress(options.headers);
    const payload = Buffer.allocUnsafe(10 + block.length);
    payload.writeUInt32BE(streamId, 0);
    payload.writeUInt32BE(associatedStreamId, 4);
    payload[8] = priority << 5;
    payload[9] = slot;
    payload.set(block, 10);
    return encodeControlFrame(ControlType.SYN_STREAM, flags, payload);
  }

  synReply(streamId: number, headers: HeadersInput, fin = false): Buffer {
    return this.streamHeaders(ControlType.SYN_REPLY, streamId, headers, fin);
  }

  headers(streamId: number, headers: HeadersInput, fin = false): Buffer {
    return this.streamHeaders(ControlType.HEADERS, streamId, headers, fin);
  }

  rstStream(streamId: number, status: number): Buffer {
    checkStreamId(streamId);
    checkInteger('status', status, 0, MAX_UINT32);
    return encodeControlFrame(ControlType.RST_STREAM, 0, fixedPayload(8, streamId, status));
  }

  settings(entries: readonly SettingsEntryInput[], flags = 0): Buffer {
    const payload = Buffer.allocUnsafe(4 + entries.length * 8);
    payload.writeUInt32BE(entries.length, 0);
    entries.forEach(({ id, value, flags: entryFlags = 0 }, index) => {
      checkInteger('setting id', id, 0, 0xffffff);
      checkInteger('setting flags', entryFlags, 0, 0xff);
      checkInteger('setting value', value, 0, MAX_UINT32);
      payload.writeUInt32BE(((entryFlags << 24) | id) >>> 0, 4 + index * 8);
      payload.writeUInt32BE(value, 8 + index * 8);
    });
    return encodeControlFrame(ControlType.SETTINGS, flags, payload);
  }

  ping(id: number): Buffer {
    checkInteger('ping id', id, 0, MAX_UINT32);
    return encodeControlFrame(ControlType.PING, 0, fixedPayload(4, id));
  }

  goaway(lastGoodStreamId: number, status = 0): Buffer {
    checkStreamId(lastGoodStreamId, true);
    checkInteger('status', status, 0, MAX_UINT32);
    return encodeControlFrame(ControlType.GOAWAY, 0, fixedPayload(8, lastGoodStreamId, status));
  }

  windowUpdate(streamId: number, delta: number): Buffer {
    checkStreamId(streamId, true); // stream 0 is the session window in SPDY/3.1
    checkInteger('window delta', delta, 0, MAX_STREAM_ID);
    return encodeControlFrame(ControlType.WINDOW_UPDATE, 0, fixedPayload(8, streamId, delta));
  }

  private streamHeaders(type: number, streamId: number, headers: HeadersInput, fin: boolean): Buffer {
    checkStreamId(streamId);
    const block = this.compress(headers);
    const payload = Buffer.allocUnsafe(4 + block.length);
    payload.writeUInt32BE(streamId, 0);
    payload.set(block, 4);
    return encodeControlFrame(type, fin ? FLAG_FIN : 0, payload);
  }

  /**
   * Everything is validated before this runs: once a block went through the shared compressor the
   * frame must be sent, or the peer's decompressor falls out of step.
   */
  private compress(headers: HeadersInput): Uint8Array {
    const block = encodeHeaderBlock(headers);
    checkInteger('uncompressed header block size', block.length, 0, MAX_UNCOMPRESSED_HEADER_BLOCK);
    return this.deflater.deflate(block);
  }
}
