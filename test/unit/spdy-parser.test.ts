// SpdyParser: the peer's (tailscale sessionrecording) frame tests re-expressed for this API, plus the
// bugs of that parser asserted the correct way round, plus kubectl's real header blocks.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  SpdyParser,
  HeaderBlockDeflater,
  HeaderBlockInflater,
  encodeHeaderBlock,
  decodeHeaderBlock,
  type SpdyFrame,
  type SpdyHeaders,
  type SpdyLimits,
} from '../../src/protocol/spdy/index';
import { SpdyProtocolError } from '../../src/protocol/errors';

/** Bytes from a hex string; spaces and `|` are ignored. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[\s|]/g, ''), 'hex');
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
}

/** A control frame written by hand (version 3 unless told), independent of the encoder under test. */
function control(type: number, flags: number, payload: Uint8Array, version = 3): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x8000 | version, 0);
  header.writeUInt16BE(type, 2);
  header.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([header, payload]);
}

function data(streamId: number, flags: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(streamId >>> 0, 0);
  header.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([header, payload]);
}

function synStreamPayload(streamId: number, block: Uint8Array, associated = 0, priorityByte = 0, slot = 0): Buffer {
  return Buffer.concat([u32(streamId), u32(associated), Buffer.from([priorityByte, slot]), block]);
}

function headersOf(record: Record<string, string[]>): SpdyHeaders {
  return new Map(Object.entries(record));
}

function parseAll(bytes: Uint8Array, limits?: SpdyLimits): SpdyFrame[] {
  return new SpdyParser(limits).push(bytes);
}

function only(bytes: Uint8Array, limits?: SpdyLimits): SpdyFrame {
  const frames = parseAll(bytes, limits);
  assert.equal(frames.length, 1, `expected exactly one frame, got ${frames.length}`);
  return frames[0];
}

function assertSpdyError(fn: () => unknown, code: string): SpdyProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SpdyProtocolError, `expected SpdyProtocolError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.protocol, 'spdy');
  return caught;
}

// kubectl-exec-protocol.md §2 "Test vectors": kubectl's four SYN_STREAM blocks for `exec -i`, one zlib stream.
const KUBECTL_BLOCKS = [
  '78f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff',
  'c22e555c92929907000000ffff',
  'c22ac5565c92925f5a02000000ffff',
  'c229975a5404000000ffff',
].map(hex);
const KUBECTL_STREAM_TYPES = ['error', 'stdin', 'stdout', 'stderr'];
const KUBECTL_FIRST_SYN_STREAM = hex(
  '80 03 00 01 00 00 00 29 | 00 00 00 01 | 00 00 00 00 | 00 00 | 78f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff',
);
const kubectlSynStreams = () => KUBECTL_BLOCKS.map((block, index) => control(1, 0, synStreamPayload(2 * index + 1, block)));

describe('Test_spdyFrame_Parse (peer cases)', () => {
  test('control_frame_syn_stream: a SYN_STREAM with an empty header block', () => {
    const frame = only(control(1, 0, synStreamPayload(1, new Uint8Array(0))));
    assert.equal(frame.type, 'syn_stream');
    assert.equal(frame.type === 'syn_stream' && frame.streamId, 1);
    assert.equal(frame.type === 'syn_stream' && frame.headers.size, 0);
  });

  test('control_frame_syn_reply: a SYN_REPLY with an empty header block', () => {
    const frame = only(hex('80 03 00 02 00 00 00 04 00 00 00 05'));
    assert.equal(frame.type, 'syn_reply');
    if (frame.type !== 'syn_reply') return;
    assert.equal(frame.streamId, 5);
    assert.equal(frame.fin, false);
    assert.equal(frame.headers.size, 0);
  });

  test('control_frame_headers: type 8, version 3 is accepted', () => {
    const frame = only(hex('80 03 00 08 01 00 00 04 00 00 00 07'));
    assert.equal(frame.type, 'headers');
    if (frame.type !== 'headers') return;
    assert.equal(frame.streamId, 7);
    assert.equal(frame.fin, true);
  });

  test('data_frame_stream_id_5', () => {
    const frame = only(hex('00 00 00 05 00 00 00 03 61 62 63'));
    assert.equal(frame.type, 'data');
    if (frame.type !== 'data') return;
    assert.equal(frame.streamId, 5);
    assert.equal(frame.fin, false);
    assert.equal(Buffer.from(frame.payload).toString(), 'abc');
  });

  test('frame_with_incomplete_header: 7 bytes give no frame and no error', () => {
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(hex('80 03 00 01 00 00 00')), []);
    assert.equal(parser.buffered, 7);
  });

  test('frame_with_incomplete_payload: declares 2 bytes, has 0 → no frame, buffered', () => {
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(hex('00 00 00 01 00 00 00 02')), []);
    assert.equal(parser.buffered, 8);
    const frames = parser.push(hex('68 69'));
    assert.equal(frames.length, 1);
    assert.equal(parser.buffered, 0);
  });

  test("control_bit_set_not_spdy_frame: 01 00… is a valid data frame for stream 0x01000000 (peer's 7-bit mask bug rejected it)", () => {
    const frame = only(hex('01 00 00 00 00 00 00 00'));
    assert.equal(frame.type, 'data');
    assert.equal(frame.type === 'data' && frame.streamId, 0x01000000);
  });

  test('control_bit_not_set_not_spdy_frame: all zeros is a data frame for stream 0 → SPDY_BAD_FRAME', () => {
    assertSpdyError(() => parseAll(new Uint8Array(8)), 'SPDY_BAD_FRAME');
  });
});

describe('Test_spdyFrame_parseHeaders (peer cases)', () => {
  test('syn_stream_with_header: streamtype stdin', () => {
    const deflater = new HeaderBlockDeflater();
    const block = deflater.deflate(encodeHeaderBlock({ streamtype: 'stdin' }));
    const frame = only(control(1, 0, synStreamPayload(3, block)));
    assert.equal(frame.type, 'syn_stream');
    if (frame.type !== 'syn_stream') return;
    assert.deepEqual(frame.headers, headersOf({ streamtype: ['stdin'] }));
  });

  test('syn_ping: a PING has an id and no headers', () => {
    const frame = only(hex('80 03 00 06 00 00 00 04 00 00 00 01'));
    assert.equal(frame.type, 'ping');
    assert.equal(frame.type === 'ping' && frame.id, 1);
    assert.equal('headers' in frame, false);
  });

  test('syn_reply_headers: foo/bar and bar/baz', () => {
    const block = new HeaderBlockDeflater().deflate(encodeHeaderBlock({ foo: 'bar', bar: 'baz' }));
    const frame = only(control(2, 0, Buffer.concat([u32(1), block])));
    assert.equal(frame.type, 'syn_reply');
    if (frame.type !== 'syn_reply') return;
    assert.deepEqual(frame.headers, headersOf({ foo: ['bar'], bar: ['baz'] }));
  });

  test('syn_reply_no_headers: 4-byte payload → no headers, the zlib stream is not touched', () => {
    const parser = new SpdyParser();
    const [reply] = parser.push(hex('80 03 00 02 00 00 00 04 00 00 00 01'));
    assert.equal(reply.type === 'syn_reply' && reply.headers.size, 0);
    // The next block still carries the zlib header: had the empty reply advanced the context, it would fail.
    const [syn] = parser.push(KUBECTL_FIRST_SYN_STREAM);
    assert.deepEqual(syn.type === 'syn_stream' && syn.headers, headersOf({ streamtype: ['error'] }));
  });

  test('syn_stream_too_short_payload: 5 bytes → SPDY_BAD_FRAME', () => {
    assertSpdyError(() => parseAll(control(1, 0, hex('00 00 00 01 00'))), 'SPDY_BAD_FRAME');
  });

  test('syn_reply_too_short_payload: 3 bytes → SPDY_BAD_FRAME', () => {
    assertSpdyError(() => parseAll(control(2, 0, hex('00 00 01'))), 'SPDY_BAD_FRAME');
  });

  test('syn_ping_too_short_payload: 3 bytes → SPDY_BAD_FRAME', () => {
    assertSpdyError(() => parseAll(control(6, 0, hex('00 00 01'))), 'SPDY_BAD_FRAME');
  });

  test('not_a_control_frame: a data frame never advances the zlib context, even when its payload is a valid block', () => {
    const parser = new SpdyParser();
    const frames = parser.push(Buffer.concat([data(1, 0, KUBECTL_BLOCKS[0]), KUBECTL_FIRST_SYN_STREAM]));
    assert.equal(frames.length, 2);
    assert.equal(frames[0].type, 'data');
    assert.deepEqual(frames[1].type === 'syn_stream' && frames[1].headers, headersOf({ streamtype: ['error'] }));
  });
});

describe('Test_spdyFrame_parseHeaders_decompressionBomb (peer branch cases)', () => {
  test('a block inflating past 1 MiB is rejected with SPDY_HEADER_BLOCK_TOO_LARGE', () => {
    const raw = Buffer.concat([u32(1), u32(2 * 1024 * 1024), Buffer.alloc(2 * 1024 * 1024), u32(0)]);
    const block = new HeaderBlockDeflater().deflate(raw);
    assert.ok(block.length < 8 * 1024, `bomb is ${block.length} bytes`);
    assertSpdyError(() => parseAll(control(1, 0, synStreamPayload(1, block))), 'SPDY_HEADER_BLOCK_TOO_LARGE');
  });

  test('a 16-byte value still parses', () => {
    const block = new HeaderBlockDeflater().deflate(encodeHeaderBlock({ streamtype: '0123456789abcdef' }));
    const frame = only(control(1, 0, synStreamPayload(1, block)));
    assert.deepEqual(frame.type === 'syn_stream' && frame.headers, headersOf({ streamtype: ['0123456789abcdef'] }));
  });

  test('pair count 0xFFFFFFFF is rejected (SPDY_TOO_MANY_HEADERS) without allocating from it', () => {
    const block = new HeaderBlockDeflater().deflate(u32(0xffffffff));
    assertSpdyError(() => parseAll(control(1, 0, synStreamPayload(1, block))), 'SPDY_TOO_MANY_HEADERS');
  });
});

describe("fixes of the peer's bugs", () => {
  test('stream ids 128, 129, 300 and 0x7fffffff are distinct (peer masked data stream ids to 7 bits)', () => {
    const ids = [128, 129, 300, 0x7fffffff, 1, 44, 259, 3];
    const frames = parseAll(Buffer.concat(ids.map((id) => data(id, 0, Buffer.from([id & 0xff])))));
    assert.deepEqual(
      frames.map((frame) => frame.type === 'data' && frame.streamId),
      ids,
    );
  });

  test('the reserved X bit is dropped from SYN_STREAM stream and associated ids (peer stored all 32 bits)', () => {
    const frame = only(control(1, 0, synStreamPayload(0x80000001, new Uint8Array(0), 0x80000003, 0xe0, 9)));
    assert.equal(frame.type, 'syn_stream');
    if (frame.type !== 'syn_stream') return;
    assert.equal(frame.streamId, 1);
    assert.equal(frame.associatedStreamId, 3);
    assert.equal(frame.priority, 7);
    assert.equal(frame.slot, 9);
  });

  test('the X bit is dropped from every 31-bit field (SYN_REPLY, HEADERS, RST_STREAM, GOAWAY, WINDOW_UPDATE)', () => {
    const frames = parseAll(
      Buffer.concat([
        control(2, 0, u32(0x80000005)),
        control(8, 0, u32(0xffffffff)),
        control(3, 0, Buffer.concat([u32(0x80000007), u32(5)])),
        control(7, 0, Buffer.concat([u32(0x80000009), u32(0)])),
        control(9, 0, Buffer.concat([u32(0x8000000b), u32(0x80010000)])),
      ]),
    );
    assert.deepEqual(
      frames.map((frame) => ('streamId' in frame ? frame.streamId : frame.type === 'goaway' ? frame.lastGoodStreamId : -1)),
      [5, 0x7fffffff, 7, 9, 11],
    );
    assert.equal(frames[4].type === 'window_update' && frames[4].delta, 0x10000);
  });

  test('several frames in one chunk are all returned, in order (peer returned one per call)', () => {
    const parser = new SpdyParser();
    const chunk = Buffer.concat([
      data(1, 0, Buffer.from('one')),
      hex('80 03 00 06 00 00 00 04 00 00 00 02'),
      data(3, 1, Buffer.from('two')),
      ...kubectlSynStreams(),
      hex('00 00 00 05 00'), // start of a next frame stays buffered
    ]);
    const frames = parser.push(chunk);
    assert.deepEqual(
      frames.map((frame) => frame.type),
      ['data', 'ping', 'data', 'syn_stream', 'syn_stream', 'syn_stream', 'syn_stream'],
    );
    assert.equal(parser.buffered, 5);
  });

  test('a control frame with a 15-bit version above 255 is not version 3 (peer masked the version to 7 bits)', () => {
    for (const version of [0x0103, 0x0123, 0x0101, 0x7f03]) {
      assertSpdyError(() => parseAll(control(6, 0, u32(1), version)), 'SPDY_BAD_VERSION');
    }
  });

  test('HEADERS blocks are inflated: a HEADERS block between two SYN_STREAMs does not desync the next one', () => {
    const deflater = new HeaderBlockDeflater();
    const parser = new SpdyParser();
    const frames = parser.push(
      Buffer.concat([
        control(1, 0, synStreamPayload(1, deflater.deflate(encodeHeaderBlock({ streamtype: 'error' })))),
        control(8, 0, Buffer.concat([u32(1), deflater.deflate(encodeHeaderBlock({ 'x-trailer': ['a', 'b'] }))])),
        control(1, 0, synStreamPayload(3, deflater.deflate(encodeHeaderBlock({ streamtype: 'stdout' })))),
      ]),
    );
    assert.deepEqual(frames[1].type === 'headers' && frames[1].headers, headersOf({ 'x-trailer': ['a', 'b'] }));
    assert.deepEqual(frames[2].type === 'syn_stream' && frames[2].headers, headersOf({ streamtype: ['stdout'] }));
  });

  test('header blocks of a direction share one zlib stream across pushes and across frame types', () => {
    const deflater = new HeaderBlockDeflater();
    const parser = new SpdyParser();
    const blocks = Array.from({ length: 20 }, (_, i) => ({ n: String(i), name: `h${i}` }));
    blocks.forEach(({ n, name }, i) => {
      const block = deflater.deflate(encodeHeaderBlock({ [name]: n }));
      const frame = i % 3 === 0 ? control(1, 0, synStreamPayload(2 * i + 1, block)) : control(i % 3 === 1 ? 2 : 8, 0, Buffer.concat([u32(i + 1), block]));
      const [parsed] = parser.push(frame);
      assert.ok('headers' in parsed);
      assert.deepEqual(parsed.headers, headersOf({ [name]: [n] }));
    });
  });
});

describe("kubectl's real header blocks (kubectl-exec-protocol.md §2 test vectors)", () => {
  test('the four blocks, fed as one stream to one inflater, decode to error/stdin/stdout/stderr', () => {
    const inflater = new HeaderBlockInflater();
    const decoded = KUBECTL_BLOCKS.map((block) => decodeHeaderBlock(inflater.inflate(block)));
    assert.deepEqual(
      decoded,
      KUBECTL_STREAM_TYPES.map((type) => headersOf({ streamtype: [type] })),
    );
  });

  test('the four SYN_STREAM frames decode to streamtype error, stdin, stdout, stderr on streams 1, 3, 5, 7', () => {
    const frames = parseAll(Buffer.concat(kubectlSynStreams()));
    assert.equal(frames.length, 4);
    frames.forEach((frame, index) => {
      assert.equal(frame.type, 'syn_stream');
      if (frame.type !== 'syn_stream') return;
      assert.equal(frame.streamId, 2 * index + 1);
      assert.equal(frame.associatedStreamId, 0);
      assert.equal(frame.priority, 0);
      assert.equal(frame.flags, 0);
      assert.deepEqual(frame.headers, headersOf({ streamtype: [KUBECTL_STREAM_TYPES[index]] }));
    });
  });

  test('the same four frames fed one byte at a time decode identically', () => {
    const parser = new SpdyParser();
    const bytes = Buffer.concat(kubectlSynStreams());
    const frames: SpdyFrame[] = [];
    for (let i = 0; i < bytes.length; i++) frames.push(...parser.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(
      frames.map((frame) => frame.type === 'syn_stream' && frame.headers.get('streamtype')?.[0]),
      KUBECTL_STREAM_TYPES,
    );
    assert.deepEqual(Buffer.concat(frames.map((frame) => frame.raw)), bytes);
  });

  test('the first SYN_STREAM frame bytes parse to stream 1, length 0x29, streamtype error', () => {
    const frame = only(KUBECTL_FIRST_SYN_STREAM);
    assert.equal(frame.type, 'syn_stream');
    if (frame.type !== 'syn_stream') return;
    assert.equal(frame.streamId, 1);
    assert.equal(frame.raw.length, 8 + 0x29);
    assert.deepEqual(frame.headers, headersOf({ streamtype: ['error'] }));
  });

  test('a later block alone is not a zlib stream: skipping the first header block → SPDY_ZLIB', () => {
    assertSpdyError(() => new HeaderBlockInflater().inflate(KUBECTL_BLOCKS[1]), 'SPDY_ZLIB');
  });
});

describe('control frame types', () => {
  test('RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE decode into typed frames', () => {
    const frames = parseAll(
      Buffer.concat([
        control(3, 0, Buffer.concat([u32(3), u32(5)])),
        control(4, 1, Buffer.concat([u32(2), u32(0x01000004), u32(100), u32(0x02000007), u32(0xffffffff)])),
        control(6, 0, u32(0xfffffffe)),
        control(7, 0, Buffer.concat([u32(7), u32(2)])),
        control(9, 0, Buffer.concat([u32(0), u32(65536)])),
      ]),
    );
    const plain = frames.map(({ raw: _raw, ...rest }) => rest);
    assert.deepEqual(plain, [
      { type: 'rst_stream', streamId: 3, status: 5 },
      {
        type: 'settings',
        flags: 1,
        entries: [
          { flags: 1, id: 4, value: 100 },
          { flags: 2, id: 7, value: 0xffffffff },
        ],
      },
      { type: 'ping', id: 0xfffffffe },
      { type: 'goaway', lastGoodStreamId: 7, status: 2 },
      { type: 'window_update', streamId: 0, delta: 65536 },
    ]);
  });

  test('SYN_STREAM flags: FIN and UNIDIRECTIONAL', () => {
    const frame = only(control(1, 3, synStreamPayload(1, new Uint8Array(0))));
    assert.ok(frame.type === 'syn_stream' && frame.fin && frame.unidirectional && frame.flags === 3);
  });

  test('a data frame with flags 0xff keeps its flags; only FIN is interpreted', () => {
    const frame = only(data(9, 0xff, new Uint8Array(0)));
    assert.ok(frame.type === 'data' && frame.flags === 0xff && frame.fin);
  });

  test('unknown control types 5 (NOOP) and 10 (CREDENTIAL) are reported and the parser continues', () => {
    const parser = new SpdyParser();
    const frames = parser.push(
      Buffer.concat([control(5, 0, new Uint8Array(0)), control(10, 7, hex('01 02 03')), data(1, 0, Buffer.from('after')), KUBECTL_FIRST_SYN_STREAM]),
    );
    assert.deepEqual(
      frames.map((frame) => frame.type),
      ['unknown_control', 'unknown_control', 'data', 'syn_stream'],
    );
    const credential = frames[1];
    assert.ok(credential.type === 'unknown_control');
    assert.equal(credential.controlType, 10);
    assert.equal(credential.flags, 7);
    assert.deepEqual(Buffer.from(credential.payload), hex('01 02 03'));
  });

  test('control types 0, 11 and 0xffff are unknown_control too, not errors', () => {
    const frames = parseAll(Buffer.concat([control(0, 0, new Uint8Array(0)), control(11, 0, hex('aa')), control(0xffff, 0, new Uint8Array(0))]));
    assert.deepEqual(
      frames.map((frame) => frame.type === 'unknown_control' && frame.controlType),
      [0, 11, 0xffff],
    );
  });

  test('version 2 and version 0 control frames → SPDY_BAD_VERSION', () => {
    assertSpdyError(() => parseAll(control(6, 0, u32(1), 2)), 'SPDY_BAD_VERSION');
    assertSpdyError(() => parseAll(control(6, 0, u32(1), 0)), 'SPDY_BAD_VERSION');
  });

  test('the version is checked as soon as the 8-byte header is in, before the payload', () => {
    const parser = new SpdyParser();
    assertSpdyError(() => parser.push(hex('80 02 00 01 00 10 00 00')), 'SPDY_BAD_VERSION');
  });

  test('fixed-size control frames must have exactly their SPDY/3 size', () => {
    const cases: Array<[number, number]> = [
      [3, 7], [3, 9], [6, 3], [6, 5], [7, 4], [7, 12], [9, 7], [9, 9],
    ];
    for (const [type, length] of cases) {
      assertSpdyError(() => parseAll(control(type, 0, new Uint8Array(length))), 'SPDY_BAD_FRAME');
    }
  });

  test('SETTINGS: the count is checked against the payload before use', () => {
    assertSpdyError(() => parseAll(control(4, 0, new Uint8Array(3))), 'SPDY_BAD_FRAME');
    assertSpdyError(() => parseAll(control(4, 0, u32(0xffffffff))), 'SPDY_BAD_FRAME');
    assertSpdyError(() => parseAll(control(4, 0, Buffer.concat([u32(2), new Uint8Array(8)]))), 'SPDY_BAD_FRAME');
    assertSpdyError(() => parseAll(control(4, 0, Buffer.concat([u32(1), new Uint8Array(9)]))), 'SPDY_BAD_FRAME');
    const empty = only(control(4, 0, u32(0)));
    assert.deepEqual(empty.type === 'settings' && empty.entries, []);
  });

  test('a SYN_STREAM of exactly 10 bytes has no headers and does not touch zlib', () => {
    const parser = new SpdyParser();
    const [empty] = parser.push(control(1, 0, synStreamPayload(1, new Uint8Array(0))));
    assert.equal(empty.type === 'syn_stream' && empty.headers.size, 0);
    const [next] = parser.push(KUBECTL_FIRST_SYN_STREAM);
    assert.deepEqual(next.type === 'syn_stream' && next.headers, headersOf({ streamtype: ['error'] }));
  });
});

describe('buffers and views', () => {
  test('a frame inside one chunk is a view of it (no copy); payload is a view of raw', () => {
    const chunk = Buffer.concat([data(1, 0, Buffer.from('hello')), data(3, 0, Buffer.from('world'))]);
    const [first, second] = parseAll(chunk);
    assert.ok(first.type === 'data' && second.type === 'data');
    assert.equal(first.raw.buffer, chunk.buffer);
    assert.equal(first.raw.byteOffset, chunk.byteOffset);
    assert.equal(second.raw.byteOffset, chunk.byteOffset + 13);
    assert.equal(first.payload.buffer, chunk.buffer);
    assert.equal(first.payload.byteOffset, first.raw.byteOffset + 8);
    assert.equal(first.raw.length, 13);
  });

  test('a frame straddling chunks is assembled once, exactly', () => {
    const frame = data(1, 1, Buffer.alloc(100_000, 7));
    const parser = new SpdyParser();
    const frames: SpdyFrame[] = [];
    for (let offset = 0; offset < frame.length; offset += 3000) frames.push(...parser.push(frame.subarray(offset, offset + 3000)));
    assert.equal(frames.length, 1);
    assert.deepEqual(Buffer.from(frames[0].raw), frame);
    assert.equal(parser.buffered, 0);
  });

  test('a big frame in many tiny chunks stays linear (no re-concatenation per chunk)', () => {
    const frame = data(1, 0, Buffer.alloc(2 * 1024 * 1024, 1));
    const parser = new SpdyParser();
    const started = performance.now();
    let frames: SpdyFrame[] = [];
    for (let offset = 0; offset < frame.length; offset += 16) frames = frames.concat(parser.push(frame.subarray(offset, offset + 16)));
    const elapsed = performance.now() - started;
    assert.equal(frames.length, 1);
    assert.deepEqual(Buffer.from(frames[0].raw), frame);
    // 131 072 pushes; a quadratic implementation would copy ~128 GiB here.
    assert.ok(elapsed < 5000, `took ${elapsed.toFixed(0)} ms`);
  });

  test('empty chunks are harmless', () => {
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(new Uint8Array(0)), []);
    parser.push(hex('00 00 00 01'));
    assert.deepEqual(parser.push(new Uint8Array(0)), []);
    assert.equal(parser.push(hex('00 00 00 00')).length, 1);
  });

  test('plain Uint8Array input works like Buffer input', () => {
    const bytes = new Uint8Array(Buffer.concat([data(1, 0, Buffer.from('x')), KUBECTL_FIRST_SYN_STREAM]));
    const frames = parseAll(bytes);
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[1].type === 'syn_stream' && frames[1].headers, headersOf({ streamtype: ['error'] }));
  });
});

describe('limits and errors', () => {
  test('a frame longer than maxFrameLength → SPDY_FRAME_TOO_LARGE as soon as its header is seen', () => {
    const parser = new SpdyParser({ maxFrameLength: 1024 });
    assertSpdyError(() => parser.push(hex('00 00 00 01 00 00 04 01')), 'SPDY_FRAME_TOO_LARGE');
    const split = new SpdyParser({ maxFrameLength: 1024 });
    assert.deepEqual(split.push(hex('80 03 00 00 00')), []);
    assertSpdyError(() => split.push(hex('00 04 01')), 'SPDY_FRAME_TOO_LARGE');
  });

  test('exactly maxFrameLength is accepted', () => {
    const frame = only(data(1, 0, new Uint8Array(1024)), { maxFrameLength: 1024 });
    assert.equal(frame.type === 'data' && frame.payload.length, 1024);
  });

  test('after an error the parser is poisoned: later pushes throw the same error', () => {
    const parser = new SpdyParser();
    const error = assertSpdyError(() => parser.push(new Uint8Array(8)), 'SPDY_BAD_FRAME');
    assert.throws(() => parser.push(data(1, 0, Buffer.from('fine'))), (thrown) => thrown === error);
    assert.throws(() => parser.push(new Uint8Array(0)), (thrown) => thrown === error);
    assert.equal(parser.buffered, 0);
  });

  test('a data frame for stream 0 is refused when its header arrives, split or not', () => {
    const parser = new SpdyParser();
    assert.deepEqual(parser.push(hex('00 00')), []);
    assertSpdyError(() => parser.push(hex('00 00 00 00 00 05')), 'SPDY_BAD_FRAME');
  });

  test('a zlib error in a header block → SPDY_ZLIB', () => {
    assertSpdyError(() => parseAll(control(2, 0, Buffer.concat([u32(1), hex('78 9c ff fe fd')]))), 'SPDY_ZLIB');
  });

  test('a block compressed against another dictionary → SPDY_ZLIB', () => {
    // 78 f9 + DICTID 00 00 00 01: not the SPDY/3 dictionary.
    assertSpdyError(() => parseAll(control(2, 0, Buffer.concat([u32(1), hex('78 f9 00 00 00 01 63 00 00')]))), 'SPDY_ZLIB');
  });

  test('limits are configurable: maxHeaderPairs', () => {
    const block = new HeaderBlockDeflater().deflate(encodeHeaderBlock({ a: '1', b: '2', c: '3' }));
    assertSpdyError(() => parseAll(control(2, 0, Buffer.concat([u32(1), block])), { maxHeaderPairs: 2 }), 'SPDY_TOO_MANY_HEADERS');
  });

  test('nonsensical limits are a programmer error (RangeError)', () => {
    assert.throws(() => new SpdyParser({ maxFrameLength: -1 }), RangeError);
    assert.throws(() => new SpdyParser({ maxHeaderPairs: 1.5 }), RangeError);
  });
});
