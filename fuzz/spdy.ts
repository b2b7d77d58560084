// SPDY/3 targets: the frame parser over whole streams, and header blocks (raw and through one
// shared zlib context). Seeds: performance-reliability.md §7 and tailscale-sessionrecording.md §7.3.
import { inflateSync, constants as zlibConstants } from 'node:zlib';
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
  type SpdyHeaders,
  type SpdyLimits,
} from '../src/protocol/spdy/index';
import { SpdyProtocolError } from '../src/protocol/errors';
import { bits, chunksOf, type FuzzCase } from './lib/case';
import { mutatedArb, repeatedArb, type LengthField } from './lib/mutate';
import { FuzzFinding, bytesEqual, chunkingArb, invariant, optionBits, optionsArb, typedOnly, type FuzzTarget, type NamedSeed } from './lib/target';

const MiB = 1024 * 1024;

/** Limits a case runs under (2 option bits): the defaults, kubecast-like caps, and tiny ones that make every cap reachable. */
const LIMITS: readonly SpdyLimits[] = [
  {},
  { maxFrameLength: 64 * 1024 },
  { maxFrameLength: 512, maxHeaderBlockSize: 256, maxHeaderPairs: 4 },
  { maxFrameLength: 0, maxHeaderBlockSize: 8, maxHeaderPairs: 0 },
];

function limitsOf(options: number, shift: number): Required<SpdyLimits> {
  return { maxFrameLength: 16 * MiB, maxHeaderBlockSize: MiB, maxHeaderPairs: 1000, ...LIMITS[bits(options, shift, 2)] };
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/[\s|]/g, ''), 'hex'));
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

function synStream(streamId: number, block: Uint8Array): Buffer {
  return encodeControlFrame(1, 0, Buffer.concat([u32(streamId), u32(0), Buffer.from([0, 0]), block]));
}

/** A name/value block built field by field, so names may be empty, hold NUL or be any bytes. */
function rawBlock(pairs: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | string]>, count = pairs.length): Buffer {
  const fields = pairs.flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);
  return Buffer.concat([u32(count), ...fields.flatMap((field) => [u32(field.length), field])]);
}

/** The length and id fields of every frame of a (mostly) valid stream: where a lie hurts. */
function frameFields(bytes: Uint8Array): LengthField[] {
  const fields: LengthField[] = [];
  for (let offset = 0; offset + 8 <= bytes.length && fields.length < 256; ) {
    fields.push({ offset: offset + 5, size: 3 });
    if (bytes[offset] & 0x80) {
      fields.push({ offset: offset + 2, size: 2 }, { offset: offset, size: 2 });
      if (offset + 12 <= bytes.length) fields.push({ offset: offset + 8, size: 4 }); // stream id or SETTINGS count
    } else {
      fields.push({ offset, size: 4 });
    }
    offset += 8 + ((bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7]);
  }
  return fields;
}

/** The count and length fields of an uncompressed header block. */
function blockFields(block: Uint8Array): LengthField[] {
  const fields: LengthField[] = [{ offset: 0, size: 4 }];
  for (let offset = 4; offset + 4 <= block.length && fields.length < 256; ) {
    fields.push({ offset, size: 4 });
    offset += 4 + Buffer.from(block.buffer, block.byteOffset, block.byteLength).readUInt32BE(offset);
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Seeds

function frameSeeds(): NamedSeed[] {
  const stream = (name: string, bytes: Uint8Array, options = 0, chunking = 0): NamedSeed => ({ name, fuzzCase: { options, chunking, parts: [bytes] } });
  const kubectl = new SpdyEncoder();
  const syn = kubectl.synStream({ streamId: 1, headers: { streamtype: 'stdout' } });
  const data = new SpdyEncoder().data(5, Buffer.from('hello'));
  const big = new SpdyEncoder().data(1, new Uint8Array(64 * 1024));
  const zlibBomb = synStream(1, new HeaderBlockDeflater().deflate(Buffer.concat([u32(1), u32(MiB), Buffer.alloc(MiB), u32(0)])));
  const fourMiBBomb = synStream(1, new HeaderBlockDeflater().deflate(Buffer.concat([u32(1), u32(4 * MiB), Buffer.alloc(4 * MiB), u32(0)])));
  const seeds: NamedSeed[] = [
    ...[0, 1, 4, 7].map((n) => stream(`header truncated at ${n} bytes`, data.subarray(0, n))),
    stream('last payload byte missing', data.subarray(0, data.length - 1)),
    stream('a complete frame then 2 bytes of the next', Buffer.concat([data, data.subarray(0, 2)])),
    stream('two frames in one buffer', Buffer.concat([data, data])),
    stream('flags byte 0xff', Buffer.concat([data.subarray(0, 4), hex('ff'), data.subarray(5)])),
    stream('15-bit version 291', hex('81 23 00 06 00 00 00 04 00 00 00 01')),
    stream('15-bit version 257', hex('81 01 00 06 00 00 00 04 00 00 00 01')),
    stream('version 0', hex('80 00 00 06 00 00 00 04 00 00 00 01')),
    stream('control type 0', hex('80 03 00 00 00 00 00 00')),
    stream('data frame for stream 0', hex('00 00 00 00 00 00 00 01 aa')),
    stream('stream id 300', new SpdyEncoder().data(300, Buffer.from('x'))),
    stream('stream id 44', new SpdyEncoder().data(44, Buffer.from('x'))),
    stream('stream id 0x7fffffff', new SpdyEncoder().data(0x7fffffff, Buffer.from('x'))),
    stream('bit 31 set on a SYN_STREAM id', Buffer.concat([syn.subarray(0, 8), hex('80'), syn.subarray(9)])),
    stream('control-bit boundary 0x7f', hex('7f ff ff ff 00 00 00 00')),
    stream('control-bit boundary 0x80', hex('80 03 ff ff 00 00 00 00')),
    stream('length 0xffffff with no payload', hex('00 00 00 01 00 ff ff ff')),
    stream('a 64 KiB frame (three length bytes)', big),
    stream('a 64 KiB frame against a 64 KiB cap', big, 1),
    stream('tailscale control_frame_with_payload 80 03 00 01 00 00 00 01 05', hex('80 03 00 01 00 00 00 01 05')),
    stream('tailscale control_bit_set_not_spdy_frame 01 00…', hex('01 00 00 00 00 00 00 00')),
    stream('tailscale control_bit_not_set_not_spdy_frame 00…', new Uint8Array(8)),
    stream('SYN_STREAM payload of 5 bytes', encodeControlFrame(1, 0, new Uint8Array(5))),
    stream('SYN_REPLY payload of 3 bytes', encodeControlFrame(2, 0, new Uint8Array(3))),
    stream('PING payload of 3 bytes', encodeControlFrame(6, 0, new Uint8Array(3))),
    stream('HEADERS frame (type 8)', new SpdyEncoder().headers(3, { a: 'b' })),
    stream('SYN_STREAM cut mid-deflate, split across chunks', syn.subarray(0, syn.length - 3), 0, 2),
    stream('SYN_STREAM whole in 1-byte chunks', syn, 0, 1),
    stream('zlib garbage 78 9c ff fe fd in a SYN_REPLY', encodeControlFrame(2, 0, Buffer.concat([u32(1), hex('78 9c ff fe fd')]))),
    stream('zlib bomb: 1 MiB name of zeros', zlibBomb),
    stream('zlib bomb: 4 MiB name of zeros', fourMiBBomb),
    stream('zlib bomb against a 256-byte cap', zlibBomb, 2),
    stream('TLS ClientHello record header', hex('16 03 01 02 00 01 00 01 fc 03 03')),
    stream('TLS record header against a 64 KiB cap', hex('16 03 01 02 00 01 00 01 fc 03 03'), 1),
    stream('HTTP/1.1 200 OK on the hijacked stream', Buffer.from('HTTP/1.1 200 OK\r\n\r\n')),
    stream('invalid UTF-8 and \\r"\\\\ in stdout', new SpdyEncoder().data(3, Buffer.concat([hex('ff fe c3 28 e2 82'), Buffer.from('\r"\\')]))),
    stream('SETTINGS with a count that lies', encodeControlFrame(4, 0, Buffer.concat([u32(0xffffffff), new Uint8Array(8)]))),
    stream('unknown control type 0xffff and CREDENTIAL', Buffer.concat([encodeControlFrame(0xffff, 0, new Uint8Array(3)), encodeControlFrame(10, 0, new Uint8Array(0))])),
  ];
  return seeds;
}

function headerSeeds(): NamedSeed[] {
  const raw = (name: string, ...blocks: Uint8Array[]): NamedSeed => ({ name, fuzzCase: { options: 0, chunking: 0, parts: blocks } });
  const compressed = (name: string, blocks: Uint8Array[], limits = 0): NamedSeed => {
    const deflater = new HeaderBlockDeflater();
    return { name, fuzzCase: { options: 1 | (limits << 1), chunking: 0, parts: blocks.map((block) => deflater.deflate(block)) } };
  };
  const pairs = (n: number) => rawBlock(Array.from({ length: n }, (_, i) => [`h${i}`, 'x'] as const));
  const good = rawBlock([['streamtype', 'stdout']]);
  const cut = new HeaderBlockDeflater().deflate(encodeHeaderBlock({ streamtype: 'stdout', 'x-long': 'a fairly long value to compress' }));
  return [
    { name: 'zlib garbage 78 9c ff fe fd', fuzzCase: { options: 1, chunking: 0, parts: [hex('78 9c ff fe fd')] } },
    { name: 'a deflate stream cut mid-block', fuzzCase: { options: 1, chunking: 0, parts: [cut.subarray(0, cut.length >> 1)] } },
    raw('declared pair count off by two', rawBlock([['a', 'b']], 3)),
    raw('pair count 0xffffffff', u32(0xffffffff)),
    raw('pair count 0x80000000', u32(0x80000000)),
    raw('1001 pairs', pairs(1001)),
    compressed('1001 pairs, compressed', [pairs(1001)]),
    compressed('1 MiB name backed by zeros (bomb)', [Buffer.concat([u32(1), u32(MiB), Buffer.alloc(MiB), u32(0)])]),
    compressed('4 MiB name backed by zeros (bomb)', [Buffer.concat([u32(1), u32(4 * MiB), Buffer.alloc(4 * MiB), u32(0)])]),
    compressed('bomb against a 256-byte cap', [Buffer.concat([u32(1), u32(4096), Buffer.alloc(4096), u32(0)])], 2),
    raw('NUL-separated multi-values', rawBlock([['a', 'x\0y\0\0z']])),
    raw('64 KiB of NULs in one value', rawBlock([['a', Buffer.alloc(65536)]])),
    raw('duplicate and case-duplicate names', rawBlock([['a', '1'], ['a', '2'], ['A', '3']])),
    raw('empty names and values', rawBlock([['', ''], ['', 'x'], ['y', '']])),
    raw('name length running past the block', Buffer.concat([u32(1), u32(0xffffffff), Buffer.from('abcd')])),
    raw('value length running past the block', Buffer.concat([u32(1), u32(1), Buffer.from('a'), u32(0x7fffffff)])),
    raw('trailing bytes after the last pair', Buffer.concat([good, hex('00')])),
    raw('non-token and non-UTF-8 names', rawBlock([[hex('ff fe 20'), hex('c3 28')], ['x y:z', 'v']])),
    raw('__proto__ and constructor names', rawBlock([['__proto__', 'x'], ['constructor', 'y']])),
    compressed('three blocks through one context', [good, rawBlock([['streamtype', 'stdin']]), rawBlock([['streamtype', 'resize']])]),
  ];
}

// ---------------------------------------------------------------------------------------------
// Corpus and generators

let frameCorpus: Uint8Array[] | undefined;

/** Valid streams (kubectl's and a kubelet's, then random valid sequences) and the seeds. Built once. */
function framesCorpus(): Uint8Array[] {
  if (frameCorpus) return frameCorpus;
  const corpus: Uint8Array[] = [];
  const kubectl = new SpdyEncoder();
  corpus.push(
    Buffer.concat([
      ...['error', 'stdin', 'stdout', 'stderr', 'resize'].map((type, i) => kubectl.synStream({ streamId: 2 * i + 1, headers: { streamtype: type } })),
      kubectl.data(9, Buffer.from('{"Width":80,"Height":24}\n')),
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
  const frame = fc.oneof(
    fc.record({ kind: fc.constant('data' as const), id: fc.integer({ min: 1, max: 0x7fffffff }), payload: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({
      kind: fc.constantFrom('syn_stream' as const, 'syn_reply' as const, 'headers' as const),
      id: fc.integer({ min: 1, max: 0x7fffffff }),
      headers: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.array(fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 2 }), {
        maxKeys: 4,
      }),
    }),
    fc.record({ kind: fc.constantFrom('ping' as const, 'rst' as const, 'goaway' as const, 'window' as const, 'settings' as const), id: fc.nat({ max: 0x7fffffff }) }),
  );
  for (const specs of fc.sample(fc.array(frame, { minLength: 1, maxLength: 12 }), { seed: 4242, numRuns: 60 })) {
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
  // Seeds above a few KiB (the bombs) are not mutated: every mutation would pay for inflating them.
  for (const seed of frameSeeds()) if (seed.fuzzCase.parts[0].length <= 4096) corpus.push(seed.fuzzCase.parts[0]);
  frameCorpus = corpus;
  return corpus;
}

/** A frame from random fields: control bit, 15-bit version, type, flags, payload, and a length that may lie. */
const structuredFrame = fc
  .record({
    control: fc.boolean(),
    version: fc.oneof({ arbitrary: fc.constant(3), weight: 8 }, { arbitrary: fc.nat({ max: 0x7fff }), weight: 1 }),
    type: fc.oneof({ arbitrary: fc.nat({ max: 12 }), weight: 8 }, { arbitrary: fc.nat({ max: 0xffff }), weight: 1 }),
    word: fc.oneof(fc.nat({ max: 0x7fffffff }), fc.constantFrom(0, 1, 3, 5, 0x7fffffff)),
    flags: fc.nat({ max: 255 }),
    payload: fc.uint8Array({ maxLength: 64 }),
    lie: fc.option(fc.oneof(fc.nat({ max: 0xffffff }), fc.nat({ max: 80 })), { freq: 6 }),
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
    return Uint8Array.from(Buffer.concat([header, payload]));
  });

// Weights: the long repeated inputs cost ~1000 small cases each, so they come about 1 time in 100.
const frameStreamArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 20, arbitrary: fc.uint8Array({ maxLength: 1024 }) },
  { weight: 30, arbitrary: fc.array(structuredFrame, { maxLength: 8 }).map((frames) => Uint8Array.from(Buffer.concat(frames))) },
  { weight: 60, arbitrary: mutatedArb(framesCorpus, { lengthFields: frameFields, maxLength: 256 * 1024 }) },
  // Many small frames, for the parser's pending-bytes and scratch paths.
  { weight: 1, arbitrary: repeatedArb(fc.constantFrom(hex('00 00 00 01 00 00 00 01 61'), hex('80 03 00 06 00 00 00 04 00 00 00 01'), hex('00 00 00 03 00 00 00 00')), 64 * 1024) },
);

// ---------------------------------------------------------------------------------------------
// spdy-frames

interface ParseRun {
  frames: SpdyFrame[];
  error?: SpdyProtocolError;
  buffered: number;
}

function parse(input: Uint8Array, chunks: readonly Uint8Array[], limits: Required<SpdyLimits>): ParseRun {
  const parser = new SpdyParser(limits);
  const frames: SpdyFrame[] = [];
  for (const chunk of chunks) {
    const result = typedOnly('SpdyParser.push', [SpdyProtocolError], () => parser.push(chunk));
    if (result.error) {
      const error = result.error as SpdyProtocolError;
      // The parser wraps its own exceptions to keep its promise; a wrapped one is still our bug.
      invariant(error.cause === undefined, () => `SpdyParser hid an internal error as ${error.code}: ${error.message}`);
      const again = typedOnly('SpdyParser.push after an error', [SpdyProtocolError], () => parser.push(new Uint8Array([0])));
      invariant(again.error === error, 'a failed parser does not rethrow its first error');
      return { frames, error, buffered: parser.buffered };
    }
    frames.push(...result.value);
    invariant(parser.buffered <= 7 + limits.maxFrameLength, () => `buffered ${parser.buffered} above one maximal frame`);
  }
  return { frames, buffered: parser.buffered };
}

function checkFrame(frame: SpdyFrame, limits: Required<SpdyLimits>): void {
  const raw = Buffer.from(frame.raw.buffer, frame.raw.byteOffset, frame.raw.byteLength);
  invariant(raw.length >= 8 && raw.length === 8 + raw.readUIntBE(5, 3), () => `raw of ${raw.length} bytes does not match its length field`);
  invariant(raw.length - 8 <= limits.maxFrameLength, 'a frame above maxFrameLength was returned');
  if (frame.type === 'data') {
    invariant((raw[0] & 0x80) === 0, 'data frame with the control bit');
    invariant(frame.streamId === (raw.readUInt32BE(0) & 0x7fffffff) && frame.streamId !== 0, () => `data frame stream id ${frame.streamId}`);
    invariant(bytesEqual(frame.payload, raw.subarray(8)), 'data payload is not the frame tail');
    return;
  }
  invariant((raw[0] & 0x80) !== 0 && (raw.readUInt16BE(0) & 0x7fff) === 3, 'control frame without version 3');
  if (frame.type === 'unknown_control') invariant(bytesEqual(frame.payload, raw.subarray(8)), 'unknown control payload is not the frame tail');
  if (frame.type === 'syn_stream' || frame.type === 'syn_reply' || frame.type === 'headers') {
    checkHeaders(frame.headers, limits);
    invariant(frame.streamId >= 0 && frame.streamId <= 0x7fffffff, 'stream id above 31 bits');
  }
}

function checkHeaders(headers: SpdyHeaders, limits: Required<SpdyLimits>): void {
  invariant(headers.size <= limits.maxHeaderPairs, () => `${headers.size} names above maxHeaderPairs ${limits.maxHeaderPairs}`);
  for (const [name, values] of headers) {
    invariant(values.length > 0, `header ${JSON.stringify(name)} without values`);
    for (const value of values) invariant(!value.includes('\0'), `a value of ${JSON.stringify(name)} holds NUL`);
  }
}

function checkFrames(fuzzCase: FuzzCase): void {
  const input = fuzzCase.parts[0] ?? new Uint8Array(0);
  const limits = limitsOf(fuzzCase.options, 0);
  const chunked = parse(input, chunksOf(input, fuzzCase.chunking), limits);
  let consumed = 0;
  for (const frame of chunked.frames) {
    checkFrame(frame, limits);
    consumed += frame.raw.length;
  }
  // Checked after every push is done: a frame must not alias bytes the parser reuses later.
  invariant(bytesEqual(Buffer.concat(chunked.frames.map((f) => f.raw)), input.subarray(0, consumed)), 'frames are not the input, byte for byte');
  if (!chunked.error) invariant(consumed + chunked.buffered === input.length, () => `${consumed} in frames + ${chunked.buffered} buffered ≠ ${input.length}`);

  // The chunking never changes the verdict.
  const whole = parse(input, chunksOf(input, 0), limits);
  invariant(whole.error?.code === chunked.error?.code, () => `whole input: ${whole.error?.code ?? 'ok'}, chunked: ${chunked.error?.code ?? 'ok'}`);
  if (!chunked.error) {
    invariant(whole.frames.length === chunked.frames.length && whole.buffered === chunked.buffered, 'whole and chunked input give different frames');
    whole.frames.forEach((frame, i) => invariant(frame.type === chunked.frames[i].type, `frame ${i}: ${frame.type} vs ${chunked.frames[i].type}`));
  }
}

const framesTarget: FuzzTarget = {
  name: 'spdy-frames',
  about: 'SpdyParser over random, structured and mutated streams in random chunkings: typed errors only, byte-faithful frames, bounded buffer, chunking-independent verdict',
  arbitrary: () => fc.record({ options: optionsArb(optionBits(0, 2)), chunking: chunkingArb, parts: fc.tuple(frameStreamArb) }),
  seeds: frameSeeds,
  check: checkFrames,
  quickRuns: 1000,
};

// ---------------------------------------------------------------------------------------------
// spdy-headers

const headerPairArb = fc.tuple(
  fc.oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/) },
    { weight: 1, arbitrary: fc.constantFrom('streamtype', 'Streamtype', 'STREAMTYPE', '', ':status', '__proto__') },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }) },
  ),
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('stdin', 'stdout', 'stderr', 'error', 'resize', 'data', '') },
    { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  ),
);

const rawBlockArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: fc.array(headerPairArb, { maxLength: 6 }).map((pairs) => Uint8Array.from(rawBlock(pairs))) },
  {
    weight: 3,
    arbitrary: fc.array(headerPairArb, { maxLength: 6 }).chain((pairs) =>
      mutatedArb(() => [rawBlock(pairs)], { lengthFields: blockFields, maxLength: 64 * 1024 }),
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

/** A sequence of blocks; compressed ones share one deflate context, as a connection's do, and may then be mutated. */
const headerCaseArb: fc.Arbitrary<FuzzCase> = fc
  .record({
    compressed: fc.boolean(),
    limits: fc.nat({ max: 3 }),
    blocks: fc.array(rawBlockArb, { minLength: 1, maxLength: 4 }),
    compressedMutation: fc.option(fc.tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 7 })), { minLength: 1, maxLength: 3 }), fc.option(fc.nat())), {
      freq: 3,
    }),
  })
  .map(({ compressed, limits, blocks, compressedMutation }) => {
    if (!compressed) return { options: limits << 1, chunking: 0, parts: blocks };
    const deflater = new HeaderBlockDeflater();
    const parts = blocks.map((block) => deflater.deflate(block));
    if (compressedMutation) {
      // Bit flips and a truncation inside one compressed block: the shared context must fail typed.
      const [which, flips, cut] = compressedMutation;
      const index = which % parts.length;
      const damaged = Uint8Array.from(parts[index]);
      for (const [at, bit] of flips) if (damaged.length > 0) damaged[at % damaged.length] ^= 1 << bit;
      parts[index] = cut === null ? damaged : damaged.subarray(0, cut % (damaged.length + 1));
    }
    return { options: 1 | (limits << 1), chunking: 0, parts };
  });

function checkHeaderBlocks(fuzzCase: FuzzCase): void {
  const compressed = bits(fuzzCase.options, 0, 1) === 1;
  const limits = limitsOf(fuzzCase.options, 1);
  if (!compressed) {
    for (const block of fuzzCase.parts) {
      const result = typedOnly('decodeHeaderBlock', [SpdyProtocolError], () => decodeHeaderBlock(block, limits));
      if (result.error) continue;
      invariant(block.length <= limits.maxHeaderBlockSize, 'a block above maxHeaderBlockSize decoded');
      checkHeaders(result.value, limits);
      // Decoding is stable: what was decoded re-encodes to a block that decodes the same.
      const names = [...result.value.keys()];
      if (names.every((name) => name.length > 0 && !name.includes('\0'))) {
        const again = decodeHeaderBlock(encodeHeaderBlock(result.value), { ...limits, maxHeaderBlockSize: Number.MAX_SAFE_INTEGER });
        invariant(JSON.stringify([...again]) === JSON.stringify([...result.value]), 'decode(encode(headers)) differs from headers');
      }
    }
    return;
  }

  const inflater = new HeaderBlockInflater(limits);
  const outputs: Uint8Array[] = [];
  let failed: SpdyProtocolError | undefined;
  for (const block of fuzzCase.parts) {
    const result = typedOnly('HeaderBlockInflater.inflate', [SpdyProtocolError], () => inflater.inflate(block));
    if (result.error) {
      const error = result.error as SpdyProtocolError;
      if (failed) invariant(error === failed, 'a broken inflater threw a new error instead of its first');
      failed = error;
      continue;
    }
    invariant(!failed, 'a broken inflater inflated again');
    invariant(result.value.length <= limits.maxHeaderBlockSize, () => `inflated ${result.value.length} bytes past the cap ${limits.maxHeaderBlockSize}`);
    outputs.push(result.value);
    const decoded = typedOnly('decodeHeaderBlock', [SpdyProtocolError], () => decodeHeaderBlock(result.value, limits));
    if (decoded.value) checkHeaders(decoded.value, limits);
  }
  if (failed) return;
  // Differential: node's zlib over the whole connection (sync flushes) yields the same bytes.
  const all = Buffer.concat(fuzzCase.parts);
  let reference: { buffer: Buffer; consumed: number };
  try {
    const out = inflateSync(all, { dictionary: Buffer.from(spdy3Dictionary()), finishFlush: zlibConstants.Z_SYNC_FLUSH, info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    reference = { buffer: out.buffer, consumed: out.engine.bytesWritten };
  } catch (error) {
    throw new FuzzFinding(`pako inflated every block, node's zlib refuses the stream: ${String(error)}`);
  }
  // Past the end of a finished zlib stream the two may legitimately differ (trailing bytes).
  if (reference.consumed < all.length) return;
  invariant(bytesEqual(reference.buffer, Buffer.concat(outputs)), "pako and node's zlib inflate the stream differently");
}

const headersTarget: FuzzTarget = {
  name: 'spdy-headers',
  about: 'name/value blocks raw and through one shared inflater: typed errors only, caps hold, decode is stable, pako agrees with node zlib',
  arbitrary: () => headerCaseArb,
  seeds: headerSeeds,
  check: checkHeaderBlocks,
  quickRuns: 800,
};

export const spdyTargets: FuzzTarget[] = [framesTarget, headersTarget];
