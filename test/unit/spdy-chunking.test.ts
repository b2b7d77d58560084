// Chunking invariance: however a byte stream is cut into chunks, SpdyParser returns the same frames,
// and their `raw`s concatenate to exactly the input.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpdyEncoder, SpdyParser, encodeControlFrame, type SpdyFrame } from '../../src/protocol/spdy/index';

type Headers = Record<string, string[]>;

type FrameSpec =
  | { kind: 'data'; streamId: number; fin: boolean; size: number; seed: number }
  | {
      kind: 'syn_stream';
      streamId: number;
      associatedStreamId: number;
      priority: number;
      slot: number;
      fin: boolean;
      unidirectional: boolean;
      headers: Headers;
    }
  | { kind: 'syn_reply' | 'headers'; streamId: number; fin: boolean; headers: Headers }
  | { kind: 'ping'; id: number }
  | { kind: 'settings'; flags: number; entries: Array<{ id: number; flags: number; value: number }> }
  | { kind: 'rst_stream'; streamId: number; status: number }
  | { kind: 'goaway'; lastGoodStreamId: number; status: number }
  | { kind: 'window_update'; streamId: number; delta: number }
  | { kind: 'unknown_control'; controlType: number; flags: number; payload: Uint8Array };

const KNOWN_TYPES = new Set([1, 2, 3, 4, 6, 7, 8, 9]);
const streamId = fc.integer({ min: 1, max: 0x7fffffff });
const u32 = fc.nat({ max: 0xffffffff });
const flags = fc.nat({ max: 0xff });
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
const headerValue = fc.string({ unit: 'grapheme', maxLength: 24 }).filter((value) => !value.includes('\0'));
const headers = fc.dictionary(headerName, fc.array(headerValue, { minLength: 1, maxLength: 3 }), { maxKeys: 6 });

function frameSpec(maxDataSize: number): fc.Arbitrary<FrameSpec> {
  const size = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: Math.min(64, maxDataSize) }), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: Math.min(4096, maxDataSize) }), weight: 3 },
    // Unbiased, so that frames near the 70 000-byte end (several TCP-sized chunks) really occur.
    { arbitrary: fc.noBias(fc.integer({ min: 0, max: maxDataSize })), weight: 2 },
  );
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('data' as const), streamId, fin: fc.boolean(), size, seed: u32 }), weight: 6 },
    {
      arbitrary: fc.record({
        kind: fc.constant('syn_stream' as const),
        streamId,
        associatedStreamId: fc.nat({ max: 0x7fffffff }),
        priority: fc.nat({ max: 7 }),
        slot: fc.nat({ max: 255 }),
        fin: fc.boolean(),
        unidirectional: fc.boolean(),
        headers,
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ kind: fc.constantFrom('syn_reply' as const, 'headers' as const), streamId, fin: fc.boolean(), headers }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('ping' as const), id: u32 }), weight: 1 },
    {
      arbitrary: fc.record({
        kind: fc.constant('settings' as const),
        flags,
        entries: fc.array(fc.record({ id: fc.nat({ max: 0xffffff }), flags, value: u32 }), { maxLength: 5 }),
      }),
      weight: 1,
    },
    { arbitrary: fc.record({ kind: fc.constant('rst_stream' as const), streamId, status: u32 }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('goaway' as const), lastGoodStreamId: fc.nat({ max: 0x7fffffff }), status: u32 }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('window_update' as const), streamId: fc.nat({ max: 0x7fffffff }), delta: fc.nat({ max: 0x7fffffff }) }), weight: 1 },
    {
      arbitrary: fc.record({
        kind: fc.constant('unknown_control' as const),
        controlType: fc.oneof(fc.constantFrom(0, 5, 10, 11), fc.nat({ max: 0xffff })).filter((type) => !KNOWN_TYPES.has(type)),
        flags,
        payload: fc.uint8Array({ maxLength: 40 }),
      }),
      weight: 1,
    },
  );
}

/** Deterministic filler: generating 70 000 random bytes through fast-check would dominate the run time. */
function filler(size: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Encodes the specs with one encoder (one zlib stream), like one direction of a connection. */
function encode(specs: FrameSpec[]): Buffer {
  const encoder = new SpdyEncoder();
  return Buffer.concat(
    specs.map((spec) => {
      switch (spec.kind) {
        case 'data':
          return encoder.data(spec.streamId, filler(spec.size, spec.seed), spec.fin);
        case 'syn_stream':
          return encoder.synStream(spec);
        case 'syn_reply':
          return encoder.synReply(spec.streamId, spec.headers, spec.fin);
        case 'headers':
          return encoder.headers(spec.streamId, spec.headers, spec.fin);
        case 'ping':
          return encoder.ping(spec.id);
        case 'settings':
          return encoder.settings(spec.entries, spec.flags);
        case 'rst_stream':
          return encoder.rstStream(spec.streamId, spec.status);
        case 'goaway':
          return encoder.goaway(spec.lastGoodStreamId, spec.status);
        case 'window_update':
          return encoder.windowUpdate(spec.streamId, spec.delta);
        case 'unknown_control':
          return encodeControlFrame(spec.controlType, spec.flags, spec.payload);
      }
    }),
  );
}

/** What the parser must report for a spec, in the form `describeFrame` produces. */
function expectedFrame(spec: FrameSpec): string {
  const fin = (value: boolean) => (value ? 1 : 0);
  switch (spec.kind) {
    case 'data':
      return describeParts('data', spec.streamId, fin(spec.fin), filler(spec.size, spec.seed));
    case 'syn_stream':
      return describeParts(
        'syn_stream',
        spec.streamId,
        spec.associatedStreamId,
        spec.priority,
        spec.slot,
        fin(spec.fin) | (spec.unidirectional ? 2 : 0),
        Object.entries(spec.headers),
      );
    case 'syn_reply':
    case 'headers':
      return describeParts(spec.kind, spec.streamId, fin(spec.fin), Object.entries(spec.headers));
    case 'ping':
      return describeParts('ping', spec.id);
    case 'settings':
      return describeParts('settings', spec.flags, spec.entries.map((entry) => [entry.id, entry.flags, entry.value]));
    case 'rst_stream':
      return describeParts('rst_stream', spec.streamId, spec.status);
    case 'goaway':
      return describeParts('goaway', spec.lastGoodStreamId, spec.status);
    case 'window_update':
      return describeParts('window_update', spec.streamId, spec.delta);
    case 'unknown_control':
      return describeParts('unknown_control', spec.controlType, spec.flags, spec.payload);
  }
}

function describeParts(...parts: unknown[]): string {
  return parts.map((part) => (part instanceof Uint8Array ? Buffer.from(part.buffer, part.byteOffset, part.length).toString('hex') : JSON.stringify(part))).join('|');
}

/** A comparable rendering of a parsed frame: type, ids, flags, payload bytes, headers. */
function describeFrame(frame: SpdyFrame): string {
  switch (frame.type) {
    case 'data':
      return describeParts('data', frame.streamId, frame.flags, frame.payload);
    case 'syn_stream':
      return describeParts('syn_stream', frame.streamId, frame.associatedStreamId, frame.priority, frame.slot, frame.flags, [...frame.headers]);
    case 'syn_reply':
    case 'headers':
      return describeParts(frame.type, frame.streamId, frame.flags, [...frame.headers]);
    case 'ping':
      return describeParts('ping', frame.id);
    case 'settings':
      return describeParts('settings', frame.flags, frame.entries.map((entry) => [entry.id, entry.flags, entry.value]));
    case 'rst_stream':
      return describeParts('rst_stream', frame.streamId, frame.status);
    case 'goaway':
      return describeParts('goaway', frame.lastGoodStreamId, frame.status);
    case 'window_update':
      return describeParts('window_update', frame.streamId, frame.delta);
    case 'unknown_control':
      return describeParts('unknown_control', frame.controlType, frame.flags, frame.payload);
  }
}

function parseChunks(chunks: Uint8Array[]): { frames: SpdyFrame[]; buffered: number } {
  const parser = new SpdyParser();
  const frames: SpdyFrame[] = [];
  for (const chunk of chunks) {
    for (const frame of parser.push(chunk)) frames.push(frame);
  }
  return { frames, buffered: parser.buffered };
}

/** Cuts `input` into chunks whose sizes cycle through `sizes`. */
function cut(input: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < input.length; i++) {
    const size = sizes[i % sizes.length];
    chunks.push(input.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

function assertSameFrames(frames: SpdyFrame[], buffered: number, input: Buffer, expected: string[], how: string): void {
  assert.equal(buffered, 0, `${how}: bytes left over`);
  assert.deepEqual(frames.map(describeFrame), expected, how);
  assert.ok(Buffer.concat(frames.map((frame) => frame.raw)).equals(input), `${how}: raw bytes differ from the input`);
}

const chunkSize = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 16 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 2048 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 100_000 }), weight: 1 },
);

describe('chunking invariance (fast-check)', () => {
  test('random frame sequences (data 0–70 000 bytes): whole, and in random chunkings, give the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(70_000), { minLength: 1, maxLength: 24, size: 'max' }), fc.array(chunkSize, { minLength: 1, maxLength: 40 }), (specs, sizes) => {
        const input = encode(specs);
        const expected = specs.map(expectedFrame);
        const whole = parseChunks([input]);
        assertSameFrames(whole.frames, whole.buffered, input, expected, 'whole');
        const chunked = parseChunks(cut(input, sizes));
        assertSameFrames(chunked.frames, chunked.buffered, input, expected, `chunk sizes ${sizes.join(',')}`);
      }),
      { seed: 0x5bd1e995, numRuns: 200 },
    );
  });

  test('moderate inputs split at every byte boundary into two pieces give the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(300), { minLength: 1, maxLength: 10 }), (specs) => {
        const input = encode(specs);
        const expected = specs.map(expectedFrame);
        for (let at = 0; at <= input.length; at++) {
          const { frames, buffered } = parseChunks([input.subarray(0, at), input.subarray(at)]);
          assertSameFrames(frames, buffered, input, expected, `split at ${at} of ${input.length}`);
        }
      }),
      { seed: 0x1b873593, numRuns: 40 },
    );
  });

  test('byte-at-a-time feeding gives the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(5000), { minLength: 1, maxLength: 12 }), (specs) => {
        const input = encode(specs);
        const { frames, buffered } = parseChunks(cut(input, [1]));
        assertSameFrames(frames, buffered, input, specs.map(expectedFrame), 'one byte per chunk');
      }),
      { seed: 0x2545f491, numRuns: 50 },
    );
  });

  test('an incomplete tail is held back, reported by `buffered`, and completed later', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(3000), { minLength: 1, maxLength: 8 }), fc.nat(), (specs, pick) => {
        const input = encode(specs);
        const at = pick % input.length;
        const parser = new SpdyParser();
        const first = parser.push(input.subarray(0, at));
        const consumed = first.reduce((sum, frame) => sum + frame.raw.length, 0);
        assert.equal(parser.buffered, at - consumed);
        const second = parser.push(input.subarray(at));
        assertSameFrames([...first, ...second], parser.buffered, input, specs.map(expectedFrame), `split at ${at}`);
      }),
      { seed: 0x61c88647, numRuns: 200 },
    );
  });
});

describe('chunking invariance (exhaustive, small)', () => {
  test('a kubectl-like exchange split at every pair of byte boundaries into three pieces', () => {
    const specs: FrameSpec[] = [
      { kind: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: ['error'] } },
      { kind: 'syn_stream', streamId: 3, associatedStreamId: 0, priority: 0, slot: 0, fin: false, unidirectional: false, headers: { streamtype: ['stdin'] } },
      { kind: 'data', streamId: 3, fin: false, size: 5, seed: 7 },
      { kind: 'ping', id: 1 },
      { kind: 'headers', streamId: 3, fin: true, headers: {} },
      { kind: 'data', streamId: 3, fin: true, size: 0, seed: 0 },
      { kind: 'rst_stream', streamId: 1, status: 5 },
      { kind: 'goaway', lastGoodStreamId: 0, status: 0 },
    ];
    const input = encode(specs);
    const expected = specs.map(expectedFrame);
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        const { frames, buffered } = parseChunks([input.subarray(0, a), input.subarray(a, b), input.subarray(b)]);
        assertSameFrames(frames, buffered, input, expected, `cuts at ${a} and ${b}`);
      }
    }
  });
});
