// Hostile input: a fixed-seed property run over random and mutated frame streams in random chunkings,
// and the named bad inputs of performance-reliability.md §7. The parser may refuse input only with a
// SpdyProtocolError, and its memory must stay bounded whatever the input claims.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deflate, Z_FINISH } from 'pako';
import fc from 'fast-check';
import {
  HeaderBlockDeflater,
  HeaderBlockInflater,
  SpdyEncoder,
  SpdyParser,
  decodeHeaderBlock,
  encodeControlFrame,
  encodeHeaderBlock,
  spdy3Dictionary,
  type SpdyFrame,
  type SpdyLimits,
} from '../../src/protocol/spdy/index';
import { SpdyProtocolError } from '../../src/protocol/errors';

const MiB = 1024 * 1024;

// A real `gc()` (without --expose-gc on the command line), so retained memory is measured, not garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function retainedBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[\s|]/g, ''), 'hex');
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

function synStream(streamId: number, block: Uint8Array): Buffer {
  return encodeControlFrame(1, 0, Buffer.concat([u32(streamId), u32(0), Buffer.from([0, 0]), block]));
}

function synReply(streamId: number, block: Uint8Array): Buffer {
  return encodeControlFrame(2, 0, Buffer.concat([u32(streamId), block]));
}

function assertSpdyError(fn: () => unknown, code: string, context = ''): SpdyProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SpdyProtocolError, `${context} expected SpdyProtocolError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `${context} ${caught.message}`);
  return caught;
}

/** Parses a whole header block sent as the first SYN_STREAM of a connection. */
function parseBlock(rawBlock: Uint8Array, limits?: SpdyLimits): SpdyFrame[] {
  return new SpdyParser(limits).push(synStream(1, new HeaderBlockDeflater().deflate(rawBlock)));
}

// ---------------------------------------------------------------------------------------------
// Corpus of valid streams to mutate: built once (a deflater per case would dominate the run time).

function buildCorpus(): Buffer[] {
  const corpus: Buffer[] = [];
  const kubectl = new SpdyEncoder();
  corpus.push(
    Buffer.concat([
      ...['error', 'stdin', 'stdout', 'stderr'].map((type, i) => kubectl.synStream({ streamId: 2 * i + 1, headers: { streamtype: type } })),
      kubectl.data(3, Buffer.from('echo hi\n')),
      kubectl.ping(1),
      kubectl.data(3, new Uint8Array(0), true),
      kubectl.rstStream(1, 5),
      kubectl.goaway(0),
    ]),
  );
  const server = new SpdyEncoder();
  corpus.push(
    Buffer.concat([
      server.synReply(1, {}),
      server.synReply(3, {}),
      server.data(5, Buffer.from('hi\r\n')),
      server.headers(5, { 'x-a': ['1', '2'] }),
      server.settings([{ id: 7, value: 65536 }]),
      server.windowUpdate(5, 1000),
      server.data(1, Buffer.from('{"metadata":{},"status":"Success"}'), true),
      encodeControlFrame(10, 0, hex('0001 00000004 deadbeef')),
      server.goaway(7, 0),
    ]),
  );
  // Random valid sequences, reproducible.
  const frame = fc.oneof(
    fc.record({ kind: fc.constant('data' as const), id: fc.integer({ min: 1, max: 0x7fffffff }), payload: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({
      kind: fc.constantFrom('syn_stream' as const, 'syn_reply' as const, 'headers' as const),
      id: fc.integer({ min: 1, max: 0x7fffffff }),
      headers: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 2 }), { maxKeys: 4 }),
    }),
    fc.record({ kind: fc.constantFrom('ping' as const, 'rst' as const, 'goaway' as const, 'window' as const, 'settings' as const), id: fc.nat({ max: 0x7fffffff }) }),
  );
  for (const specs of fc.sample(fc.array(frame, { minLength: 1, maxLength: 12 }), { seed: 4242, numRuns: 120 })) {
    const encoder = new SpdyEncoder();
    corpus.push(
      Buffer.concat(
        specs.map((spec) => {
          switch (spec.kind) {
            case 'data':
              return encoder.data(spec.id, spec.payload);
            case 'syn_stream':
              return encoder.synStream({ streamId: spec.id, headers: spec.headers });
            case 'syn_reply':
              return encoder.synReply(spec.id, spec.headers);
            case 'headers':
              return encoder.headers(spec.id, spec.headers);
            case 'ping':
              return encoder.ping(spec.id);
            case 'rst':
              return encoder.rstStream(spec.id || 1, 5);
            case 'goaway':
              return encoder.goaway(spec.id);
            case 'window':
              return encoder.windowUpdate(spec.id, spec.id);
            case 'settings':
              return encoder.settings([{ id: spec.id & 0xffffff, value: spec.id }]);
          }
        }),
      ),
    );
  }
  return corpus;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'drop'; at: number; count: number }
  | { kind: 'duplicate'; at: number; count: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'lie'; frame: number; length: number };

/** Offsets of the frame headers in a valid stream. */
function frameOffsets(stream: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 8 <= stream.length; offset += 8 + stream.readUIntBE(offset + 5, 3)) offsets.push(offset);
  return offsets;
}

const CORPUS = buildCorpus();
const CORPUS_OFFSETS = CORPUS.map(frameOffsets);

function mutate(input: Buffer, mutation: Mutation, offsets: number[]): Buffer {
  const at = input.length === 0 ? 0 : mutation.kind === 'lie' ? 0 : mutation.at % input.length;
  switch (mutation.kind) {
    case 'flip': {
      const copy = Buffer.from(input);
      if (copy.length > 0) copy[at] ^= 1 << mutation.bit;
      return copy;
    }
    case 'set': {
      const copy = Buffer.from(input);
      if (copy.length > 0) copy[at] = mutation.value;
      return copy;
    }
    case 'truncate':
      return input.subarray(0, at);
    case 'drop':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + mutation.count)]);
    case 'duplicate':
      return Buffer.concat([input.subarray(0, at + mutation.count), input.subarray(at)]);
    case 'insert':
      return Buffer.concat([input.subarray(0, at), mutation.bytes, input.subarray(at)]);
    case 'lie': {
      // Rewrite one frame's 24-bit length field: the classic "length lies about the payload".
      const copy = Buffer.from(input);
      const offset = offsets[mutation.frame % Math.max(1, offsets.length)];
      if (offset !== undefined && offset + 8 <= copy.length) copy.writeUIntBE(mutation.length, offset + 5, 3);
      return copy;
    }
  }
}

const position = fc.nat({ max: 1 << 20 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('drop' as const), at: position, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: position, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('lie' as const),
    frame: fc.nat({ max: 64 }),
    length: fc.oneof(fc.nat({ max: 0xffffff }), fc.nat({ max: 64 }), fc.constantFrom(0, 0xffffff, 0x10000)),
  }),
);

/** A frame built from random fields: control bit, 15-bit version, type, flags, payload, and a length that may lie. */
const structuredFrame = fc
  .record({
    control: fc.boolean(),
    version: fc.oneof({ arbitrary: fc.constant(3), weight: 8 }, { arbitrary: fc.nat({ max: 0x7fff }), weight: 1 }),
    type: fc.oneof({ arbitrary: fc.nat({ max: 12 }), weight: 8 }, { arbitrary: fc.nat({ max: 0xffff }), weight: 1 }),
    word: fc.nat({ max: 0x7fffffff }),
    flags: fc.nat({ max: 255 }),
    payload: fc.uint8Array({ maxLength: 64 }),
    lie: fc.option(fc.nat({ max: 0xffffff }), { freq: 8 }),
  })
  .map(({ control, version, type, word, flags, payload, lie }) => {
    const header = Buffer.alloc(8);
    if (control) {
      header.writeUInt16BE(0x8000 | version, 0);
      header.writeUInt16BE(type, 2);
    } else {
      header.writeUInt32BE(word, 0);
    }
    header[4] = flags;
    header.writeUIntBE(lie ?? payload.length, 5, 3);
    return Buffer.concat([header, payload]);
  });

const LIMITS: SpdyLimits[] = [{}, { maxFrameLength: 64 * 1024 }, { maxFrameLength: 512, maxHeaderBlockSize: 256, maxHeaderPairs: 4 }];

type FuzzInput =
  | { source: 'random'; bytes: Uint8Array }
  | { source: 'structured'; frames: Buffer[] }
  | { source: 'mutated'; corpus: number; mutations: Mutation[] };

const fuzzInput: fc.Arbitrary<FuzzInput> = fc.oneof(
  { arbitrary: fc.record({ source: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 1024, size: 'max' }) }), weight: 2 },
  { arbitrary: fc.record({ source: fc.constant('structured' as const), frames: fc.array(structuredFrame, { maxLength: 8, size: 'max' }) }), weight: 3 },
  {
    arbitrary: fc.record({ source: fc.constant('mutated' as const), corpus: fc.nat({ max: CORPUS.length - 1 }), mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) }),
    weight: 5,
  },
);

describe('fuzz: nothing but SpdyProtocolError escapes, memory stays bounded', () => {
  test('100 000 fixed-seed cases of random, structured and mutated streams in random chunkings (and whole: same verdict)', (t) => {
    const outcomes = new Map<string, number>();
    let cases = 0;
    let bytesFed = 0;
    const baseline = process.memoryUsage();
    let peakHeap = baseline.heapUsed;
    let peakArrayBuffers = baseline.arrayBuffers;
    const started = performance.now();

    fc.assert(
      fc.property(fuzzInput, fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8, size: 'max' }), fc.nat({ max: LIMITS.length - 1 }), (input, sizes, limitIndex) => {
        cases++;
        let bytes: Buffer;
        if (input.source === 'random') bytes = Buffer.from(input.bytes);
        else if (input.source === 'structured') bytes = Buffer.concat(input.frames);
        else {
          bytes = input.mutations.reduce((current, mutation) => mutate(current, mutation, CORPUS_OFFSETS[input.corpus]), CORPUS[input.corpus]);
        }
        bytesFed += bytes.length;
        const limits = LIMITS[limitIndex];
        const cap = (limits.maxFrameLength ?? 16 * MiB) + 8;
        const parser = new SpdyParser(limits);
        let outcome = 'ok';
        let consumed = 0;
        for (let offset = 0, i = 0; offset < bytes.length; i++) {
          const chunk = bytes.subarray(offset, offset + sizes[i % sizes.length]);
          offset += chunk.length;
          try {
            for (const frame of parser.push(chunk)) consumed += frame.raw.length;
          } catch (error) {
            if (!(error instanceof SpdyProtocolError)) throw error;
            // A wrapped internal error would mean a bug of ours that merely happened to be typed.
            assert.equal(error.cause, undefined, `internal error: ${error.message}`);
            outcome = error.code;
            break;
          }
          assert.ok(parser.buffered <= cap, `buffered ${parser.buffered} > ${cap}`);
        }
        if (outcome === 'ok') assert.equal(consumed + parser.buffered, bytes.length, 'every byte is a frame or pending');
        // Chunking never changes the verdict: the same bytes in one piece end the same way.
        let wholeOutcome = 'ok';
        try {
          const frames = new SpdyParser(limits).push(bytes);
          if (outcome === 'ok') assert.equal(frames.reduce((sum, frame) => sum + frame.raw.length, 0), consumed);
        } catch (error) {
          wholeOutcome = error instanceof SpdyProtocolError ? error.code : String(error);
        }
        assert.equal(wholeOutcome, outcome, 'whole vs chunked');
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (cases % 2000 === 0) {
          const usage = process.memoryUsage();
          peakHeap = Math.max(peakHeap, usage.heapUsed);
          peakArrayBuffers = Math.max(peakArrayBuffers, usage.arrayBuffers);
        }
      }),
      { seed: 20240917, numRuns: 100_000, endOnFailure: true },
    );

    const seconds = (performance.now() - started) / 1000;
    const summary = [...outcomes].map(([name, count]) => `${name}=${count}`).join(' ');
    t.diagnostic(`spdy fuzz: ${cases} cases, ${(bytesFed / MiB).toFixed(1)} MiB in ${seconds.toFixed(1)} s; ${summary}`);
    assert.ok(cases >= 100_000);
    assert.ok(seconds < 50, `fuzz run took ${seconds.toFixed(1)} s`);
    // Every outcome class is exercised, so the run is not silently degenerate.
    for (const code of ['ok', 'SPDY_BAD_FRAME', 'SPDY_BAD_VERSION', 'SPDY_ZLIB', 'SPDY_BAD_HEADER_BLOCK', 'SPDY_FRAME_TOO_LARGE']) {
      assert.ok((outcomes.get(code) ?? 0) > 0, `no case ended with ${code}`);
    }
    assert.ok(peakHeap - baseline.heapUsed < 256 * MiB, `heap grew by ${((peakHeap - baseline.heapUsed) / MiB).toFixed(0)} MiB`);
    assert.ok(peakArrayBuffers - baseline.arrayBuffers < 256 * MiB, `array buffers grew by ${((peakArrayBuffers - baseline.arrayBuffers) / MiB).toFixed(0)} MiB`);
  });
});

describe('named bad inputs', () => {
  test('zlib bomb: a few KB of deflate inflating to 8 MiB → SPDY_HEADER_BLOCK_TOO_LARGE, quickly, without big allocations', () => {
    const rawBlock = Buffer.concat([u32(1), u32(8 * MiB), Buffer.alloc(8 * MiB), u32(0)]);
    const block = new HeaderBlockDeflater().deflate(rawBlock);
    assert.ok(block.length < 16 * 1024, `the bomb is ${block.length} bytes`);
    const frame = synStream(1, block);
    collectGarbage();
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    assertSpdyError(() => new SpdyParser().push(frame), 'SPDY_HEADER_BLOCK_TOO_LARGE');
    const elapsed = performance.now() - started;
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
    // Inflating it all would hold 8 MiB; stopping at the cap holds at most 1 MiB plus one output chunk.
    assert.ok(grown < 4 * MiB, `array buffers grew by ${(grown / MiB).toFixed(1)} MiB`);
  });

  test('zlib bomb against a small cap stops within one output chunk of it', () => {
    const inflater = new HeaderBlockInflater({ maxHeaderBlockSize: 1000 });
    const block = new HeaderBlockDeflater().deflate(new Uint8Array(1001));
    assertSpdyError(() => inflater.inflate(block), 'SPDY_HEADER_BLOCK_TOO_LARGE');
    // The context is now untrustworthy: it stays broken.
    assertSpdyError(() => inflater.inflate(new HeaderBlockDeflater().deflate(new Uint8Array(4))), 'SPDY_HEADER_BLOCK_TOO_LARGE');
  });

  test('a block of exactly maxHeaderBlockSize bytes is accepted', () => {
    const value = 'v'.repeat(1000 - 4 - 8 - 1);
    const frames = parseBlock(encodeHeaderBlock({ a: value }), { maxHeaderBlockSize: 1000 });
    assert.equal(frames[0].type === 'syn_stream' && frames[0].headers.get('a')?.[0], value);
  });

  for (const count of [0xffffffff, 0x80000000, 1001]) {
    test(`pair count ${count} → SPDY_TOO_MANY_HEADERS before anything is sized from it`, () => {
      assertSpdyError(() => parseBlock(u32(count)), 'SPDY_TOO_MANY_HEADERS');
      assertSpdyError(() => decodeHeaderBlock(u32(count)), 'SPDY_TOO_MANY_HEADERS');
    });
  }

  test('1001 real pairs → SPDY_TOO_MANY_HEADERS; 1000 are fine', () => {
    const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'x']));
    assertSpdyError(() => parseBlock(encodeHeaderBlock(pairs(1001))), 'SPDY_TOO_MANY_HEADERS');
    const [frame] = parseBlock(encodeHeaderBlock(pairs(1000)));
    assert.equal(frame.type === 'syn_stream' && frame.headers.size, 1000);
  });

  test('lengths running past the block → SPDY_BAD_HEADER_BLOCK', () => {
    const cases: Array<[string, Buffer]> = [
      ['block shorter than the count', hex('00 00 00')],
      ['count larger than the pairs that can fit', Buffer.concat([u32(3), u32(0), u32(0)])],
      ['declared pair count off by two', Buffer.concat([u32(3), u32(1), Buffer.from('a'), u32(1), Buffer.from('b')])],
      ['name length past the end', Buffer.concat([u32(1), u32(0xffffffff), Buffer.from('abcd')])],
      ['value length past the end', Buffer.concat([u32(1), u32(1), Buffer.from('a'), u32(0x7fffffff)])],
      ['value length field cut', Buffer.concat([u32(1), u32(1), Buffer.from('a'), hex('00 00')])],
      ['trailing bytes after the last pair', Buffer.concat([u32(1), u32(1), Buffer.from('a'), u32(1), Buffer.from('b'), hex('00')])],
    ];
    for (const [name, rawBlock] of cases) {
      assertSpdyError(() => decodeHeaderBlock(rawBlock), 'SPDY_BAD_HEADER_BLOCK', name);
      assertSpdyError(() => parseBlock(rawBlock), 'SPDY_BAD_HEADER_BLOCK', name);
    }
  });

  test('zlib garbage 78 9c ff fe fd → SPDY_ZLIB', () => {
    assertSpdyError(() => new SpdyParser().push(synReply(1, hex('78 9c ff fe fd'))), 'SPDY_ZLIB');
    assertSpdyError(() => new HeaderBlockInflater().inflate(hex('78 9c ff fe fd')), 'SPDY_ZLIB');
  });

  test('garbage after a good first block → SPDY_ZLIB on the bad one', () => {
    const deflater = new HeaderBlockDeflater();
    const parser = new SpdyParser();
    parser.push(synStream(1, deflater.deflate(encodeHeaderBlock({ streamtype: 'error' }))));
    assertSpdyError(() => parser.push(synStream(3, hex('ff ff ff ff ff'))), 'SPDY_ZLIB');
  });

  test('a deflate stream cut mid-block → a typed error (the block inflates short)', () => {
    const block = new HeaderBlockDeflater().deflate(encodeHeaderBlock({ streamtype: 'stdout', 'x-long': 'a fairly long value to compress' }));
    const cut = block.subarray(0, Math.floor(block.length / 2));
    assertSpdyError(() => new SpdyParser().push(synStream(1, cut)), 'SPDY_BAD_HEADER_BLOCK');
  });

  test('a zlib stream that the sender finished: its block decodes, the next block → SPDY_ZLIB', () => {
    const deflate = new Deflate({ level: 9, dictionary: spdy3Dictionary() });
    const out: Uint8Array[] = [];
    deflate.onData = (chunk) => {
      out.push(chunk);
    };
    deflate.push(encodeHeaderBlock({ streamtype: 'error' }), Z_FINISH);
    const parser = new SpdyParser();
    const [first] = parser.push(synStream(1, Buffer.concat(out)));
    assert.deepEqual(first.type === 'syn_stream' && first.headers, new Map([['streamtype', ['error']]]));
    assertSpdyError(() => parser.push(synStream(3, hex('c2 2e 55 5c 92 92 99 07 00 00 00 ff ff'))), 'SPDY_ZLIB');
  });

  test('a TLS ClientHello on the stream looks like a data frame for stream 0x16030102 of 65 537 bytes: buffered, no frames, no error', () => {
    const parser = new SpdyParser();
    const hello = hex('16 03 01 02 00 01 00 01 fc 03 03');
    assert.deepEqual(parser.push(Buffer.concat([hello, Buffer.alloc(500, 0x42)])), []);
    assert.equal(parser.buffered, hello.length + 500);
    // Were the rest of those 65 537 bytes to arrive, it would be returned as that (nonsense) data frame.
    const [frame] = parser.push(Buffer.alloc(65_537 - 3 - 500));
    assert.ok(frame.type === 'data' && frame.streamId === 0x16030102 && frame.payload.length === 65_537);
  });

  test('with a 64 KiB frame cap the TLS bytes are refused at once with SPDY_FRAME_TOO_LARGE', () => {
    assertSpdyError(() => new SpdyParser({ maxFrameLength: 64 * 1024 }).push(hex('16 03 01 02 00 01 00 01 fc 03 03')), 'SPDY_FRAME_TOO_LARGE');
  });

  test('"HTTP/1.1 200 OK\\r\\n\\r\\n" is a data header for stream 0x48545450 of 3 223 089 bytes: buffered under the default cap, refused under 1 MiB', () => {
    const http = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(http), []);
    assert.equal(parser.buffered, http.length);
    assertSpdyError(() => new SpdyParser({ maxFrameLength: MiB }).push(http), 'SPDY_FRAME_TOO_LARGE');
  });

  test('length 0xffffff with no payload: incomplete, only the 8 bytes buffered', () => {
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(hex('00 00 00 01 00 ff ff ff')), []);
    assert.equal(parser.buffered, 8);
    assert.deepEqual(parser.push(hex('80 03 00 06 00 ff ff ff')), []);
    assert.equal(parser.buffered, 16);
  });

  test('a frame declaring more than a small maxFrameLength → SPDY_FRAME_TOO_LARGE immediately, nothing buffered', () => {
    const parser = new SpdyParser({ maxFrameLength: 100 });
    assertSpdyError(() => parser.push(hex('00 00 00 01 00 00 00 65')), 'SPDY_FRAME_TOO_LARGE');
    assert.equal(parser.buffered, 0);
    assertSpdyError(() => new SpdyParser({ maxFrameLength: 100 }).push(hex('80 03 00 01 00 00 10 00')), 'SPDY_FRAME_TOO_LARGE');
  });

  test('a trickle of 1-byte chunks towards a 16 MiB frame costs bytes, not one object per chunk', () => {
    const parser = new SpdyParser();
    parser.push(hex('00 00 00 01 00 ff ff ff'));
    const source = new Uint8Array(200_000);
    const before = retainedBytes();
    for (let i = 0; i < source.length; i++) parser.push(source.subarray(i, i + 1)); // distinct chunks, like a socket's
    const retained = retainedBytes() - before;
    assert.equal(parser.buffered, 200_008);
    // 200 000 bytes in 4 KiB scratch buffers; one view object per chunk would retain ~15 MiB here.
    assert.ok(retained < 2 * MiB, `retained ${(retained / MiB).toFixed(1)} MiB`);
  });

  test('64 KiB of NULs in one value → 65 537 empty values; empty names and values, duplicate and case-duplicate names', () => {
    const nuls = Buffer.concat([u32(1), u32(1), Buffer.from('a'), u32(65536), Buffer.alloc(65536)]);
    const [frame] = parseBlock(nuls);
    assert.equal(frame.type === 'syn_stream' && frame.headers.get('a')?.length, 65537);
    const odd = Buffer.concat([
      u32(4),
      ...[['', ''], ['a', '1'], ['a', '2'], ['A', '3']].flatMap(([name, value]) => [u32(name.length), Buffer.from(name), u32(value.length), Buffer.from(value)]),
    ]);
    const [oddFrame] = parseBlock(odd);
    assert.deepEqual(oddFrame.type === 'syn_stream' && oddFrame.headers, new Map([['', ['']], ['a', ['1', '2']], ['A', ['3']]]));
  });

  test('a repeated name whose values are 300 000 NULs each merges without blowing the stack', () => {
    const value = Buffer.alloc(300_000);
    const pair = Buffer.concat([u32(1), Buffer.from('a'), u32(value.length), value]);
    const rawBlock = Buffer.concat([u32(2), pair, pair]);
    const headers = decodeHeaderBlock(rawBlock);
    assert.equal(headers.get('a')?.length, 2 * 300_001);
    const [frame] = parseBlock(rawBlock);
    assert.equal(frame.type === 'syn_stream' && frame.headers.get('a')?.length, 2 * 300_001);
  });

  test('non-UTF-8 and non-token names decode (with replacement characters), they do not throw', () => {
    const rawBlock = Buffer.concat([u32(1), u32(3), hex('ff fe 20'), u32(2), hex('c3 28')]);
    const [frame] = parseBlock(rawBlock);
    assert.equal(frame.type === 'syn_stream' && frame.headers.size, 1);
  });

  test('a SYN_STREAM cut mid-deflate across chunks still decodes once complete', () => {
    const bytes = synStream(1, new HeaderBlockDeflater().deflate(encodeHeaderBlock({ streamtype: 'resize' })));
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(bytes.subarray(0, 25)), []);
    const [frame] = parser.push(bytes.subarray(25));
    assert.deepEqual(frame.type === 'syn_stream' && frame.headers, new Map([['streamtype', ['resize']]]));
  });
});
