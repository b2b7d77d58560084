// Taps under hostile input: nothing ever throws out of fromClient/fromServer/finish, every bad
// stream ends as a typed, named problem, and memory stays bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { SpdyTap } from '../../src/tap/spdy-tap';
import { WsTap } from '../../src/tap/ws-tap';
import { SpdyEncoder, encodeControlFrame } from '../../src/protocol/spdy/encoder';
import { spdy3Dictionary } from '../../src/protocol/spdy/dictionary';
import { encodeChannelMessage, encodeFrame } from '../../src/protocol/ws/encoder';
import type { TapOptions } from '../../src/tap/events';
import type { StreamTap } from '../../src/tap/tap';
import { harness, splitAt, type Harness } from '../helpers/tap-harness';

const text = (s: string) => new TextEncoder().encode(s);
const MASK = new Uint8Array([1, 2, 3, 4]);
type Maker = (o: TapOptions) => StreamTap;
const makers: Array<[string, Maker, string]> = [
  ['SpdyTap', (o) => new SpdyTap(o), 'v4.channel.k8s.io'],
  ['WsTap', (o) => new WsTap(o), 'v5.channel.k8s.io'],
];

function endReason(h: Harness<StreamTap>) {
  const end = h.sink.events.find((e) => e.type === 'end');
  return end?.type === 'end' ? end.reason : undefined;
}

function validSpdy() {
  const kubectl = new SpdyEncoder();
  const server = new SpdyEncoder();
  const client = Buffer.concat([
    ...['error', 'stdin', 'stdout', 'resize'].map((role, i) => kubectl.synStream({ streamId: 1 + 2 * i, headers: { streamtype: role } })),
    kubectl.data(7, text('{"Width":80,"Height":24}\n')),
    kubectl.data(3, text('ls -la\n')),
  ]);
  const srv = Buffer.concat([...[1, 3, 5, 7].map((id) => server.synReply(id, {})), server.data(5, text('total 0\r\n')), server.data(1, text('{"metadata":{},"status":"Success"}')), server.goaway(7)]);
  return { client, server: srv };
}

function validWs() {
  const client = Buffer.concat([encodeChannelMessage(4, text('{"Width":80,"Height":24}\n'), { mask: MASK }), encodeChannelMessage(0, text('ls -la\n'), { mask: MASK, fragmentSize: 3 })]);
  const server = Buffer.concat([encodeChannelMessage(1, new Uint8Array(0)), encodeChannelMessage(1, text('total 0\r\n'), { fragmentSize: 4 }), encodeChannelMessage(3, text('{"metadata":{},"status":"Success"}'))]);
  return { client, server };
}

describe('taps never throw and bound memory on random and mutated input', () => {
  for (const [name, make, protocol] of makers) {
    test(`${name}: 50 000 fixed-seed cases`, () => {
      const valid = name === 'SpdyTap' ? validSpdy() : validWs();
      const mutated = (base: Buffer) =>
        fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), fc.boolean()).map(([flips, cut, truncate]) => {
          const copy = Buffer.from(base);
          for (const [at, value] of flips) copy[at % copy.byteLength] = value;
          return truncate ? copy.subarray(0, cut % (copy.byteLength + 1)) : copy;
        });
      const input = fc.oneof(
        fc.record({ client: mutated(valid.client), server: mutated(valid.server) }),
        fc.record({ client: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), server: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) }),
      );
      const before = process.memoryUsage().heapUsed;
      let ended = 0;
      fc.assert(
        fc.property(input, fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), fc.boolean(), ({ client, server }, cuts, tty, passthrough) => {
          const h = harness(make, { protocol, tty, recordStdin: true, firstResizeTimeoutMs: 0, onProtocolError: () => (passthrough ? 'passthrough' : 'terminate') });
          for (const piece of splitAt(client, cuts.map((c) => c % (client.byteLength + 1)))) h.tap.fromClient(piece);
          for (const piece of splitAt(server, cuts.map((c) => c % (server.byteLength + 1)))) h.tap.fromServer(piece);
          h.tap.finish({ kind: 'closed' });
          if (endReason(h)?.kind === 'terminated') ended++;
          assert.ok(h.clientBytes().byteLength <= server.byteLength + 4096, 'forwards no more than it got plus a termination message');
          assert.deepEqual(h.serverBytes(), client.subarray(0, h.serverBytes().byteLength), 'client bytes pass unchanged');
        }),
        { numRuns: 50_000, seed: 20261123 },
      );
      assert.ok(ended > 0, 'some cases were malformed enough to end the session');
      assert.ok(process.memoryUsage().heapUsed - before < 256 * 1024 * 1024, 'heap growth bounded');
    });
  }
});

describe('named bad inputs end the session with a message that names the problem', () => {
  function terminatedWith(h: Harness<StreamTap>, pattern: RegExp) {
    const reason = endReason(h);
    assert.equal(reason?.kind, 'terminated', JSON.stringify(h.sink.events.slice(-3)));
    assert.match(reason?.message ?? '', pattern);
  }

  test('zlib bomb in a SYN_STREAM header block', () => {
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
    const block = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0x80, 0, 0]), Buffer.alloc(8 * 1024 * 1024)]);
    const compressed = deflateSync(block, { dictionary: Buffer.from(spdy3Dictionary()), level: 9 });
    assert.ok(compressed.byteLength < 64 * 1024);
    h.tap.fromClient(encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), compressed])));
    terminatedWith(h, /header block|1 MiB|exceeds/i);
  });

  test('header pair count 0xFFFFFFFF', () => {
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
    const compressed = deflateSync(Buffer.from([0xff, 0xff, 0xff, 0xff]), { dictionary: Buffer.from(spdy3Dictionary()) });
    h.tap.fromClient(encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), compressed])));
    terminatedWith(h, /pair|header/i);
  });

  test('WebSocket 64-bit length with the top bit set', () => {
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
    h.tap.fromServer(Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]));
    terminatedWith(h, /length/i);
  });

  test('TLS and plain-HTTP bytes on an upgraded stream', () => {
    for (const [name, make, protocol] of makers) {
      for (const bytes of [Buffer.from('160301020001000001fc0303', 'hex'), Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')]) {
        const h = harness(make, { protocol });
        h.tap.fromServer(bytes);
        h.tap.finish({ kind: 'upstream-gone' });
        // Either rejected at once or held as an impossible partial frame that is never recorded.
        assert.equal(h.sink.events.filter((e) => e.type === 'output').length, 0, name);
        assert.ok(h.tap.ended, name);
      }
    }
  });

  test('oversized resize JSON and garbage Status JSON are warnings; the session goes on', () => {
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io', tty: true });
    h.tap.fromClient(encodeChannelMessage(4, text(`{"Width":80,"Height":24,"x":"${'y'.repeat(70_000)}"}`), { mask: MASK }));
    h.tap.fromServer(encodeChannelMessage(3, text('{"status": nope')));
    h.tap.fromServer(encodeFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }));
    const codes = h.sink.events.filter((e) => e.type === 'warning').map((e) => (e.type === 'warning' ? e.warning.code : ''));
    assert.ok(codes.includes('RESIZE_TOO_LARGE'), codes.join());
    assert.ok(codes.includes('STATUS_BAD_JSON'), codes.join());
    assert.equal(h.tap.ended, false);
  });

  test('text frames and reserved opcodes are forwarded and reported', () => {
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
    const frames = Buffer.concat([encodeFrame({ opcode: 0x1, payload: text('1hi') }), encodeFrame({ opcode: 0x3, payload: text('x') }), encodeFrame({ opcode: 0xb, payload: text('y') })]);
    h.tap.fromServer(frames);
    assert.deepEqual(h.clientBytes(), frames);
    const codes = h.sink.events.filter((e) => e.type === 'warning').map((e) => (e.type === 'warning' ? e.warning.code : ''));
    assert.deepEqual(codes, ['WS_TEXT_FRAME', 'WS_RESERVED_OPCODE', 'WS_RESERVED_OPCODE']);
  });
});
