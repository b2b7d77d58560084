// Taps under hostile input: nothing ever throws out of fromClient/fromServer/finish, every bad
// stream ends as a typed, named problem, and memory stays bounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { SpdyTap } from '../../src/tap/spdy-tap';
import { WsTap } from '../../src/tap/ws-tap';
import { SpdyEncoder, encodeControlFrame } from '../../src/protocol/spdy/encoder';
import { spdy3Dictionary } from '../../src/protocol/spdy/dictionary';
import { encodeChannelMessage, encodeFrame } from '../../src/protocol/ws/encoder';
import { SpdyParser } from '../../src/protocol/spdy/parser';
import { WsFrameParser } from '../../src/protocol/ws/parser';
import { Opcode } from '../../src/protocol/ws/frame';
import { ProtocolError } from '../../src/protocol/errors';
import type { Direction, TapOptions } from '../../src/tap/events';
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

/** GC on demand (as ws-fuzz does), so the heap check measures what the taps keep, not garbage. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** `bytes` is exactly what terminate() sends: whole frames that end the session the transport's way. */
function assertTerminationFrames(name: string, tty: boolean, bytes: Buffer): void {
  if (name === 'SpdyTap') {
    const parser = new SpdyParser();
    const frames = parser.push(bytes);
    assert.equal(parser.buffered, 0, 'whole frames');
    assert.equal(frames.at(-1)?.type, 'goaway', 'GOAWAY last');
    assert.ok(frames.slice(0, -1).every((f) => f.type === 'data' || f.type === 'rst_stream'), frames.map((f) => f.type).join());
    return;
  }
  const parser = new WsFrameParser({ direction: 'server-to-client' });
  const frames = parser.push(bytes);
  assert.equal(parser.buffered, 0, 'whole frames');
  const close = frames.at(-1);
  assert.ok(close?.opcode === Opcode.CLOSE && Buffer.from(close.payload).readUInt16BE(0) === 1000, 'close 1000 last');
  const messages = frames.slice(0, -1).filter((f) => !(f.opcode === Opcode.CONTINUATION && f.payload.byteLength === 0));
  assert.deepEqual(
    messages.map((f) => [f.opcode, f.payload[0]]),
    [
      [Opcode.BINARY, tty ? 1 : 2],
      [Opcode.BINARY, 3],
    ],
    'a line on stdout/stderr, then the Status on the error channel',
  );
}

describe('taps never throw and bound memory on random and mutated input', () => {
  for (const [name, make, protocol] of makers) {
    test(`${name}: 50 000 fixed-seed cases: bytes forwarded exactly, or a prefix and the termination frames`, (t) => {
      const gc = exposeGc();
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
      gc();
      const before = process.memoryUsage().heapUsed;
      const started = performance.now();
      let ended = 0;
      let intact = 0;
      fc.assert(
        fc.property(input, fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), fc.boolean(), ({ client, server }, cuts, tty, passthrough) => {
          // How much had reached kubectl when the error was seen: the termination frames follow it.
          let forwardedAtError = -1;
          const h: Harness<StreamTap> = harness(make, {
            protocol,
            tty,
            recordStdin: true,
            firstResizeTimeoutMs: 0,
            onProtocolError: () => {
              forwardedAtError = h.toClient.reduce((n, b) => n + b.byteLength, 0);
              return passthrough ? 'passthrough' : 'terminate';
            },
          });
          for (const piece of splitAt(client, cuts.map((c) => c % (client.byteLength + 1)))) h.tap.fromClient(piece);
          for (const piece of splitAt(server, cuts.map((c) => c % (server.byteLength + 1)))) h.tap.fromServer(piece);
          h.tap.finish({ kind: 'closed' });
          const sent = h.clientBytes();
          if (endReason(h)?.kind === 'protocol-error') {
            ended++;
            assert.ok(forwardedAtError >= 0 && forwardedAtError <= server.byteLength);
            assert.ok(sent.subarray(0, forwardedAtError).equals(server.subarray(0, forwardedAtError)), 'a prefix of the server bytes');
            assertTerminationFrames(name, tty, sent.subarray(forwardedAtError));
          } else {
            intact++;
            assert.ok(sent.equals(server), 'every server byte forwarded, unchanged and in order');
          }
          assert.deepEqual(h.serverBytes(), client.subarray(0, h.serverBytes().byteLength), 'client bytes pass unchanged');
        }),
        { numRuns: 50_000, seed: 20261123 },
      );
      const elapsed = performance.now() - started;
      gc();
      const growth = process.memoryUsage().heapUsed - before;
      t.diagnostic(`${ended} ended by a protocol error, ${intact} intact; ${Math.round(elapsed)} ms; heap growth ${Math.round(growth / 1024)} KiB`);
      assert.ok(ended > 0, 'some cases were malformed enough to end the session');
      assert.ok(intact > 0, 'some cases went through whole');
      assert.ok(elapsed < 60_000, `took ${elapsed} ms`);
      assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${growth} bytes`);
    });
  }
});

describe('named bad inputs end the session with a message that names the problem', () => {
  function endedWith(h: Harness<StreamTap>, code: string, pattern: RegExp) {
    const reason = endReason(h);
    assert.equal(reason?.kind, 'protocol-error', JSON.stringify(h.sink.events.slice(-3)));
    assert.equal(reason?.code, code);
    assert.match(reason?.message ?? '', pattern);
  }

  test('zlib bomb in a SYN_STREAM header block', () => {
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
    const block = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0x80, 0, 0]), Buffer.alloc(8 * 1024 * 1024)]);
    const compressed = deflateSync(block, { dictionary: Buffer.from(spdy3Dictionary()), level: 9 });
    assert.ok(compressed.byteLength < 64 * 1024);
    h.tap.fromClient(encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), compressed])));
    endedWith(h, 'SPDY_HEADER_BLOCK_TOO_LARGE', /header block|1 MiB|exceeds/i);
  });

  test('header pair count 0xFFFFFFFF', () => {
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
    const compressed = deflateSync(Buffer.from([0xff, 0xff, 0xff, 0xff]), { dictionary: Buffer.from(spdy3Dictionary()) });
    h.tap.fromClient(encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), compressed])));
    endedWith(h, 'SPDY_TOO_MANY_HEADERS', /pair|header/i);
  });

  test('WebSocket 64-bit length with the top bit set', () => {
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
    h.tap.fromServer(Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]));
    endedWith(h, 'WS_BAD_LENGTH', /length/i);
  });

  const tlsAndHttp = [Buffer.from('160301020001000001fc0303', 'hex'), Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')];

  test('TLS and plain-HTTP bytes on a WebSocket stream: RSV bits set, the session ends at once', () => {
    for (const bytes of tlsAndHttp) {
      const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
      h.tap.fromServer(bytes);
      // Before finish(): the first byte alone (0x16, 'H') has RSV bits set.
      assert.ok(h.tap.ended);
      endedWith(h, 'WS_RSV_BITS', /RSV/);
      assert.equal(h.clientBytes().indexOf(bytes), -1, 'not forwarded');
      assert.equal(h.sink.events.filter((e) => e.type === 'output').length, 0);
    }
  });

  test('TLS and plain-HTTP bytes on a SPDY stream: read as a data frame header with a large length, held, never recorded; finish forwards them', () => {
    for (const bytes of tlsAndHttp) {
      const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
      h.tap.fromServer(bytes);
      assert.equal(h.clientBytes().byteLength, 0, 'nothing forwarded before finish');
      assert.equal(h.tap.ended, false);
      h.tap.finish({ kind: 'upstream-gone' });
      assert.deepEqual(h.clientBytes(), bytes, 'the held partial frame goes out at the end');
      assert.deepEqual(h.sink.events, [{ type: 'end', reason: { kind: 'upstream-gone' } }], 'nothing recorded');
    }
  });

  test('onProtocolError is called once, with the ProtocolError and the direction it came from', () => {
    const bad: Record<string, Buffer> = {
      SpdyTap: Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05]), // SYN_STREAM too short
      WsTap: Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), // RSV1 set
    };
    for (const [name, make, protocol] of makers) {
      for (const direction of ['client-to-server', 'server-to-client'] as Direction[]) {
        for (const policy of ['terminate', 'passthrough'] as const) {
          const calls: Array<[unknown, Direction]> = [];
          const h = harness(make, { protocol, onProtocolError: (error, dir) => (calls.push([error, dir]), policy) });
          const feed = (chunk: Buffer) => (direction === 'client-to-server' ? h.tap.fromClient(chunk) : h.tap.fromServer(chunk));
          feed(bad[name]);
          feed(bad[name]); // more garbage after the first error: no second call
          const label = `${name} ${direction} ${policy}`;
          assert.equal(calls.length, 1, label);
          assert.ok(calls[0][0] instanceof ProtocolError, label);
          assert.equal(calls[0][1], direction, label);
          assert.equal(endReason(h)?.code ?? null, policy === 'terminate' ? (calls[0][0] as ProtocolError).code : null, label);
        }
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
