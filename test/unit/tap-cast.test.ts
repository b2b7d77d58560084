// From wire frames to a cast file that real readers accept: SpdyTap/WsTap → CastSink → asciinema cat.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpdyTap } from '../../src/tap/spdy-tap';
import { WsTap } from '../../src/tap/ws-tap';
import { CastSink } from '../../src/proxy/cast-sink';
import { SpdyEncoder } from '../../src/protocol/spdy/encoder';
import { encodeChannelMessage, encodeClose } from '../../src/protocol/ws/encoder';
import { Opcode } from '../../src/protocol/ws/frame';
import { WsFrameParser } from '../../src/protocol/ws/parser';
import { exitCodeStatus } from '../../src/protocol/channel';
import { parseCast, type CastHeader } from '../../src/cast';
import type { StreamTap } from '../../src/tap/tap';
import type { TapOptions } from '../../src/tap/events';
import { asciinemaCat, requireAsciinema } from '../helpers/asciinema';

const text = (s: string) => new TextEncoder().encode(s);
const MASK = new Uint8Array([9, 8, 7, 6]);

const header: Omit<CastHeader, 'width' | 'height'> = {
  version: 2,
  timestamp: 1_700_000_000,
  command: 'sh',
  srcNode: '127.0.0.1',
  srcNodeID: '',
  srcNodeUser: 'alice',
  env: null,
  sshUser: '',
  localUser: '',
  connectionID: '',
  kubernetes: { PodName: 'shell', Namespace: 'default', Container: 'shell', SessionType: 'exec' },
  kubecast: { id: '00000000-0000-4000-8000-000000000000', user: 'alice', cluster: 'local', protocol: 'spdy', tty: true, startedAt: '2026-11-23T00:00:00.000Z' },
};

/** Output cut inside multibyte characters at frame boundaries, plus escapes. */
const pieces = ['\x1b[1;32m$\x1b[0m ', 'echo 日本語 😀\r\n', '日本語 😀\r\n', 'ünïcödé ✓\r\n'].map(text);
const outputBytes = Buffer.concat(pieces);
const expectedText = new TextDecoder().decode(outputBytes);
/** 7-byte frames: nearly every multibyte character is split between two frames. */
function frames(data: Uint8Array, size = 7): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.byteLength; i += size) out.push(data.subarray(i, i + size));
  return out;
}

function record(make: (o: TapOptions) => StreamTap, protocol: string, feed: (tap: StreamTap) => void): string {
  let cast = '';
  let clock = 0;
  const sink = new CastSink({ header, tty: true, write: (lines) => ((cast += lines.toString()), true), now: () => (clock += 3) });
  const tap = make({ sink, tty: true, protocol, toClient: () => {}, toServer: () => {} });
  feed(tap);
  tap.finish({ kind: 'closed' });
  return cast;
}

describe('recordings made from frame streams', () => {
  test('SPDY: asciinema cat prints exactly the output, multibyte characters split across frames intact', () => {
    requireAsciinema();
    const cast = record((o) => new SpdyTap(o), 'v4.channel.k8s.io', (tap) => {
      const kubectl = new SpdyEncoder();
      const server = new SpdyEncoder();
      tap.fromClient(Buffer.concat(['error', 'stdin', 'stdout', 'resize'].map((role, i) => kubectl.synStream({ streamId: 1 + 2 * i, headers: { streamtype: role } }))));
      tap.fromServer(Buffer.concat([1, 3, 5, 7].map((id) => server.synReply(id, {}))));
      tap.fromClient(kubectl.data(7, text('{"Width":100,"Height":30}\n')));
      for (const frame of frames(outputBytes)) tap.fromServer(server.data(5, frame));
      tap.fromClient(kubectl.data(7, text('{"Width":120,"Height":40}\n')));
      tap.fromServer(Buffer.concat([server.data(1, text(JSON.stringify(exitCodeStatus(7)))), server.rstStream(1, 5), server.goaway(7)]));
    });
    const parsed = parseCast(cast);
    assert.equal(parsed.header.cols, 100);
    assert.equal(parsed.header.rows, 30);
    assert.ok(parsed.events.some((e) => e.code === 'r' && e.data === '120x40'), 'resize as COLSxROWS');
    assert.ok(parsed.events.some((e) => e.code === 'x' && e.data === '7'), 'exit event');
    assert.equal(asciinemaCat(cast), expectedText);
  });

  test('WebSocket: the same through v5 channel messages, fragmented', () => {
    requireAsciinema();
    const cast = record((o) => new WsTap(o), 'v5.channel.k8s.io', (tap) => {
      tap.fromClient(encodeChannelMessage(4, text('{"Width":100,"Height":30}\n'), { mask: MASK }));
      tap.fromServer(encodeChannelMessage(1, new Uint8Array(0)));
      for (const frame of frames(outputBytes, 11)) tap.fromServer(encodeChannelMessage(1, frame, { fragmentSize: 4 }));
      tap.fromServer(Buffer.concat([encodeChannelMessage(3, text(JSON.stringify(exitCodeStatus(7)))), encodeClose(1000)]));
    });
    const parsed = parseCast(cast);
    assert.equal(parsed.header.cols, 100);
    assert.ok(parsed.events.some((e) => e.code === 'x' && e.data === '7'));
    assert.equal(asciinemaCat(cast), expectedText);
  });

  // The real defaults, not a timeout passed in: the tap's 2 s bound and CastSink's 80×24. Mock
  // timers drive the tap's setTimeout; CastSink reads the mocked Date so cast times follow the ticks.
  const gateCases: Array<[string, (o: TapOptions) => StreamTap, string, (tap: StreamTap) => { output: Uint8Array; resize: Uint8Array }]> = [
    [
      'SpdyTap',
      (o) => new SpdyTap(o),
      'v4.channel.k8s.io',
      (tap) => {
        const kubectl = new SpdyEncoder();
        const server = new SpdyEncoder();
        tap.fromClient(Buffer.concat(['error', 'stdin', 'stdout', 'resize'].map((role, i) => kubectl.synStream({ streamId: 1 + 2 * i, headers: { streamtype: role } }))));
        tap.fromServer(Buffer.concat([1, 3, 5, 7].map((id) => server.synReply(id, {}))));
        return { output: server.data(5, text('$ ')), resize: kubectl.data(7, text('{"Width":100,"Height":31}\n')) };
      },
    ],
    [
      'WsTap',
      (o) => new WsTap(o),
      'v5.channel.k8s.io',
      (tap) => {
        tap.fromServer(encodeChannelMessage(1, new Uint8Array(0))); // the ready message, not output
        return { output: encodeChannelMessage(1, text('$ ')), resize: encodeChannelMessage(4, text('{"Width":100,"Height":31}\n'), { mask: MASK }) };
      },
    ],
  ];
  for (const [name, make, protocol, open] of gateCases) {
    test(`${name}: with no resize, TTY output is held for the default 2 s, then forwarded and recorded under an 80×24 header; a later resize is an r event`, (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
      let cast = '';
      const sink = new CastSink({ header, tty: true, write: (lines) => ((cast += lines.toString()), true), now: () => Date.now() });
      const toClient: Buffer[] = [];
      const tap = make({ sink, tty: true, protocol, toClient: (d) => toClient.push(Buffer.from(d)), toServer: () => {} });
      const { output, resize } = open(tap);
      const before = Buffer.concat(toClient);
      tap.fromServer(output);
      t.mock.timers.tick(1999);
      assert.deepEqual(Buffer.concat(toClient), before, 'held at 1999 ms');
      assert.equal(cast, '', 'nothing recorded at 1999 ms (not even the header)');
      t.mock.timers.tick(1);
      assert.deepEqual(Buffer.concat(toClient), Buffer.concat([before, output]), 'forwarded at 2000 ms');
      let parsed = parseCast(cast);
      assert.equal(parsed.header.cols, 80);
      assert.equal(parsed.header.rows, 24);
      assert.deepEqual(parsed.events, [{ time: 2, code: 'o', data: '$ ' }]);
      t.mock.timers.tick(500);
      tap.fromClient(resize);
      parsed = parseCast(cast);
      assert.deepEqual(parsed.events.at(-1), { time: 2.5, code: 'r', data: '100x31' });
      tap.finish({ kind: 'closed' });
    });
  }

  // Peer §7.2 Test_Reads 2 / §7.4 Test_conn_Read 4: two resizes give the header, then an r event.
  const resizeCases: Array<[string, (o: TapOptions) => StreamTap, string, (tap: StreamTap, sizes: Array<[number, number]>) => void]> = [
    [
      'SpdyTap',
      (o) => new SpdyTap(o),
      'v4.channel.k8s.io',
      (tap, sizes) => {
        const kubectl = new SpdyEncoder();
        tap.fromClient(kubectl.synStream({ streamId: 1, headers: { streamtype: 'resize' } }));
        for (const [w, h] of sizes) tap.fromClient(kubectl.data(1, text(`{"width":${w},"height":${h}}`)));
      },
    ],
    ['WsTap', (o) => new WsTap(o), 'v5.channel.k8s.io', (tap, sizes) => sizes.forEach(([w, h]) => tap.fromClient(encodeChannelMessage(4, text(`{"width":${w},"height":${h}}`), { mask: MASK })))],
  ];
  for (const [name, make, protocol, resize] of resizeCases) {
    test(`${name} resize_data_frame_many: the first resize sizes the header, the next is an r event written COLSxROWS, "10x20" for width 10 height 20 (the peer expected "20x10": it wrote rows first, a bug)`, () => {
      const cast = record(make, protocol, (tap) => resize(tap, [[80, 24], [10, 20]]));
      const parsed = parseCast(cast);
      assert.equal(parsed.header.cols, 80);
      assert.equal(parsed.header.rows, 24);
      assert.deepEqual(
        parsed.events.filter((e) => e.code === 'r').map((e) => e.data),
        ['10x20'],
      );
      assert.match(cast, /"r","10x20"/, 'as written in the file');
    });
  }

  test('a protocol error: the last marker of the recording names the kind and code; kubectl gets a Status saying why', () => {
    let cast = '';
    const sink = new CastSink({ header, tty: false, write: (lines) => ((cast += lines.toString()), true), now: () => 0 });
    const toClient: Buffer[] = [];
    const tap = new WsTap({ sink, tty: false, protocol: 'v5.channel.k8s.io', toClient: (d) => toClient.push(Buffer.from(d)), toServer: () => {} });
    tap.fromServer(encodeChannelMessage(1, text('fine\n')));
    tap.fromServer(Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1])); // 64-bit length, top bit set
    const parsed = parseCast(cast);
    const marker = parsed.events.at(-1);
    assert.equal(marker?.code, 'm');
    assert.match(marker?.data ?? '', /^kubecast: session ended \(protocol-error WS_BAD_LENGTH\): .*malformed stream from the API server/);
    const frames = new WsFrameParser({ direction: 'server-to-client' }).push(Buffer.concat(toClient));
    const status = frames.find((f) => f.opcode === Opcode.BINARY && f.payload[0] === 3);
    assert.ok(status, 'a Status on the error channel');
    assert.match(JSON.parse(Buffer.from(status.payload.subarray(1)).toString()).message, /malformed stream from the API server/);
  });
});
