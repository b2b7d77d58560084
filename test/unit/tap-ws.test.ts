import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WsTap } from '../../src/tap/ws-tap';
import { encodeChannelMessage, encodeClose, encodeFrame, encodePing, encodeBase64ChannelMessage } from '../../src/protocol/ws/encoder';
import { Opcode } from '../../src/protocol/ws/frame';
import { WsFrameParser } from '../../src/protocol/ws/parser';
import { exitCodeStatus, successStatus } from '../../src/protocol/channel';
import type { TapOptions } from '../../src/tap/events';
import { assertInterleavedLikeWhole, harness, interleaving, splitAt, type Harness } from '../helpers/tap-harness';

const MASK = new Uint8Array([1, 2, 3, 4]);
const text = (s: string) => new TextEncoder().encode(s);
const resizeJson = text('{"width":10,"height":20}');
const ws = (options: Partial<Omit<TapOptions, 'sink' | 'toClient' | 'toServer'>> = {}) =>
  harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io', ...options });

/** A client (masked) message on a channel. */
const fromKubectl = (channel: number, data: Uint8Array, fragmentSize?: number) => encodeChannelMessage(channel, data, { mask: MASK, fragmentSize });
/** A server (unmasked) message on a channel. */
const fromServer = (channel: number, data: Uint8Array, fragmentSize?: number) => encodeChannelMessage(channel, data, { fragmentSize });

describe('WsTap client→server (peer Test_conn_Read, re-expressed)', () => {
  test('continuation_frame_with_empty_payload: resize in a non-FIN frame ended by an empty continuation', () => {
    const h = ws({ tty: true });
    const first = encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: Buffer.concat([Buffer.from([4]), resizeJson]), mask: MASK });
    const last = encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, payload: new Uint8Array(0), mask: MASK });
    h.tap.fromClient(Buffer.concat([first, last]));
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 10, rows: 20 }]);
    assert.deepEqual(h.serverBytes(), Buffer.concat([first, last]), 'client bytes forwarded unchanged');
  });

  test('single_read_control_message: a close frame is forwarded, nothing recorded', () => {
    const h = ws({ tty: true });
    const close = encodeClose(1000, '', { mask: MASK });
    h.tap.fromClient(close);
    assert.deepEqual(h.sink.events, []);
    assert.deepEqual(h.serverBytes(), close);
  });

  test('single_read_resize_message: {"width":10,"height":20} is 10 columns, 20 rows', () => {
    const h = ws({ tty: true });
    h.tap.fromClient(fromKubectl(4, resizeJson));
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 10, rows: 20 }]);
  });

  // resize_data_frame_many (the cast's r event) is in tap-cast.test.ts: it needs a CastSink.
  test('many resizes, one read each: every one reported, in order', () => {
    const h = ws({ tty: true });
    h.tap.fromClient(fromKubectl(4, resizeJson));
    h.tap.fromClient(fromKubectl(4, text('{"Width":120,"Height":33}\n')));
    assert.deepEqual(h.sink.events, [
      { type: 'resize', cols: 10, rows: 20 },
      { type: 'resize', cols: 120, rows: 33 },
    ]);
  });

  test('control_then_data_in_one_read and resize_data_frame_two_in_one_read (kubectl attach sends two back to back)', () => {
    const h = ws({ tty: true });
    h.tap.fromClient(Buffer.concat([encodePing(text('hb'), { mask: MASK }), fromKubectl(4, text('{"Width":101,"Height":31}\n')), fromKubectl(4, text('{"Width":100,"Height":30}\n'))]));
    assert.deepEqual(h.sink.events, [
      { type: 'resize', cols: 101, rows: 31 },
      { type: 'resize', cols: 100, rows: 30 },
    ]);
  });

  test('two_reads_resize_message: channel byte only on the first fragment (the peer expected it on every fragment, a bug)', () => {
    const h = ws({ tty: true });
    const message = fromKubectl(4, resizeJson, 8);
    for (const piece of splitAt(message, [7, 15])) h.tap.fromClient(piece);
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 10, rows: 20 }]);
    assert.deepEqual(h.serverBytes(), message);
  });

  test('three_reads_resize_message_with_split_fragment', () => {
    const h = ws({ tty: true });
    const message = fromKubectl(4, resizeJson, 10);
    for (const piece of splitAt(message, [3, 11, 20, 27])) h.tap.fromClient(piece);
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 10, rows: 20 }]);
  });

  test('stdin is not recorded unless asked; with recordStdin it is, and the v5 close signal is not stdin', () => {
    const off = ws();
    off.tap.fromClient(fromKubectl(0, text('secret\n')));
    assert.deepEqual(off.sink.events, []);
    const on = ws({ recordStdin: true });
    on.tap.fromClient(Buffer.concat([fromKubectl(0, text('ls\n')), fromKubectl(255, new Uint8Array([0]))]));
    assert.deepEqual(on.sink.events, [{ type: 'input', data: 'ls\n' }]);
  });

  test('a bad resize is a warning, not the end of the session', () => {
    const h = ws({ tty: true });
    h.tap.fromClient(fromKubectl(4, text('{"Width":0,"Height":0}\n')));
    h.tap.fromClient(fromKubectl(4, text('{"Width":80,"Height":24}\n')));
    assert.equal(h.sink.events[0].type, 'warning');
    assert.deepEqual(h.sink.events[1], { type: 'resize', cols: 80, rows: 24 });
    assert.equal(h.tap.ended, false);
  });
});

describe('WsTap server→client (peer Test_conn_Write, re-expressed)', () => {
  test('continuation_frame_with_empty_payload: all bytes forwarded, output recorded', () => {
    const h = ws();
    const first = encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: new Uint8Array([1, 7, 8]) });
    const last = encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, payload: new Uint8Array(0) });
    h.tap.fromServer(Buffer.concat([first, last]));
    assert.deepEqual(h.clientBytes(), Buffer.concat([first, last]));
    assert.equal(h.sink.outputText('stdout'), '\x07\x08');
  });

  test('single_write_control_frame: forwarded, not recorded', () => {
    const h = ws();
    h.tap.fromServer(encodePing());
    assert.deepEqual(h.sink.events, []);
    assert.deepEqual(h.clientBytes(), encodePing());
  });

  test('stdout and stderr are recorded, a server message on stdin is not', () => {
    const h = ws();
    h.tap.fromServer(Buffer.concat([fromServer(1, text('out')), fromServer(2, text('err')), fromServer(0, text('in?'))]));
    assert.deepEqual(h.sink.merged(), [
      { type: 'output', stream: 'stdout', data: 'out' },
      { type: 'output', stream: 'stderr', data: 'err' },
    ]);
  });

  test('two_writes_stdout_data_message: fragments reassembled, channel byte only at the start (peer stripped one from every fragment)', () => {
    const h = ws();
    const first = encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: new Uint8Array([1, 7, 8]) });
    const second = encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, payload: new Uint8Array([1, 2, 3, 4, 5]) });
    h.tap.fromServer(first);
    h.tap.fromServer(second);
    assert.equal(h.sink.outputText(), '\x07\x08\x01\x02\x03\x04\x05');
    assert.deepEqual(h.clientBytes(), Buffer.concat([first, second]));
  });

  test('three_writes with a split fragment; a ping between fragments', () => {
    const h = ws();
    const bytes = Buffer.concat([
      encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: new Uint8Array([1, 0x61]) }),
      encodePing(text('x')),
      encodeFrame({ fin: false, opcode: Opcode.CONTINUATION, payload: text('bc') }),
      encodeFrame({ fin: true, opcode: Opcode.CONTINUATION, payload: text('d') }),
    ]);
    for (const piece of splitAt(bytes, [2, 5, 9, 13])) h.tap.fromServer(piece);
    assert.equal(h.sink.outputText(), 'abcd');
    assert.deepEqual(h.clientBytes(), bytes);
  });

  test('two data frames and a close in one write: every frame recorded and forwarded (peer handled one per write)', () => {
    const h = ws();
    const bytes = Buffer.concat([fromServer(1, text('a')), fromServer(1, text('b')), encodeClose(1000)]);
    h.tap.fromServer(bytes);
    assert.deepEqual(
      h.sink.events.filter((e) => e.type === 'output'),
      [
        { type: 'output', stream: 'stdout', data: 'a' },
        { type: 'output', stream: 'stdout', data: 'b' },
      ],
    );
    assert.deepEqual(h.clientBytes(), bytes);
  });

  test('a partial trailing frame waits; finish forwards it', () => {
    const h = ws();
    const message = fromServer(1, text('hello'));
    h.tap.fromServer(message.subarray(0, 4));
    assert.equal(h.clientBytes().byteLength, 0);
    h.tap.finish({ kind: 'upstream-gone' });
    assert.deepEqual(h.clientBytes(), message.subarray(0, 4));
    assert.deepEqual(h.sink.events.at(-1), { type: 'end', reason: { kind: 'upstream-gone' } });
  });

  test('the Status on channel 3 gives the exit code', () => {
    const h = ws();
    h.tap.fromServer(Buffer.concat([fromServer(1, text('x')), fromServer(3, text(JSON.stringify(exitCodeStatus(7)))), encodeClose(1000)]));
    const exit = h.sink.events.find((e) => e.type === 'exit');
    assert.ok(exit && exit.type === 'exit');
    assert.equal(exit.code, 7);
  });

  test('a Success status gives exit 0; a cut session gives no exit at all', () => {
    const ok = ws();
    ok.tap.fromServer(Buffer.concat([fromServer(3, text(JSON.stringify(successStatus()))), encodeClose(1000)]));
    assert.deepEqual(ok.sink.events.find((e) => e.type === 'exit')?.type, 'exit');
    const cut = ws();
    cut.tap.fromServer(fromServer(1, text('partial')));
    cut.tap.finish({ kind: 'upstream-gone' });
    assert.equal(cut.sink.events.find((e) => e.type === 'exit'), undefined);
  });

  test('base64 subprotocol: text messages decoded', () => {
    const h = ws({ protocol: 'v4.base64.channel.k8s.io' });
    h.tap.fromServer(encodeBase64ChannelMessage(1, text('héllo')));
    assert.equal(Buffer.from(h.sink.outputText(), 'latin1').toString('utf8'), 'héllo');
  });

  test('a text frame on a binary protocol is forwarded and reported', () => {
    const h = ws();
    const frame = encodeFrame({ opcode: Opcode.TEXT, payload: text('1oops') });
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), frame);
    assert.equal(h.sink.events[0].type, 'warning');
  });
});

describe('WsTap TTY size gate', () => {
  test('TTY output waits for the first resize, which then precedes it', () => {
    const h = ws({ tty: true });
    const ready = fromServer(1, new Uint8Array(0));
    h.tap.fromServer(ready);
    assert.deepEqual(h.clientBytes(), ready, 'the empty ready message is not output and passes');
    const out = fromServer(1, text('$ '));
    h.tap.fromServer(out);
    assert.deepEqual(h.clientBytes(), ready, 'output held');
    h.tap.fromClient(fromKubectl(4, text('{"Width":100,"Height":30}\n')));
    assert.deepEqual(h.sink.merged(), [
      { type: 'resize', cols: 100, rows: 30 },
      { type: 'output', stream: 'stdout', data: '$ ' },
    ]);
    assert.deepEqual(h.clientBytes(), Buffer.concat([ready, out]));
  });

  test('without a resize, held output is released after the bound (the peer waited forever)', async () => {
    const h = ws({ tty: true, firstResizeTimeoutMs: 50 });
    const out = fromServer(1, text('late'));
    h.tap.fromServer(out);
    assert.equal(h.clientBytes().byteLength, 0);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(h.clientBytes(), out);
    assert.equal(h.sink.outputText(), 'late');
  });
});

describe('WsTap fail-closed and termination', () => {
  test('when the sink refuses output, nothing more reaches the client', () => {
    const h = ws();
    h.tap.fromServer(fromServer(1, text('one')));
    h.sink.refuse = true;
    const partial = fromServer(1, text('three')).subarray(0, 4);
    h.tap.fromServer(Buffer.concat([fromServer(1, text('two')), encodePing(), partial]));
    assert.deepEqual(h.clientBytes(), fromServer(1, text('one')));
    // finish() must not release what was never recorded: the refused frames nor the partial tail.
    h.tap.finish({ kind: 'closed' });
    assert.deepEqual(h.clientBytes(), fromServer(1, text('one')));
  });

  test('terminate tells kubectl why: a line, a Status on channel 3, close 1000; a fragmented message is closed first', () => {
    for (const tty of [true, false]) {
      const h = ws({ tty });
      if (tty) h.tap.fromClient(fromKubectl(4, text('{"Width":80,"Height":24}\n')));
      h.tap.fromServer(encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: new Uint8Array([1, 0x61]) }));
      const before = h.clientBytes().byteLength;
      h.tap.terminate('kubecast: recording failed');
      const injected = h.clientBytes().subarray(before);
      const frames = new WsFrameParser({ direction: 'server-to-client' }).push(injected);
      assert.equal(frames[0].opcode, Opcode.CONTINUATION, 'closes the open message');
      assert.equal(frames[0].fin, true);
      const messages = frames.slice(1);
      assert.equal(messages[0].payload[0], tty ? 1 : 2);
      assert.match(Buffer.from(messages[0].payload.subarray(1)).toString(), /kubecast: recording failed/);
      assert.equal(messages[1].payload[0], 3);
      const status = JSON.parse(Buffer.from(messages[1].payload.subarray(1)).toString());
      assert.equal(status.status, 'Failure');
      assert.match(status.message, /recording failed/);
      assert.equal(messages[2].opcode, Opcode.CLOSE);
      assert.equal(Buffer.from(messages[2].payload).readUInt16BE(0), 1000);
      assert.deepEqual(h.sink.events.at(-1), { type: 'end', reason: { kind: 'terminated', message: 'kubecast: recording failed' } });
    }
  });

  test('a malformed server stream ends the session with a message by default', () => {
    const h = ws();
    h.tap.fromServer(fromServer(1, text('fine')));
    h.tap.fromServer(Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0])); // 64-bit length with the top bit set
    assert.equal(h.tap.ended, true);
    const end = h.sink.events.at(-1);
    assert.ok(end?.type === 'end' && end.reason.kind === 'protocol-error');
    assert.equal(end.reason.code, 'WS_BAD_LENGTH');
    assert.match(end.reason.message ?? '', /malformed stream from the API server/);
  });

  test('with the passthrough policy a malformed stream is relayed unrecorded, in order', () => {
    const h = ws({ onProtocolError: () => 'passthrough' });
    const good = fromServer(1, text('fine'));
    const bad = Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    h.tap.fromServer(good);
    h.tap.fromServer(bad);
    h.tap.fromServer(text('more'));
    assert.deepEqual(h.clientBytes(), Buffer.concat([good, bad, text('more')]));
    assert.equal(h.tap.passthrough, true);
    assert.ok(h.sink.events.some((e) => e.type === 'warning' && /recording stopped/.test(e.warning.message)));
  });
});

describe('WsTap chunking invariance', () => {
  /** A plausible session: resize, stdin, pings, output in fragmented and whole messages, status, close. */
  function session(outputs: Uint8Array[], fragment: number) {
    const resize = fromKubectl(4, text('{"Width":90,"Height":25}\n'));
    const client = Buffer.concat([resize, fromKubectl(0, text('echo hi\n'), 3), encodePing(text('p'), { mask: MASK }), fromKubectl(255, new Uint8Array([0]))]);
    const ready = fromServer(1, new Uint8Array(0));
    const outputMessages = outputs.map((o, i) => fromServer(i % 3 === 2 ? 2 : 1, o, i % 2 === 0 ? fragment : undefined));
    const serverMessages = [ready, ...outputMessages, encodePing(text('q')), fromServer(3, text(JSON.stringify(exitCodeStatus(3)))), encodeClose(1000)];
    const server = Buffer.concat(serverMessages);
    // Where things are, for the interleaving test. "Output arrived" is taken at the end of the first
    // output message (a fragmented one carries output sooner). Only message ends are listed as frame
    // ends, so a few cuts counted as mid-frame fall between fragments.
    const frameEnds = new Set<number>();
    serverMessages.reduce((at, message) => (frameEnds.add(at + message.byteLength), at + message.byteLength), 0);
    const at = { resizeEnd: resize.byteLength, firstOutputEnd: ready.byteLength + outputMessages[0].byteLength, frameEnds };
    return { client, server, at };
  }

  function run(client: Uint8Array, server: Uint8Array, clientCuts: number[], serverCuts: number[]) {
    const h: Harness<WsTap> = ws({ tty: true, recordStdin: true });
    for (const piece of splitAt(client, clientCuts)) h.tap.fromClient(piece);
    for (const piece of splitAt(server, serverCuts)) h.tap.fromServer(piece);
    h.tap.finish({ kind: 'closed' });
    return { events: h.sink.merged(), toClient: h.clientBytes(), toServer: h.serverBytes() };
  }

  test('split at every byte boundary: same events, same bytes both ways', () => {
    const { client, server } = session([text('héllo wörld\r\n'), text('日本語'), text('err!')], 5);
    const whole = run(client, server, [], []);
    assert.deepEqual(whole.toClient, server);
    assert.deepEqual(whole.toServer, client);
    for (let cut = 1; cut < server.byteLength; cut++) assert.deepEqual(run(client, server, [], [cut]), whole, `server cut at ${cut}`);
    for (let cut = 1; cut < client.byteLength; cut++) assert.deepEqual(run(client, server, [cut], []), whole, `client cut at ${cut}`);
  });

  test('random chunkings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (outputs, fragment, clientCuts, serverCuts) => {
          const { client, server } = session(outputs, fragment);
          const whole = run(client, server, [], []);
          const chunked = run(
            client,
            server,
            clientCuts.map((c) => c % client.byteLength),
            serverCuts.map((c) => c % server.byteLength),
          );
          assert.deepEqual(chunked, whole);
          assert.deepEqual(whole.toClient, Buffer.from(server));
        },
      ),
      { numRuns: 300, seed: 4242 },
    );
  });

  test('client and server chunks interleaved by a random schedule: output before the resize is held, some runs end mid-frame', () => {
    const seen = { heldBeforeResize: 0, endedMidFrame: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 200 }),
        interleaving,
        (outputs, fragment, run) => {
          const { at, ...bytes } = session(outputs, fragment);
          assertInterleavedLikeWhole(() => ws({ tty: true, recordStdin: true, firstResizeTimeoutMs: 60_000 }), { ...bytes, ...at }, run, seen);
        },
      ),
      { numRuns: 300, seed: 4245 },
    );
    // The paths this test is for were taken, not just possible.
    assert.ok(seen.heldBeforeResize >= 30, `output arrived before the resize in ${seen.heldBeforeResize} runs`);
    assert.ok(seen.endedMidFrame >= 30, `finish() came mid-frame in ${seen.endedMidFrame} runs`);
  });
});
