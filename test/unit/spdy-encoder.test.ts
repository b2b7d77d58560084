// SpdyEncoder → SpdyParser round trips (one encoder and one parser per direction, i.e. one zlib
// stream), the reference deflate vectors, and argument validation.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import {
  ControlType,
  GoawayStatus,
  HeaderBlockDeflater,
  HeaderBlockInflater,
  RstStatus,
  SpdyEncoder,
  SpdyParser,
  decodeHeaderBlock,
  encodeControlFrame,
  encodeDataFrameHeader,
  encodeHeaderBlock,
  spdy3Dictionary,
  type SpdyFrame,
} from '../../src/protocol/spdy/index';

const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Drops `raw` (and turns payload views into Buffers) so frames compare by value. */
function plain(frame: SpdyFrame): Record<string, unknown> {
  const { raw: _raw, ...rest } = frame;
  return 'payload' in rest ? { ...rest, payload: Buffer.from(rest.payload) } : rest;
}

describe('HeaderBlockDeflater reference vectors (kubectl-exec-protocol.md §2)', () => {
  test('an empty NV block is 78f9e3c6a7c202a6230600000000ffff first and 020100000000ffff second', () => {
    const deflater = new HeaderBlockDeflater();
    assert.equal(hexOf(deflater.deflate(new Uint8Array(4))), '78f9e3c6a7c202a6230600000000ffff');
    assert.equal(hexOf(deflater.deflate(new Uint8Array(4))), '020100000000ffff');
  });

  test('the first block starts 78 f9 e3 c6 a7 c2 (level 9 + FDICT + Adler-32 of the dictionary), every block ends 00 00 ff ff', () => {
    const deflater = new HeaderBlockDeflater();
    const blocks = ['error', 'stdin', 'stdout', 'stderr', 'resize'].map((type) => deflater.deflate(encodeHeaderBlock({ streamtype: type })));
    assert.equal(hexOf(blocks[0].subarray(0, 6)), '78f9e3c6a7c2');
    for (const block of blocks) assert.equal(hexOf(block.subarray(-4)), '0000ffff');
    for (const block of blocks.slice(1)) assert.notEqual(hexOf(block.subarray(0, 2)), '78f9');
  });

  test("SpdyEncoder's first SYN_REPLY with no headers carries exactly the reference empty block", () => {
    const encoder = new SpdyEncoder();
    assert.equal(hexOf(encoder.synReply(1, {})), '80030002000000140000000178f9e3c6a7c202a6230600000000ffff');
    assert.equal(hexOf(encoder.synReply(3, {})), '800300020000000c00000003020100000000ffff');
  });

  test("the encoder's header stream is a valid zlib stream for Node's own zlib (an independent inflater)", () => {
    const encoder = new SpdyEncoder();
    const headerSets: Array<Record<string, string | string[]>> = [{ streamtype: 'error' }, { streamtype: 'stdin' }, { a: ['1', '2'], b: '' }, {}, { streamtype: 'resize' }];
    const frames = headerSets.map((headers, i) => encoder.synStream({ streamId: 2 * i + 1, headers }));
    const compressed = Buffer.concat(frames.map((frame) => frame.subarray(18)));
    const inflated = inflateSync(compressed, { dictionary: spdy3Dictionary(), finishFlush: zlibConstants.Z_SYNC_FLUSH });
    assert.deepEqual(inflated, Buffer.concat(headerSets.map((headers) => encodeHeaderBlock(headers))));
  });

  test('HeaderBlockInflater undoes HeaderBlockDeflater over a long shared stream', () => {
    const deflater = new HeaderBlockDeflater();
    const inflater = new HeaderBlockInflater();
    for (let i = 0; i < 500; i++) {
      const headers = { streamtype: i % 2 ? 'stdout' : 'stderr', [`x-${i % 7}`]: String(i).repeat(i % 50) };
      const block = encodeHeaderBlock(headers);
      assert.deepEqual(Buffer.from(inflater.inflate(deflater.deflate(block))), Buffer.from(block));
    }
  });

  test('a lower level still produces a stream the parser reads', () => {
    const encoder = new SpdyEncoder({ level: 1 });
    const parser = new SpdyParser();
    const [frame] = parser.push(encoder.synReply(1, { a: 'b' }));
    assert.deepEqual(frame.type === 'syn_reply' && frame.headers, new Map([['a', ['b']]]));
  });
});

describe('encodeHeaderBlock / decodeHeaderBlock', () => {
  test('layout: u32 count, then u32 name-len, name, u32 value-len, value; multi-values joined with NUL', () => {
    const block = encodeHeaderBlock(new Map([['streamtype', ['stdin']], ['x', ['a', 'b']]]));
    assert.equal(hexOf(block), '00000002' + '0000000a' + Buffer.from('streamtype').toString('hex') + '00000005' + Buffer.from('stdin').toString('hex') + '00000001' + '78' + '00000003' + '610062');
  });

  test('round trip of Map and Record forms, empty values, multi-values, UTF-8', () => {
    const headers = { a: '', b: ['', ''], c: ['x', 'y', 'z'], 'ünïcode': 'välue', empty: [''] };
    const decoded = decodeHeaderBlock(encodeHeaderBlock(headers));
    assert.deepEqual(decoded, new Map(Object.entries(headers).map(([name, value]) => [name, typeof value === 'string' ? [value] : value])));
    assert.deepEqual(decodeHeaderBlock(encodeHeaderBlock(decoded)), decoded);
  });

  test('an empty block of zero pairs', () => {
    assert.equal(hexOf(encodeHeaderBlock({})), '00000000');
    assert.equal(decodeHeaderBlock(new Uint8Array(4)).size, 0);
  });

  test('NUL inside a name or value and empty names are refused with RangeError', () => {
    assert.throws(() => encodeHeaderBlock({ 'a\0b': 'x' }), RangeError);
    assert.throws(() => encodeHeaderBlock({ a: 'x\0y' }), RangeError);
    assert.throws(() => encodeHeaderBlock({ a: ['x', 'y\0'] }), RangeError);
    assert.throws(() => encodeHeaderBlock({ '': 'x' }), RangeError);
  });
});

describe('SpdyEncoder → SpdyParser round trips (one zlib stream per direction)', () => {
  test('every frame type, many frames through one encoder and one parser', () => {
    const encoder = new SpdyEncoder();
    const parser = new SpdyParser();
    const cases: Array<[Buffer, Record<string, unknown>]> = [
      [
        encoder.synStream({ streamId: 1, headers: { streamtype: 'error' } }),
        { type: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, fin: false, unidirectional: false, headers: new Map([['streamtype', ['error']]]) },
      ],
      [
        encoder.synStream({ streamId: 0x7fffffff, associatedStreamId: 0x7ffffffe, priority: 7, slot: 255, fin: true, unidirectional: true, headers: new Map([['a', ['1', '2']]]) }),
        { type: 'syn_stream', streamId: 0x7fffffff, associatedStreamId: 0x7ffffffe, priority: 7, slot: 255, flags: 3, fin: true, unidirectional: true, headers: new Map([['a', ['1', '2']]]) },
      ],
      [encoder.synReply(1, {}), { type: 'syn_reply', streamId: 1, flags: 0, fin: false, headers: new Map() }],
      [encoder.synReply(3, { status: '200' }, true), { type: 'syn_reply', streamId: 3, flags: 1, fin: true, headers: new Map([['status', ['200']]]) }],
      [encoder.headers(3, { 'x-late': 'yes' }), { type: 'headers', streamId: 3, flags: 0, fin: false, headers: new Map([['x-late', ['yes']]]) }],
      [encoder.headers(5, {}, true), { type: 'headers', streamId: 5, flags: 1, fin: true, headers: new Map() }],
      [encoder.data(3, Buffer.from('hello')), { type: 'data', streamId: 3, flags: 0, fin: false, payload: Buffer.from('hello') }],
      [encoder.data(3, new Uint8Array(0), true), { type: 'data', streamId: 3, flags: 1, fin: true, payload: Buffer.alloc(0) }],
      [encoder.rstStream(5, RstStatus.CANCEL), { type: 'rst_stream', streamId: 5, status: 5 }],
      [
        encoder.settings([{ id: 4, value: 100 }, { id: 7, value: 0xffffffff, flags: 1 }], 1),
        { type: 'settings', flags: 1, entries: [{ flags: 0, id: 4, value: 100 }, { flags: 1, id: 7, value: 0xffffffff }] },
      ],
      [encoder.settings([]), { type: 'settings', flags: 0, entries: [] }],
      [encoder.ping(1), { type: 'ping', id: 1 }],
      [encoder.ping(0xffffffff), { type: 'ping', id: 0xffffffff }],
      [encoder.windowUpdate(0, 0x7fffffff), { type: 'window_update', streamId: 0, delta: 0x7fffffff }],
      [encoder.synStream({ streamId: 7, headers: { streamtype: 'stderr' } }), { type: 'syn_stream', streamId: 7, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, fin: false, unidirectional: false, headers: new Map([['streamtype', ['stderr']]]) }],
      [encoder.goaway(7), { type: 'goaway', lastGoodStreamId: 7, status: GoawayStatus.OK }],
      [encoder.goaway(0, GoawayStatus.INTERNAL_ERROR), { type: 'goaway', lastGoodStreamId: 0, status: 2 }],
    ];
    // Frame by frame, then all at once through a second parser.
    for (const [bytes, expected] of cases) {
      const frames = parser.push(bytes);
      assert.equal(frames.length, 1);
      assert.deepEqual(plain(frames[0]), expected);
      assert.deepEqual(Buffer.from(frames[0].raw), bytes);
    }
    const all = new SpdyParser().push(Buffer.concat(cases.map(([bytes]) => bytes)));
    assert.deepEqual(all.map(plain), cases.map(([, expected]) => expected));
  });

  test("a kubectl-like session: SYN_STREAMs error/stdin/stdout/stderr, replies, data, pings, RST_STREAMs, GOAWAY", () => {
    const client = new SpdyEncoder();
    const server = new SpdyEncoder();
    const toServer = new SpdyParser();
    const toClient = new SpdyParser();
    const roles = ['error', 'stdin', 'stdout', 'stderr'];
    const seen: string[] = [];
    roles.forEach((role, index) => {
      const id = 2 * index + 1;
      const [syn] = toServer.push(client.synStream({ streamId: id, headers: { streamtype: role } }));
      assert.ok(syn.type === 'syn_stream');
      seen.push(`${syn.streamId}:${syn.headers.get('streamtype')?.join()}`);
      const [reply] = toClient.push(server.synReply(syn.streamId, {}));
      assert.ok(reply.type === 'syn_reply' && reply.streamId === id && reply.headers.size === 0);
    });
    assert.deepEqual(seen, ['1:error', '3:stdin', '5:stdout', '7:stderr']);

    const clientBytes = Buffer.concat([client.data(3, Buffer.from('ls\n')), client.ping(1), client.data(3, new Uint8Array(0), true)]);
    assert.deepEqual(
      toServer.push(clientBytes).map((frame) => frame.type),
      ['data', 'ping', 'data'],
    );
    const serverBytes = Buffer.concat([
      server.data(5, Buffer.from('file\n')),
      server.ping(1),
      server.data(1, Buffer.from('{"metadata":{},"status":"Success"}')),
      ...[1, 3, 5, 7].map((id) => server.rstStream(id, RstStatus.CANCEL)),
      server.goaway(7, GoawayStatus.OK),
    ]);
    const frames = toClient.push(serverBytes);
    assert.deepEqual(
      frames.map((frame) => frame.type),
      ['data', 'ping', 'data', 'rst_stream', 'rst_stream', 'rst_stream', 'rst_stream', 'goaway'],
    );
    assert.deepEqual(Buffer.concat(frames.map((frame) => frame.raw)), serverBytes);
  });

  test('a 16 MiB − 1 data frame round-trips; the header alone via encodeDataFrameHeader', () => {
    const payload = Buffer.alloc(0xffffff, 0x5a);
    const frame = new SpdyEncoder().data(9, payload, true);
    assert.deepEqual(frame.subarray(0, 8), encodeDataFrameHeader(9, 1, 0xffffff));
    const [parsed] = new SpdyParser().push(frame);
    assert.ok(parsed.type === 'data' && parsed.payload.length === 0xffffff && parsed.fin);
  });

  test('large header blocks (incompressible values) round-trip', () => {
    const encoder = new SpdyEncoder();
    const parser = new SpdyParser();
    let seed = 12345;
    const noise = Array.from({ length: 200_000 }, () => String.fromCharCode(33 + ((seed = (seed * 1103515245 + 12345) >>> 0) % 90))).join('');
    const [frame] = parser.push(encoder.synReply(1, { noise }));
    assert.equal(frame.type === 'syn_reply' && frame.headers.get('noise')?.[0], noise);
  });
});

describe('encodeControlFrame / encodeDataFrameHeader', () => {
  test('odd frames for tests: any type, flags and version', () => {
    assert.equal(hexOf(encodeControlFrame(10, 0xff, Buffer.from([1, 2]))), '8003000aff00000201' + '02');
    assert.equal(hexOf(encodeControlFrame(ControlType.PING, 0, new Uint8Array(4), 2)), '8002000600000004' + '00000000');
    assert.equal(hexOf(encodeControlFrame(0xffff, 0, new Uint8Array(0), 0x7fff)), 'ffffffff00000000');
  });

  test('data frame header: 31-bit stream id, flags, 24-bit length', () => {
    assert.equal(hexOf(encodeDataFrameHeader(0x7fffffff, 1, 0xffffff)), '7fffffff01ffffff');
    assert.equal(hexOf(encodeDataFrameHeader(1, 0, 0)), '0000000100000000');
  });
});

describe('argument validation (programmer errors → RangeError)', () => {
  const encoder = new SpdyEncoder();
  const cases: Array<[string, () => unknown]> = [
    ['data on stream 0', () => encoder.data(0, new Uint8Array(0))],
    ['data on stream 2^31', () => encoder.data(0x80000000, new Uint8Array(0))],
    ['data with a fractional stream id', () => encoder.data(1.5, new Uint8Array(0))],
    ['data of 16 MiB', () => encoder.data(1, new Uint8Array(0x1000000))],
    ['SYN_STREAM on stream 0', () => encoder.synStream({ streamId: 0, headers: {} })],
    ['SYN_STREAM priority 8', () => encoder.synStream({ streamId: 1, priority: 8, headers: {} })],
    ['SYN_STREAM slot 256', () => encoder.synStream({ streamId: 1, slot: 256, headers: {} })],
    ['SYN_STREAM associated id -1', () => encoder.synStream({ streamId: 1, associatedStreamId: -1, headers: {} })],
    ['SYN_REPLY on stream 0', () => encoder.synReply(0, {})],
    ['HEADERS with a NUL in a value', () => encoder.headers(1, { a: 'x\0' })],
    ['RST_STREAM status 2^32', () => encoder.rstStream(1, 2 ** 32)],
    ['SETTINGS id 2^24', () => encoder.settings([{ id: 0x1000000, value: 0 }])],
    ['SETTINGS value -1', () => encoder.settings([{ id: 1, value: -1 }])],
    ['SETTINGS flags 256', () => encoder.settings([], 256)],
    ['PING id -1', () => encoder.ping(-1)],
    ['GOAWAY last stream 2^31', () => encoder.goaway(0x80000000)],
    ['WINDOW_UPDATE delta 2^31', () => encoder.windowUpdate(1, 0x80000000)],
    ['control frame type 0x10000', () => encodeControlFrame(0x10000, 0, new Uint8Array(0))],
    ['control frame version 0x8000', () => encodeControlFrame(1, 0, new Uint8Array(0), 0x8000)],
  ];
  for (const [name, fn] of cases) {
    test(name, () => assert.throws(fn, RangeError));
  }

  test('a refused call does not advance the header compressor', () => {
    const fresh = new SpdyEncoder();
    assert.throws(() => fresh.synStream({ streamId: 1, priority: 9, headers: { a: 'b' } }), RangeError);
    assert.throws(() => fresh.synReply(1, { a: 'b\0' }), RangeError);
    assert.equal(hexOf(fresh.synReply(1, {}).subarray(12)), '78f9e3c6a7c202a6230600000000ffff');
  });
});
