// The receiver: turns a byte stream (socket chunks of any size) into RFC 6455 frames.
//
// It sits on the side of a byte-faithful proxy, so it never changes or drops bytes: every frame
// carries its exact wire bytes in `raw`, and the concatenation of all `raw`s is the input. A
// frame that lies inside one chunk is returned as views into that chunk (zero copy); a frame that
// straddles chunks is copied once into its own buffer as its bytes arrive.

import { WsProtocolError } from '../errors';
import { DEFAULT_WS_MAX_PAYLOAD, Opcode, isControlOpcode, type WsFrame, type WsLimits } from './frame';
import { unmask } from './mask';

export type WsDirection = 'client-to-server' | 'server-to-client' | 'any';

export interface WsFrameParserOptions extends WsLimits {
  /** Largest payload one frame may declare (default 32 MiB). Checked as soon as the length is read. */
  maxPayload?: number;
  /**
   * Which masking rule applies: client frames must be masked, server frames must not be
   * (RFC 6455 §5.1). `'any'` (default) accepts both, for inputs whose origin is unknown.
   */
  direction?: WsDirection;
  /** RSV bits a negotiated extension may set, as a 3-bit number (RSV1 = 4). Default 0: none. */
  allowRsv?: number;
}

/** Longest possible header: 2 + 8 (64-bit length) + 4 (masking key). */
export const MAX_HEADER_LENGTH = 14;

/** 2^53 − 1 as the high 32 bits of a 64-bit length: larger lengths are not exact JS numbers. */
const MAX_LENGTH_HIGH_WORD = 0x1fffff;

/**
 * A frame that straddles chunks gets a buffer of its full length up front only if it is at most
 * this big; larger frames grow their buffer as bytes arrive, so a header that declares 32 MiB and
 * then stalls costs memory in proportion to what was actually received.
 */
const EAGER_ALLOCATION_LIMIT = 64 * 1024;

interface FrameHeader {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  headerLength: number;
  payloadLength: number;
}

/**
 * Incremental RFC 6455 frame parser.
 *
 * `push` accepts chunks of any size and returns every frame completed by that chunk. The parser
 * keeps references to the chunks it is given (frames are views into them): do not modify a chunk
 * after pushing it. The first malformed or over-limit input throws a `WsProtocolError`; the parser
 * is then poisoned and every later `push` throws the same error.
 */
export class WsFrameParser {
  private readonly maxPayload: number;
  private readonly direction: WsDirection;
  private readonly allowRsv: number;

  /** Bytes of a frame that is not complete yet (only the first `carryLength` are used). */
  private carry: Uint8Array = new Uint8Array(0);
  private carryLength = 0;
  /** Header of the incomplete frame once all its header bytes have arrived. */
  private pendingHeader: FrameHeader | null = null;
  private failure: WsProtocolError | null = null;

  constructor(options: WsFrameParserOptions = {}) {
    const { maxPayload = DEFAULT_WS_MAX_PAYLOAD, direction = 'any', allowRsv = 0 } = options;
    if (!Number.isSafeInteger(maxPayload) || maxPayload < 0) {
      throw new RangeError(`maxPayload must be a non-negative safe integer, got ${maxPayload}`);
    }
    if (!Number.isInteger(allowRsv) || allowRsv < 0 || allowRsv > 7) {
      throw new RangeError(`allowRsv must be a 3-bit number, got ${allowRsv}`);
    }
    this.maxPayload = maxPayload;
    this.direction = direction;
    this.allowRsv = allowRsv;
  }

  /** Bytes held back as the start of an incomplete frame (at most maxPayload + 14). */
  get buffered(): number {
    return this.carryLength;
  }

  /**
   * Feeds the next chunk of the stream and returns the frames it completes, in order. Frames are
   * appended to `out` (returned): if this throws, `out` still holds the frames that were complete
   * before the bad bytes, which a proxy may want to forward before ending the session.
   */
  push(chunk: Uint8Array, out: WsFrame[] = []): WsFrame[] {
    if (this.failure !== null) throw this.failure;
    try {
      let offset = 0;
      if (this.carryLength > 0) {
        offset = this.continueCarry(chunk, out);
        if (this.carryLength > 0) return out; // the whole chunk went into the incomplete frame
      }
      offset = this.parseWithin(chunk, offset, out);
      if (offset < chunk.length) this.startCarry(chunk, offset);
      return out;
    } catch (error) {
      if (error instanceof WsProtocolError) {
        this.failure = error;
        this.carry = new Uint8Array(0);
        this.carryLength = 0;
        this.pendingHeader = null;
      }
      throw error;
    }
  }

  /** Zero-copy path: frames that lie entirely inside `chunk` from `offset` on. Returns where the tail starts. */
  private parseWithin(chunk: Uint8Array, offset: number, out: WsFrame[]): number {
    const end = chunk.length;
    while (offset < end) {
      const header = this.readHeader(chunk, offset, end - offset);
      if (header === null) return offset;
      const frameLength = header.headerLength + header.payloadLength;
      if (end - offset < frameLength) {
        this.pendingHeader = header;
        return offset;
      }
      out.push(makeFrame(header, chunk.subarray(offset, offset + frameLength)));
      offset += frameLength;
    }
    return offset;
  }

  /** Keeps the incomplete tail `chunk[offset..]` (always shorter than one frame). */
  private startCarry(chunk: Uint8Array, offset: number): void {
    const length = chunk.length - offset;
    const header = this.pendingHeader;
    const wanted = header === null ? MAX_HEADER_LENGTH : header.headerLength + header.payloadLength;
    this.carry = new Uint8Array(Math.max(length, Math.min(wanted, EAGER_ALLOCATION_LIMIT)));
    this.carry.set(chunk.subarray(offset));
    this.carryLength = length;
  }

  /**
   * Adds bytes of `chunk` to the incomplete frame, never more than that frame needs, and emits the
   * frame once it is complete. Returns how many bytes of `chunk` were used.
   */
  private continueCarry(chunk: Uint8Array, out: WsFrame[]): number {
    let offset = 0;
    while (this.pendingHeader === null) {
      // Header bytes trickle in: take only what the header can still need, so no byte of the next
      // frame ends up in this one. Byte 1 tells the header's full length.
      const needed = this.carryLength < 2 ? 2 - this.carryLength : headerLengthOf(this.carry[1]) - this.carryLength;
      const take = Math.min(needed, chunk.length - offset);
      this.appendToCarry(chunk, offset, take, MAX_HEADER_LENGTH);
      offset += take;
      const header = this.readHeader(this.carry, 0, this.carryLength);
      if (header !== null) this.pendingHeader = header;
      else if (offset === chunk.length) return offset;
    }

    const header = this.pendingHeader;
    const frameLength = header.headerLength + header.payloadLength;
    const take = Math.min(frameLength - this.carryLength, chunk.length - offset);
    this.appendToCarry(chunk, offset, take, frameLength);
    offset += take;
    if (this.carryLength === frameLength) {
      out.push(makeFrame(header, this.carry.subarray(0, frameLength)));
      // The emitted frame owns the old buffer now; the next incomplete frame gets a new one.
      this.carry = new Uint8Array(0);
      this.carryLength = 0;
      this.pendingHeader = null;
    }
    return offset;
  }

  /** Appends `count` bytes, growing the buffer geometrically up to `limit` (amortised linear copying). */
  private appendToCarry(chunk: Uint8Array, offset: number, count: number, limit: number): void {
    const needed = this.carryLength + count;
    if (needed > this.carry.length) {
      const eager = limit <= EAGER_ALLOCATION_LIMIT ? limit : 0;
      const grown = new Uint8Array(Math.max(needed, eager, Math.min(limit, this.carry.length * 2)));
      grown.set(this.carry.subarray(0, this.carryLength));
      this.carry = grown;
    }
    this.carry.set(chunk.subarray(offset, offset + count), this.carryLength);
    this.carryLength = needed;
  }

  /**
   * Decodes the header at `bytes[offset..offset+available)`. Returns null while it is incomplete
   * (a split header is never an error). Each rule is checked as soon as the bytes it needs are
   * there, so a bad or oversized frame is refused before its payload is buffered.
   */
  private readHeader(bytes: Uint8Array, offset: number, available: number): FrameHeader | null {
    if (available < 1) return null;
    const b0 = bytes[offset];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0x0f;
    if ((rsv & ~this.allowRsv) !== 0) {
      throw new WsProtocolError('WS_RSV_BITS', `WebSocket frame has RSV bits 0b${rsv.toString(2).padStart(3, '0')} set without a negotiated extension`);
    }
    // RFC 6455 §5.5 applies to every opcode with the high bit set, reserved ones included: that
    // keeps unknown control frames as small as known ones.
    const control = isControlOpcode(opcode);
    if (control && !fin) {
      throw new WsProtocolError('WS_BAD_CONTROL_FRAME', `WebSocket control frame (opcode 0x${opcode.toString(16)}) is fragmented`);
    }

    if (available < 2) return null;
    const b1 = bytes[offset + 1];
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;
    if (this.direction === 'client-to-server' && !masked) {
      throw new WsProtocolError('WS_MASK', 'WebSocket frame from the client is not masked');
    }
    if (this.direction === 'server-to-client' && masked) {
      throw new WsProtocolError('WS_MASK', 'WebSocket frame from the server is masked');
    }
    if (control && length7 > 125) {
      throw new WsProtocolError('WS_BAD_CONTROL_FRAME', `WebSocket control frame (opcode 0x${opcode.toString(16)}) has a payload above 125 bytes`);
    }
    if (opcode === Opcode.CLOSE && length7 === 1) {
      throw new WsProtocolError('WS_BAD_CLOSE_FRAME', 'WebSocket close frame has a 1-byte payload (a close code needs 2)');
    }

    const headerLength = headerLengthOf(b1);
    let payloadLength: number;
    if (length7 === 126) {
      if (available < 4) return null;
      payloadLength = (bytes[offset + 2] << 8) | bytes[offset + 3];
    } else if (length7 === 127) {
      if (available < 10) return null;
      const high = readUint32BE(bytes, offset + 2);
      if (high > MAX_LENGTH_HIGH_WORD) {
        throw new WsProtocolError(
          'WS_BAD_LENGTH',
          high >= 0x80000000
            ? 'WebSocket frame has a 64-bit length with the most significant bit set'
            : 'WebSocket frame has a 64-bit length above 2^53 - 1',
        );
      }
      payloadLength = high * 0x1_0000_0000 + readUint32BE(bytes, offset + 6);
    } else {
      payloadLength = length7;
    }
    if (payloadLength > this.maxPayload) {
      throw new WsProtocolError('WS_PAYLOAD_TOO_LARGE', `WebSocket frame declares a ${payloadLength}-byte payload, above the ${this.maxPayload}-byte limit`);
    }

    if (available < headerLength) return null; // masking key not complete yet
    return { fin, rsv, opcode, masked, headerLength, payloadLength };
  }
}

/** Header length from the second header byte: base 2, extended length 0/2/8, masking key 0/4. */
function headerLengthOf(b1: number): number {
  const length7 = b1 & 0x7f;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function readUint32BE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

function makeFrame(header: FrameHeader, raw: Uint8Array): WsFrame {
  const { fin, rsv, opcode, masked, headerLength } = header;
  const onWire = raw.subarray(headerLength);
  // Masked payloads are unmasked into a copy: `raw` must stay exactly as received for forwarding.
  const payload = masked ? unmask(onWire, raw.subarray(headerLength - 4, headerLength)) : onWire;
  return { fin, rsv, opcode, masked, payload, raw };
}
