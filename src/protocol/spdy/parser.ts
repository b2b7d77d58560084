// Incremental SPDY/3 frame parser for one direction of one connection. It sits on the hot path of
// the proxy, so frames that lie inside one chunk are returned as views (no copy), and a frame that
// straddles chunks is assembled once, when its last byte arrives.

import { SpdyProtocolError } from '../errors';
import {
  ControlType,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  SPDY_VERSION,
  type SettingsEntry,
  type SpdyFrame,
  type SpdyHeaders,
  type SpdyLimits,
} from './frame';
import { HeaderBlockInflater, decodeHeaderBlock, resolveSpdyLimits } from './headers';

export const FRAME_HEADER_SIZE = 8;

const CONTROL_BIT = 0x80;
const ID_MASK = 0x7fffffff;
const SYN_STREAM_FIXED = 10;
const STREAM_ID_FIELD = 4;
const SETTINGS_ENTRY_SIZE = 8;
/** Pieces of a pending frame at least this large are kept as views; smaller ones are copied. */
const MIN_VIEW_PIECE = 1024;
const SCRATCH_SIZE = 4096;

/** Payload sizes of the control frames whose layout has no variable part (SPDY/3). */
const FIXED_PAYLOAD: Readonly<Record<number, number>> = {
  [ControlType.RST_STREAM]: 8,
  [ControlType.PING]: 4,
  [ControlType.GOAWAY]: 8,
  [ControlType.WINDOW_UPDATE]: 8,
};

function u32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** A 31-bit identifier: the reserved top bit is dropped. */
function u31(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) & ID_MASK;
}

/** Copies `pieces` one after the other into `target`; returns the number of bytes copied. */
function copyPieces(pieces: readonly Uint8Array[], target: Uint8Array): number {
  let offset = 0;
  for (const piece of pieces) {
    target.set(piece, offset);
    offset += piece.length;
  }
  return offset;
}

function badFrame(message: string): SpdyProtocolError {
  return new SpdyProtocolError('SPDY_BAD_FRAME', message);
}

function typeName(type: number): string {
  const entry = Object.entries(ControlType).find(([, value]) => value === type);
  return entry ? entry[0] : `type ${type}`;
}

export class SpdyParser {
  private readonly limits: Required<SpdyLimits>;
  /** Created at the first header block: one zlib context for the whole direction. */
  private inflater: HeaderBlockInflater | undefined;
  /** The incomplete frame at the end of the input: views of the chunks it came in, and scratch segments. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /**
   * Small pieces are copied here instead of being kept as views, so a trickle of tiny chunks costs
   * bytes, not one object per chunk. The open segment is scratch[scratchStart, scratchEnd).
   */
  private scratch: Uint8Array | undefined;
  private scratchStart = 0;
  private scratchEnd = 0;
  /** Size (header + payload) of the pending frame once its 8-byte header is known, else -1. */
  private pendingFrameSize = -1;
  private failure: SpdyProtocolError | undefined;

  constructor(limits?: SpdyLimits) {
    this.limits = resolveSpdyLimits(limits);
  }

  /** Bytes held back as the start of an incomplete frame. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Feeds the next bytes of the direction and returns every frame they complete, in order. The parser
   * keeps views of `chunk` (and returns views of it as `raw`/`payload`): do not modify it afterwards.
   * Throws only `SpdyProtocolError`; after one, every later call throws it again. Frames completed
   * earlier in the same call are not returned then: the connection is to be ended anyway.
   */
  push(chunk: Uint8Array): SpdyFrame[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (error) {
      this.failure = asSpdyError(error);
      this.takePending();
      this.scratch = undefined;
      throw this.failure;
    }
  }

  private consume(chunk: Uint8Array): SpdyFrame[] {
    const frames: SpdyFrame[] = [];
    if (chunk.length === 0) return frames;
    let offset = this.pendingBytes > 0 ? this.completePending(chunk, frames) : 0;
    while (chunk.length - offset >= FRAME_HEADER_SIZE) {
      const size = this.frameSize(chunk, offset);
      if (chunk.length - offset < size) {
        this.pendingFrameSize = size;
        break;
      }
      frames.push(this.decode(chunk.subarray(offset, offset + size)));
      offset += size;
    }
    if (offset < chunk.length) this.hold(chunk.subarray(offset));
    return frames;
  }

  /** Adds the start of `chunk` to the pending frame; returns how many bytes of `chunk` it used. */
  private completePending(chunk: Uint8Array, frames: SpdyFrame[]): number {
    if (this.pendingFrameSize < 0) {
      const missing = FRAME_HEADER_SIZE - this.pendingBytes;
      if (chunk.length < missing) return this.hold(chunk);
      const header = new Uint8Array(FRAME_HEADER_SIZE);
      copyPieces(this.pendingPieces(), header);
      header.set(chunk.subarray(0, missing), this.pendingBytes);
      this.pendingFrameSize = this.frameSize(header, 0);
    }
    const needed = this.pendingFrameSize - this.pendingBytes;
    if (chunk.length < needed) return this.hold(chunk);

    const raw = Buffer.allocUnsafe(this.pendingFrameSize);
    const filled = copyPieces(this.takePending(), raw);
    raw.set(chunk.subarray(0, needed), filled);
    frames.push(this.decode(raw));
    return needed;
  }

  /** Adds `piece` to the pending frame; returns its length. */
  private hold(piece: Uint8Array): number {
    this.pendingBytes += piece.length;
    if (piece.length >= MIN_VIEW_PIECE) {
      this.sealScratch();
      this.pending.push(piece);
      return piece.length;
    }
    if (this.scratch === undefined || this.scratch.length - this.scratchEnd < piece.length) {
      this.sealScratch();
      this.scratch = new Uint8Array(SCRATCH_SIZE);
      this.scratchStart = this.scratchEnd = 0;
    }
    this.scratch.set(piece, this.scratchEnd);
    this.scratchEnd += piece.length;
    return piece.length;
  }

  private sealScratch(): void {
    if (this.scratch !== undefined && this.scratchEnd > this.scratchStart) {
      this.pending.push(this.scratch.subarray(this.scratchStart, this.scratchEnd));
      this.scratchStart = this.scratchEnd;
    }
  }

  private pendingPieces(): Uint8Array[] {
    this.sealScratch();
    return this.pending;
  }

  /** Hands over the pending pieces and forgets them; the caller copies them before the next `hold`. */
  private takePending(): Uint8Array[] {
    const pieces = this.pendingPieces();
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingFrameSize = -1;
    this.scratchStart = this.scratchEnd = 0; // the scratch is reused once its bytes are copied out
    return pieces;
  }

  /** Checks an 8-byte frame header as soon as it is complete; returns the frame's total size. */
  private frameSize(bytes: Uint8Array, offset: number): number {
    const first = bytes[offset];
    if (first & CONTROL_BIT) {
      const version = ((first & 0x7f) << 8) | bytes[offset + 1];
      if (version !== SPDY_VERSION) {
        throw new SpdyProtocolError('SPDY_BAD_VERSION', `control frame of version ${version}, expected ${SPDY_VERSION}`);
      }
    } else if (u32(bytes, offset) === 0) {
      throw badFrame('data frame for stream 0');
    }
    const length = (bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7];
    if (length > this.limits.maxFrameLength) {
      throw new SpdyProtocolError('SPDY_FRAME_TOO_LARGE', `frame declares ${length} bytes, the limit is ${this.limits.maxFrameLength}`);
    }
    return FRAME_HEADER_SIZE + length;
  }

  /** Decodes one complete frame whose header `frameSize` has accepted. */
  private decode(raw: Uint8Array): SpdyFrame {
    const flags = raw[4];
    const payload = raw.subarray(FRAME_HEADER_SIZE);
    if ((raw[0] & CONTROL_BIT) === 0) {
      return { type: 'data', streamId: u31(raw, 0), flags, fin: (flags & FLAG_FIN) !== 0, payload, raw };
    }
    const controlType = (raw[2] << 8) | raw[3];
    const fixed = FIXED_PAYLOAD[controlType];
    if (fixed !== undefined && payload.length !== fixed) {
      throw badFrame(`${typeName(controlType)} payload of ${payload.length} bytes, expected ${fixed}`);
    }
    switch (controlType) {
      case ControlType.SYN_STREAM: {
        this.requirePayload(controlType, payload, SYN_STREAM_FIXED);
        return {
          type: 'syn_stream',
          streamId: u31(payload, 0),
          associatedStreamId: u31(payload, 4),
          priority: payload[8] >> 5,
          slot: payload[9],
          flags,
          fin: (flags & FLAG_FIN) !== 0,
          unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
          headers: this.headerBlock(payload.subarray(SYN_STREAM_FIXED)),
          raw,
        };
      }
      case ControlType.SYN_REPLY:
      case ControlType.HEADERS: {
        this.requirePayload(controlType, payload, STREAM_ID_FIELD);
        return {
          type: controlType === ControlType.SYN_REPLY ? 'syn_reply' : 'headers',
          streamId: u31(payload, 0),
          flags,
          fin: (flags & FLAG_FIN) !== 0,
          headers: this.headerBlock(payload.subarray(STREAM_ID_FIELD)),
          raw,
        };
      }
      case ControlType.RST_STREAM:
        return { type: 'rst_stream', streamId: u31(payload, 0), status: u32(payload, 4), raw };
      case ControlType.SETTINGS:
        return { type: 'settings', flags, entries: this.settingsEntries(payload), raw };
      case ControlType.PING:
        return { type: 'ping', id: u32(payload, 0), raw };
      case ControlType.GOAWAY:
        return { type: 'goaway', lastGoodStreamId: u31(payload, 0), status: u32(payload, 4), raw };
      case ControlType.WINDOW_UPDATE:
        return { type: 'window_update', streamId: u31(payload, 0), delta: u31(payload, 4), raw };
      default:
        // NOOP (5), CREDENTIAL (10), 0 and 11+: reported, the caller decides what they mean.
        return { type: 'unknown_control', controlType, flags, payload, raw };
    }
  }

  private requirePayload(controlType: number, payload: Uint8Array, minimum: number): void {
    if (payload.length < minimum) {
      throw badFrame(`${typeName(controlType)} payload of ${payload.length} bytes, needs at least ${minimum}`);
    }
  }

  private settingsEntries(payload: Uint8Array): SettingsEntry[] {
    this.requirePayload(ControlType.SETTINGS, payload, 4);
    const count = u32(payload, 0);
    // Checked before anything is sized from it; the Go reader would desync on any extra byte.
    if (count !== (payload.length - 4) / SETTINGS_ENTRY_SIZE) {
      throw badFrame(`SETTINGS declares ${count} entries in ${payload.length - 4} bytes`);
    }
    const entries: SettingsEntry[] = [];
    for (let offset = 4; offset < payload.length; offset += SETTINGS_ENTRY_SIZE) {
      entries.push({ flags: payload[offset], id: u32(payload, offset) & 0xffffff, value: u32(payload, offset + 4) });
    }
    return entries;
  }

  /** Every non-empty block goes through the direction's one inflater, in order. */
  private headerBlock(compressed: Uint8Array): SpdyHeaders {
    if (compressed.length === 0) return new Map();
    this.inflater ??= new HeaderBlockInflater(this.limits);
    return decodeHeaderBlock(this.inflater.inflate(compressed), this.limits);
  }
}

/** Keeps the promise that only `SpdyProtocolError` leaves `push`, even for a bug of ours. */
function asSpdyError(error: unknown): SpdyProtocolError {
  if (error instanceof SpdyProtocolError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const wrapped = badFrame(`internal parser error: ${detail}`);
  wrapped.cause = error;
  return wrapped;
}
