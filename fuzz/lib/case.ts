// One fuzz case, in a form every target shares: switches, a chunking recipe and byte streams.
// Cases are plain bytes on disk (test/fixtures/fuzz/<target>/<hash>.bin), so a finding replays
// exactly, without fast-check, its seed or the generator that produced it; and a raw file dropped
// into a target's folder (no magic) is read as one stream with default switches, so hand-made seeds
// need no tooling.
import { createHash } from 'node:crypto';

export interface FuzzCase {
  /** Target-specific switches (direction, limits, tty, protocol…), read as bit fields. */
  options: number;
  /** How each stream is cut into chunks: 0 = whole, 1 = one byte at a time, else a PRNG seed. */
  chunking: number;
  /** The byte streams (e.g. client then server bytes). */
  parts: Uint8Array[];
}

const MAGIC = Buffer.from('KCF1');

export function encodeCase(fuzzCase: FuzzCase): Buffer {
  const head = Buffer.alloc(MAGIC.length + 9);
  MAGIC.copy(head, 0);
  head.writeUInt32BE(fuzzCase.options >>> 0, 4);
  head.writeUInt32BE(fuzzCase.chunking >>> 0, 8);
  head.writeUInt8(fuzzCase.parts.length, 12);
  const pieces: Uint8Array[] = [head];
  for (const part of fuzzCase.parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.byteLength);
    pieces.push(length, part);
  }
  return Buffer.concat(pieces);
}

export function decodeCase(bytes: Uint8Array): FuzzCase {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 13 || !buf.subarray(0, 4).equals(MAGIC)) return { options: 0, chunking: 0, parts: [Uint8Array.from(buf)] };
  const parts: Uint8Array[] = [];
  let offset = 13;
  for (let i = 0; i < buf.readUInt8(12); i++) {
    if (offset + 4 > buf.length) throw new Error(`fuzz case: part ${i} length runs past the end`);
    const length = buf.readUInt32BE(offset);
    if (offset + 4 + length > buf.length) throw new Error(`fuzz case: part ${i} runs past the end`);
    // A fresh copy each: targets may keep views, and the file buffer is shared.
    parts.push(Uint8Array.from(buf.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return { options: buf.readUInt32BE(4), chunking: buf.readUInt32BE(8), parts };
}

export function caseHash(fuzzCase: FuzzCase): string {
  return createHash('sha256').update(encodeCase(fuzzCase)).digest('hex').slice(0, 16);
}

/** Bits [shift, shift + count) of `options`. */
export function bits(options: number, shift: number, count: number): number {
  return Math.floor(options / 2 ** shift) % 2 ** count;
}

/** xorshift32: deterministic, tiny, good enough to place cuts. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/**
 * Cuts `data` into the chunks a socket might deliver. `salt` decorrelates the streams of one case.
 * Every chunk is a fresh buffer, as a socket read is: a view into one big input would hide code
 * that keeps a small view alive and so pins a whole chunk.
 */
export function chunksOf(data: Uint8Array, chunking: number, salt = 0): Uint8Array[] {
  return [...lazyChunks(data, chunking, salt)];
}

/** chunksOf one chunk at a time: nothing but the consumer holds a chunk once it moves on. */
export function* lazyChunks(data: Uint8Array, chunking: number, salt = 0): Generator<Uint8Array> {
  if (data.byteLength === 0) return;
  if (chunking === 0) {
    yield Uint8Array.from(data);
    return;
  }
  if (chunking === 1) {
    for (let i = 0; i < data.byteLength; i++) yield data.slice(i, i + 1);
    return;
  }
  const random = new Prng(chunking ^ Math.imul(salt + 1, 0x85ebca6b));
  // The low bits pick the scale: header-splitting bytes, small frames, MTU-sized reads, big reads.
  const scale = [3, 16, 300, 1460, 16384][chunking % 5];
  for (let offset = 0; offset < data.byteLength; ) {
    const size = 1 + random.below(scale);
    yield data.slice(offset, offset + size);
    offset += size;
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** A readable summary for reports: switches, chunking, and each stream as hex and text previews. */
export function describeCase(fuzzCase: FuzzCase, previewBytes = 256): string {
  const lines = [`options 0x${(fuzzCase.options >>> 0).toString(16)} chunking ${fuzzCase.chunking >>> 0}`];
  fuzzCase.parts.forEach((part, i) => {
    const shown = Buffer.from(part.buffer, part.byteOffset, Math.min(part.byteLength, previewBytes));
    const more = part.byteLength > previewBytes ? ` … (${part.byteLength - previewBytes} more)` : '';
    lines.push(`part ${i}: ${part.byteLength} bytes`);
    lines.push(`  hex  ${shown.toString('hex')}${more}`);
    lines.push(`  text ${JSON.stringify(shown.toString('latin1'))}${more}`);
  });
  return lines.join('\n');
}
