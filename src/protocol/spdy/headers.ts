// SPDY/3 name/value (header) blocks: the uncompressed layout, and the per-direction zlib contexts
// that every SYN_STREAM / SYN_REPLY / HEADERS block of a connection shares (never reset; each block
// ends with a sync flush). Facts: ../shared/reference/kubectl-exec-protocol.md §2.

import { Deflate, Inflate, Z_SYNC_FLUSH } from 'pako';
import { SpdyProtocolError } from '../errors';
import { spdy3Dictionary } from './dictionary';
import { DEFAULT_SPDY_LIMITS, type SpdyHeaders, type SpdyLimits } from './frame';

/** Each pair needs at least its two 32-bit length fields. */
const MIN_PAIR_BYTES = 8;
const VALUE_SEPARATOR = 0;

/** Fills in the defaults and rejects nonsensical limits (a programmer error, not wire input). */
export function resolveSpdyLimits(limits?: SpdyLimits): Required<SpdyLimits> {
  const resolved = { ...DEFAULT_SPDY_LIMITS };
  for (const key of Object.keys(resolved) as (keyof SpdyLimits)[]) {
    const value = limits?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`SpdyLimits.${key} must be a non-negative integer, got ${value}`);
    resolved[key] = value;
  }
  return resolved;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

function badBlock(message: string): SpdyProtocolError {
  return new SpdyProtocolError('SPDY_BAD_HEADER_BLOCK', `header block: ${message}`);
}

/**
 * Decodes an uncompressed SPDY/3 name/value block. Names are kept as they are on the wire (SPDY
 * requires lower case); a value holding NUL bytes becomes several values; a name that appears twice
 * gets the values of both (kubectl's reader would refuse it, a recorder keeps what it saw).
 * Every count and length is checked against the bytes that remain, so nothing is sized from the wire.
 */
export function decodeHeaderBlock(block: Uint8Array, limits?: SpdyLimits): SpdyHeaders {
  const { maxHeaderBlockSize, maxHeaderPairs } = resolveSpdyLimits(limits);
  if (block.length > maxHeaderBlockSize) {
    throw new SpdyProtocolError('SPDY_HEADER_BLOCK_TOO_LARGE', `header block of ${block.length} bytes exceeds the limit of ${maxHeaderBlockSize}`);
  }
  if (block.length < 4) throw badBlock(`${block.length} bytes, too short for the pair count`);
  const count = readUint32(block, 0);
  if (count > maxHeaderPairs) {
    throw new SpdyProtocolError('SPDY_TOO_MANY_HEADERS', `header block declares ${count} pairs, the limit is ${maxHeaderPairs}`);
  }
  if (count > (block.length - 4) / MIN_PAIR_BYTES) throw badBlock(`${count} pairs cannot fit in ${block.length} bytes`);

  const text = asBuffer(block);
  const headers: SpdyHeaders = new Map();
  let offset = 4;
  for (let pair = 0; pair < count; pair++) {
    const nameEnd = readField(block, offset, 'name', pair);
    const name = text.toString('utf8', offset + 4, nameEnd);
    offset = nameEnd;
    const valueEnd = readField(block, offset, 'value', pair);
    const values = splitValues(text, offset + 4, valueEnd);
    offset = valueEnd;
    const existing = headers.get(name);
    if (existing === undefined) headers.set(name, values);
    else for (const value of values) existing.push(value); // no spread: a value may hold ~1M NULs
  }
  // A sync-flushed block ends exactly after its last pair; leftovers would be the start of the
  // next block for kubectl's reader, i.e. the two sides would disagree about the stream.
  if (offset !== block.length) throw badBlock(`${block.length - offset} bytes after the last pair`);
  return headers;
}

/** Returns the end offset of the length-prefixed field at `offset`, after checking it fits. */
function readField(block: Uint8Array, offset: number, what: string, pair: number): number {
  if (block.length - offset < 4) throw badBlock(`pair ${pair}: ${what} length runs past the end`);
  const length = readUint32(block, offset);
  if (length > block.length - offset - 4) throw badBlock(`pair ${pair}: ${what} of ${length} bytes runs past the end`);
  return offset + 4 + length;
}

function splitValues(text: Buffer, start: number, end: number): string[] {
  const values: string[] = [];
  let from = start;
  for (;;) {
    const nul = text.indexOf(VALUE_SEPARATOR, from);
    if (nul === -1 || nul >= end) break;
    values.push(text.toString('utf8', from, nul));
    from = nul + 1;
  }
  values.push(text.toString('utf8', from, end));
  return values;
}

/**
 * Encodes a name/value block (uncompressed). Several values of one name are joined with NUL.
 * Names are written as given; SPDY peers require them lower-case and unique.
 */
export function encodeHeaderBlock(headers: SpdyHeaders | Record<string, string | string[]>): Uint8Array {
  const entries = headers instanceof Map ? [...headers.entries()] : Object.entries(headers);
  const encoded: Buffer[] = [];
  let size = 4;
  for (const [name, value] of entries) {
    const values = typeof value === 'string' ? [value] : value;
    if (name.length === 0) throw new RangeError('header names must not be empty');
    if (name.includes('\0')) throw new RangeError(`header name ${JSON.stringify(name)} contains NUL`);
    for (const single of values) {
      if (single.includes('\0')) throw new RangeError(`a value of header ${JSON.stringify(name)} contains NUL (NUL separates values)`);
    }
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(values.join('\0'), 'utf8');
    encoded.push(nameBytes, valueBytes);
    size += 8 + nameBytes.length + valueBytes.length;
  }
  const block = Buffer.allocUnsafe(size);
  block.writeUInt32BE(entries.length, 0);
  let offset = 4;
  for (const field of encoded) {
    block.writeUInt32BE(field.length, offset);
    block.set(field, offset + 4);
    offset += 4 + field.length;
  }
  return block;
}

/** pako's output chunk size: header blocks are small, and a bomb is stopped within one chunk of the cap. */
const ZLIB_CHUNK_SIZE = 8 * 1024;

function concatChunks(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * The receiving zlib context of one direction of one connection. Feed it every header block of that
 * direction, in order, even blocks you do not care about: skipping one desynchronises all later ones.
 * After any error it stays broken (the shared context can no longer be trusted).
 */
export class HeaderBlockInflater {
  private readonly zlib: Inflate;
  private readonly maxBlockSize: number;
  private chunks: Uint8Array[] = [];
  private size = 0;
  private failure: SpdyProtocolError | undefined;

  constructor(limits?: SpdyLimits) {
    this.maxBlockSize = resolveSpdyLimits(limits).maxHeaderBlockSize;
    // windowBits 15 without +32: a zlib wrapper only (no gzip auto-detection).
    this.zlib = new Inflate({ windowBits: 15, dictionary: spdy3Dictionary(), chunkSize: ZLIB_CHUNK_SIZE });
    this.zlib.onData = (chunk) => this.collect(chunk);
  }

  /** Inflates one compressed block (one frame's worth) and returns its uncompressed bytes. */
  inflate(compressed: Uint8Array): Uint8Array {
    if (this.failure) throw this.failure;
    if (this.zlib.ended) {
      this.failure = new SpdyProtocolError('SPDY_ZLIB', 'header block after the end of the zlib stream');
      throw this.failure;
    }
    this.chunks = [];
    this.size = 0;
    try {
      if (!this.zlib.push(compressed, Z_SYNC_FLUSH)) {
        throw new SpdyProtocolError('SPDY_ZLIB', `header block does not inflate: ${this.zlib.msg || `zlib status ${this.zlib.err}`}`);
      }
      return concatChunks(this.chunks, this.size);
    } catch (error) {
      this.failure =
        error instanceof SpdyProtocolError ? error : new SpdyProtocolError('SPDY_ZLIB', `header block does not inflate: ${String(error)}`);
      throw this.failure;
    } finally {
      this.chunks = [];
    }
  }

  private collect(chunk: Uint8Array): void {
    this.size += chunk.length;
    // Throwing here aborts pako's loop, so a bomb costs at most the cap plus one chunk.
    if (this.size > this.maxBlockSize) {
      throw new SpdyProtocolError('SPDY_HEADER_BLOCK_TOO_LARGE', `header block inflates past the limit of ${this.maxBlockSize} bytes`);
    }
    this.chunks.push(chunk);
  }
}

export interface HeaderBlockDeflaterOptions {
  /** zlib level; 9 is what kubectl (spdystream) uses. */
  level?: number;
}

/**
 * The sending zlib context of one direction of one connection: level 9, the SPDY/3 dictionary,
 * one sync flush per block. The first block starts `78 f9 e3 c6 a7 c2`, every block ends `00 00 ff ff`.
 */
export class HeaderBlockDeflater {
  private readonly zlib: Deflate;
  private chunks: Uint8Array[] = [];
  private size = 0;

  constructor(options: HeaderBlockDeflaterOptions = {}) {
    // legacyHash: canonical zlib output, byte-identical to the reference vectors (and to Node's zlib).
    this.zlib = new Deflate({
      level: options.level ?? 9,
      windowBits: 15,
      dictionary: spdy3Dictionary(),
      chunkSize: ZLIB_CHUNK_SIZE,
      legacyHash: true,
    });
    this.zlib.onData = (chunk) => {
      this.chunks.push(chunk);
      this.size += chunk.length;
    };
  }

  /** Compresses one uncompressed block, ending on a sync-flush boundary. */
  deflate(block: Uint8Array): Uint8Array {
    this.chunks = [];
    this.size = 0;
    try {
      if (!this.zlib.push(block, Z_SYNC_FLUSH)) throw new Error(`deflate failed: ${this.zlib.msg}`);
      return concatChunks(this.chunks, this.size);
    } finally {
      this.chunks = [];
    }
  }
}
