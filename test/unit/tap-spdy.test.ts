import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SpdyTap } from '../../src/tap/spdy-tap';
import { SpdyEncoder, encodeControlFrame } from '../../src/protocol/spdy/encoder';
import { SpdyParser } from '../../src/protocol/spdy/parser';
import { RstStatus } from '../../src/protocol/spdy/frame';
import { exitCodeStatus, successStatus } from '../../src/protocol/channel';
import type { TapOptions } from '../../src/tap/events';
import { assertInterleavedLikeWhole, harness, interleaving, splitAt } from '../helpers/tap-harness';

const text = (s: string) => new TextEncoder().encode(s);
const spdy = (options: Partial<Omit<TapOptions, 'sink' | 'toClient' | 'toServer'>> = {}) =>
  harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io', ...options });

/** kubectl's side: streams created in kubectl's order, one zlib stream for all header blocks. */
function kubectlStreams(roles: string[], firstId = 1) {
  const encoder = new SpdyEncoder();
  const ids: Record<string, number> = {};
  const frames = roles.map((role, i) => {
    ids[role] = firstId + 2 * i;
    return encoder.synStream({ streamId: ids[role], headers: { streamtype: role } });
  });
  return { encoder, ids, bytes: Buffer.concat(frames) };
}

/** The server's side: a SYN_REPLY per stream, through its own zlib stream. */
function replies(ids: number[]) {
  const encoder = new SpdyEncoder();
  return { encoder, bytes: Buffer.concat(ids.map((id) => encoder.synReply(id, {}))) };
}

describe('SpdyTap server→client (peer Test_Writes, re-expressed)', () => {
  function preset() {
    const h = spdy();
    const client = kubectlStreams(['error', 'stdout', 'stderr']);
    h.tap.fromClient(client.bytes);
    const server = replies(Object.values(client.ids));
    h.tap.fromServer(server.bytes);
    h.toClient.length = 0;
    return { h, ids: client.ids, server: server.encoder };
  }

  test('a control frame is forwarded, nothing recorded', () => {
    const { h, server } = preset();
    const ping = server.ping(2);
    h.tap.fromServer(ping);
    assert.deepEqual(h.clientBytes(), ping);
    assert.deepEqual(h.sink.events, []);
  });

  test('single_write_control_frame_with_payload: the peer forwarded these bytes, but they are a malformed SYN_STREAM: typed error, not forwarded, nothing recorded', () => {
    const { h } = preset();
    const bad = Buffer.from([0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05]);
    h.tap.fromServer(bad);
    const end = h.sink.events.at(-1);
    assert.ok(end?.type === 'end' && end.reason.kind === 'protocol-error');
    assert.equal(end.reason.code, 'SPDY_BAD_FRAME');
    assert.match(end.reason.message ?? '', /malformed stream from the API server/);
    assert.deepEqual(h.sink.events, [end], 'nothing recorded before the end');
    // What reached kubectl is only the termination frames, which parse cleanly and end with GOAWAY.
    const sent = h.clientBytes();
    assert.equal(sent.indexOf(bad), -1, 'the bad bytes were not forwarded');
    const parser = new SpdyParser();
    const frames = parser.push(sent);
    assert.equal(parser.buffered, 0);
    assert.equal(frames.at(-1)?.type, 'goaway');
    assert.deepEqual(Buffer.concat(frames.map((f) => f.raw)), sent);
  });

  test('two_writes_control_frame_with_leftover: only complete frames are forwarded, the partial tail waits', () => {
    const { h, server } = preset();
    const ping = server.ping(2);
    const next = server.data(3, text('x'));
    h.tap.fromServer(ping.subarray(0, 5));
    assert.equal(h.clientBytes().byteLength, 0);
    h.tap.fromServer(Buffer.concat([ping.subarray(5), next.subarray(0, 2)]));
    assert.deepEqual(h.clientBytes(), ping);
    h.tap.fromServer(next.subarray(2));
    assert.deepEqual(h.clientBytes(), Buffer.concat([ping, next]));
  });

  test('stdout frame with an empty payload is forwarded and not recorded', () => {
    const { h, ids, server } = preset();
    const frame = server.data(ids.stdout, new Uint8Array(0));
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), frame);
    assert.deepEqual(h.sink.events, []);
  });

  test('stdout and stderr payloads are recorded, each as its stream', () => {
    const { h, ids, server } = preset();
    h.tap.fromServer(Buffer.concat([server.data(ids.stdout, new Uint8Array([1, 2, 3, 4, 5])), server.data(ids.stderr, text('oops'))]));
    assert.deepEqual(h.sink.events, [
      { type: 'output', stream: 'stdout', data: '\x01\x02\x03\x04\x05' },
      { type: 'output', stream: 'stderr', data: 'oops' },
    ]);
  });

  test('data on an unknown stream is forwarded, not recorded', () => {
    const { h, server } = preset();
    const frame = server.data(7, text('?'));
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), frame);
    assert.deepEqual(h.sink.events, []);
  });

  test('control and data frames split across two writes: both forwarded in order, data recorded', () => {
    const { h, ids, server } = preset();
    const bytes = Buffer.concat([server.headers(ids.stdout, {}), server.data(ids.stdout, text('hi'))]);
    const cut = bytes.byteLength - 4;
    h.tap.fromServer(bytes.subarray(0, cut));
    h.tap.fromServer(bytes.subarray(cut));
    assert.deepEqual(h.clientBytes(), bytes);
    assert.equal(h.sink.outputText(), 'hi');
  });

  test('several complete frames in one write are all recorded and forwarded (the peer handled one per write)', () => {
    const { h, ids, server } = preset();
    const bytes = Buffer.concat([server.data(ids.stdout, text('a')), server.data(ids.stdout, text('b')), server.data(ids.stdout, text('c'))]);
    h.tap.fromServer(bytes);
    assert.equal(h.sink.events.length, 3);
    assert.deepEqual(h.clientBytes(), bytes);
  });

  test('stream ids above 127 are distinct (the peer masked data stream ids to 7 bits)', () => {
    const h = spdy();
    const client = kubectlStreams(['error', 'stdout', 'stderr'], 129);
    h.tap.fromClient(client.bytes);
    const server = new SpdyEncoder();
    h.tap.fromServer(Buffer.concat([server.data(1, text('not ours')), server.data(client.ids.stdout, text('ours')), server.data(client.ids.stdout + 128, text('alias?'))]));
    assert.equal(h.sink.outputText(), 'ours');
  });

  test('single_first_write_stdout_data_frame_with_payload_sess_has_terminal: after the first resize, the first output is recorded and forwarded at once', () => {
    const h = spdy({ tty: true });
    const client = kubectlStreams(['error', 'stdin', 'stdout', 'resize']);
    h.tap.fromClient(Buffer.concat([client.bytes, client.encoder.data(client.ids.resize, text('{"Width":80,"Height":24}\n'))]));
    const frame = new SpdyEncoder().data(client.ids.stdout, text('$ '));
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), frame);
    assert.deepEqual(h.sink.events, [
      { type: 'resize', cols: 80, rows: 24 },
      { type: 'output', stream: 'stdout', data: '$ ' },
    ]);
  });

  test('single_first_write_stdout_data_frame_with_payload_sess_does_not_have_terminal: recorded and forwarded at once, no size needed', () => {
    const h = spdy({ tty: false });
    const client = kubectlStreams(['error', 'stdout', 'stderr']);
    h.tap.fromClient(client.bytes);
    const frame = new SpdyEncoder().data(client.ids.stdout, text('out'));
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), frame);
    assert.deepEqual(h.sink.events, [{ type: 'output', stream: 'stdout', data: 'out' }]);
  });
});

describe('SpdyTap client→server (peer Test_Reads, re-expressed)', () => {
  function ttySession() {
    const h = spdy({ tty: true });
    const client = kubectlStreams(['error', 'stdin', 'stdout', 'resize']);
    h.tap.fromClient(client.bytes);
    return { h, ids: client.ids, encoder: client.encoder };
  }

  test('resize_data_frame_single_read: {"width":10,"height":20} is 10 columns, 20 rows', () => {
    const { h, ids, encoder } = ttySession();
    h.tap.fromClient(encoder.data(ids.resize, text('{"width":10,"height":20}')));
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 10, rows: 20 }]);
  });

  // resize_data_frame_many (the cast's r event) is in tap-cast.test.ts: it needs a CastSink.
  test('many resizes, one frame each: every one reported, in order', () => {
    const { h, ids, encoder } = ttySession();
    h.tap.fromClient(encoder.data(ids.resize, text('{"width":10,"height":20}')));
    h.tap.fromClient(encoder.data(ids.resize, text('{"Width":120,"Height":33}\n')));
    assert.deepEqual(h.sink.events, [
      { type: 'resize', cols: 10, rows: 20 },
      { type: 'resize', cols: 120, rows: 33 },
    ]);
  });

  test('resize_data_frame_two_reads: frame header and payload in separate reads', () => {
    const { h, ids, encoder } = ttySession();
    const frame = encoder.data(ids.resize, text('{"Width":80,"Height":24}\n'));
    h.tap.fromClient(frame.subarray(0, 8));
    h.tap.fromClient(frame.subarray(8));
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 80, rows: 24 }]);
  });

  // Test_Reads 4–6: one SYN_STREAM per read; the role it names decides what its data means.
  test('syn_stream_ctrl_frame_stdout_single_read: server data on that stream is recorded as stdout', () => {
    const h = spdy();
    h.tap.fromClient(kubectlStreams(['stdout']).bytes);
    h.tap.fromServer(new SpdyEncoder().data(1, text('o')));
    assert.deepEqual(h.sink.events, [{ type: 'output', stream: 'stdout', data: 'o' }]);
  });

  test('syn_stream_ctrl_frame_stderr_single_read: server data on that stream is recorded as stderr', () => {
    const h = spdy();
    h.tap.fromClient(kubectlStreams(['stderr']).bytes);
    h.tap.fromServer(new SpdyEncoder().data(1, text('e')));
    assert.deepEqual(h.sink.events, [{ type: 'output', stream: 'stderr', data: 'e' }]);
  });

  test('syn_stream_ctrl_frame_resize_single_read: kubectl data on that stream is a resize', () => {
    const h = spdy({ tty: true });
    const client = kubectlStreams(['resize'], 3);
    h.tap.fromClient(client.bytes);
    h.tap.fromClient(client.encoder.data(3, text('{"Width":7,"Height":8}\n')));
    assert.deepEqual(h.sink.events, [{ type: 'resize', cols: 7, rows: 8 }]);
  });

  test('syn_stream_ctrl_frame_resize_four_reads_with_leftover: SYN_STREAMs delivered as tails and heads of neighbouring frames; all roles learned', () => {
    const h = spdy({ tty: true });
    const client = kubectlStreams(['stdout', 'stderr', 'resize']);
    const bytes = Buffer.concat([client.bytes, client.encoder.data(client.ids.resize, text('{"Width":7,"Height":8}\n'))]);
    for (const piece of splitAt(bytes, [10, 30, 50])) h.tap.fromClient(piece);
    assert.deepEqual(h.serverBytes(), bytes, 'forwarded unchanged as it arrived');
    const server = new SpdyEncoder();
    h.tap.fromServer(Buffer.concat([server.data(client.ids.stdout, text('o')), server.data(client.ids.stderr, text('e'))]));
    assert.deepEqual(h.sink.events, [
      { type: 'resize', cols: 7, rows: 8 },
      { type: 'output', stream: 'stdout', data: 'o' },
      { type: 'output', stream: 'stderr', data: 'e' },
    ]);
  });

  test('kubectl\'s real header blocks (captured from kubectl exec -i) as one stream', () => {
    const h = spdy({ recordStdin: true });
    const blocks = [
      '78f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff',
      'c22e555c92929907000000ffff',
      'c22ac5565c92925f5a02000000ffff',
      'c229975a5404000000ffff',
    ].map((hex) => Buffer.from(hex, 'hex'));
    const frames = blocks.map((block, i) => {
      const payload = Buffer.concat([Buffer.from([0, 0, 0, 1 + 2 * i, 0, 0, 0, 0, 0, 0]), block]);
      return encodeControlFrame(1, 0, payload);
    });
    h.tap.fromClient(Buffer.concat(frames));
    const kubectl = new SpdyEncoder();
    h.tap.fromClient(kubectl.data(3, text('typed'))); // stdin is stream 3
    const server = new SpdyEncoder();
    h.tap.fromServer(Buffer.concat([server.data(5, text('out')), server.data(7, text('err'))]));
    assert.deepEqual(h.sink.events, [
      { type: 'input', data: 'typed' },
      { type: 'output', stream: 'stdout', data: 'out' },
      { type: 'output', stream: 'stderr', data: 'err' },
    ]);
  });

  test('a non-TTY session survives client data frames (the peer killed it on the first stdin frame)', () => {
    const h = spdy();
    const client = kubectlStreams(['error', 'stdin', 'stdout', 'stderr']);
    h.tap.fromClient(client.bytes);
    h.tap.fromClient(client.encoder.data(client.ids.stdin, text('input')));
    h.tap.fromClient(client.encoder.data(client.ids.stdin, new Uint8Array(0), true));
    assert.equal(h.tap.ended, false);
    assert.deepEqual(h.sink.events, []);
  });
});

describe('SpdyTap exit status, size gate, fail-closed and termination', () => {
  function session(tty: boolean) {
    const h = spdy({ tty, firstResizeTimeoutMs: 50 });
    const roles = tty ? ['error', 'stdin', 'stdout', 'resize'] : ['error', 'stdout', 'stderr'];
    const client = kubectlStreams(roles);
    h.tap.fromClient(client.bytes);
    const server = replies(Object.values(client.ids));
    h.tap.fromServer(server.bytes);
    return { h, ids: client.ids, kubectl: client.encoder, server: server.encoder };
  }

  test('Status on the error stream, ended the kubelet way (RST_STREAM + GOAWAY), gives the exit code', () => {
    const { h, ids, server } = session(false);
    h.tap.fromServer(Buffer.concat([server.data(ids.error, text(JSON.stringify(exitCodeStatus(3)))), server.rstStream(ids.error, RstStatus.CANCEL), server.goaway(0)]));
    const exit = h.sink.events.find((e) => e.type === 'exit');
    assert.ok(exit?.type === 'exit');
    assert.equal(exit.code, 3);
  });

  test('an empty error stream ended with FIN means success; a cut session reports no exit', () => {
    const ok = session(false);
    ok.h.tap.fromServer(ok.server.data(ok.ids.error, new Uint8Array(0), true));
    assert.equal(ok.h.sink.events.find((e) => e.type === 'exit')?.type, 'exit');
    const cut = session(false);
    cut.h.tap.fromServer(cut.server.data(cut.ids.stdout, text('partial')));
    cut.h.tap.finish({ kind: 'upstream-gone' });
    assert.equal(cut.h.sink.events.find((e) => e.type === 'exit'), undefined);
    const success = session(false);
    success.h.tap.fromServer(Buffer.concat([success.server.data(success.ids.error, text(JSON.stringify(successStatus()))), success.server.rstStream(success.ids.error, 5)]));
    const exit = success.h.sink.events.find((e) => e.type === 'exit');
    assert.ok(exit?.type === 'exit' && exit.code === 0);
  });

  test('TTY output waits for the first resize; SYN_REPLYs before it are not held', () => {
    const { h, ids, kubectl, server } = session(true);
    assert.ok(h.clientBytes().byteLength > 0, 'SYN_REPLYs passed');
    const before = h.clientBytes().byteLength;
    h.tap.fromServer(server.data(ids.stdout, text('$ ')));
    assert.equal(h.clientBytes().byteLength, before, 'output held');
    h.tap.fromClient(kubectl.data(ids.resize, text('{"Width":132,"Height":43}\n')));
    assert.deepEqual(h.sink.merged(), [
      { type: 'resize', cols: 132, rows: 43 },
      { type: 'output', stream: 'stdout', data: '$ ' },
    ]);
    assert.ok(h.clientBytes().byteLength > before);
  });

  test('without a resize the held TTY output goes out after the bound', async () => {
    const { h, ids, server } = session(true);
    const before = h.clientBytes();
    const frame = server.data(ids.stdout, text('late'));
    h.tap.fromServer(frame);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(h.sink.outputText(), 'late');
    assert.deepEqual(h.clientBytes(), Buffer.concat([before, frame]), 'and the frame reached the client');
  });

  test('a partial trailing frame waits; finish forwards it', () => {
    const { h, ids, server } = session(false);
    const before = h.clientBytes();
    const frame = server.data(ids.stdout, text('hello'));
    h.tap.fromServer(frame.subarray(0, 10));
    assert.deepEqual(h.clientBytes(), before);
    h.tap.finish({ kind: 'upstream-gone' });
    assert.deepEqual(h.clientBytes(), Buffer.concat([before, frame.subarray(0, 10)]));
    assert.deepEqual(h.sink.events, [{ type: 'end', reason: { kind: 'upstream-gone' } }], 'a partial frame is not recorded');
  });

  test('TTY output held by the size gate: finish releases it, recorded first, then forwarded', () => {
    const { h, ids, server } = session(true);
    const before = h.clientBytes();
    const frame = server.data(ids.stdout, text('$ '));
    h.tap.fromServer(frame);
    assert.deepEqual(h.clientBytes(), before, 'held');
    h.tap.finish({ kind: 'client-gone' });
    assert.deepEqual(h.clientBytes(), Buffer.concat([before, frame]));
    assert.deepEqual(h.sink.events, [
      { type: 'output', stream: 'stdout', data: '$ ' },
      { type: 'end', reason: { kind: 'client-gone' } },
    ]);
  });

  test('fail-closed: once the sink refuses, nothing more reaches the client', () => {
    const { h, ids, server } = session(false);
    const before = h.clientBytes().byteLength;
    h.sink.refuse = true;
    const next = server.data(ids.stdout, text('partial'));
    h.tap.fromServer(Buffer.concat([server.data(ids.stdout, text('unrecorded')), server.ping(2), next.subarray(0, 9)]));
    assert.equal(h.clientBytes().byteLength, before);
    // finish() must not release what was never recorded: the refused frames nor the partial tail.
    h.tap.finish({ kind: 'closed' });
    assert.equal(h.clientBytes().byteLength, before);
  });

  test('terminate: a line on stderr (no TTY) or stdout (TTY), a Status on the error stream, RST per stream, GOAWAY last', () => {
    for (const tty of [false, true]) {
      const { h, ids } = session(tty);
      const before = h.clientBytes().byteLength;
      h.tap.terminate('kubecast: recording failed: recorder unreachable');
      const frames = new SpdyParser().push(h.clientBytes().subarray(before));
      const outputId = tty ? ids.stdout : ids.stderr;
      assert.equal(frames[0].type, 'data');
      assert.equal(frames[0].type === 'data' && frames[0].streamId, outputId);
      assert.match(Buffer.from(frames[0].type === 'data' ? frames[0].payload : []).toString(), /recorder unreachable/);
      assert.ok(frames[1].type === 'data' && frames[1].streamId === ids.error);
      const status = JSON.parse(Buffer.from(frames[1].type === 'data' ? frames[1].payload : []).toString());
      assert.equal(status.status, 'Failure');
      const rsts = frames.filter((f) => f.type === 'rst_stream');
      assert.equal(rsts.length, Object.keys(ids).length);
      assert.equal(frames.at(-1)?.type, 'goaway');
    }
  });
});

describe('SpdyTap chunking invariance', () => {
  function session(outputs: Uint8Array[]) {
    const client = kubectlStreams(['error', 'stdin', 'stdout', 'resize']);
    const kubectl = client.encoder;
    const resize = kubectl.data(client.ids.resize, text('{"Width":90,"Height":25}\n'));
    const clientBytes = Buffer.concat([
      client.bytes,
      resize,
      kubectl.data(client.ids.stdin, text('echo hi\n')),
      kubectl.ping(1),
      kubectl.data(client.ids.stdin, new Uint8Array(0), true),
    ]);
    const server = replies(Object.values(client.ids));
    const s = server.encoder;
    const outputFrames = outputs.map((o) => s.data(client.ids.stdout, o));
    const serverFrames = [
      server.bytes,
      ...outputFrames,
      s.ping(1),
      s.data(client.ids.error, text(JSON.stringify(exitCodeStatus(3)))),
      ...Object.values(client.ids).map((id) => s.rstStream(id, RstStatus.CANCEL)),
      s.goaway(7),
    ];
    const serverBytes = Buffer.concat(serverFrames);
    // Where things are, for the interleaving test: the SYN_STREAMs, the resize, the first output,
    // and every server frame boundary (SYN_REPLYs taken as one unit: a cut inside is mid-frame too).
    const frameEnds = new Set<number>();
    serverFrames.reduce((at, frame) => (frameEnds.add(at + frame.byteLength), at + frame.byteLength), 0);
    const at = {
      synEnd: client.bytes.byteLength,
      resizeEnd: client.bytes.byteLength + resize.byteLength,
      firstOutputEnd: server.bytes.byteLength + outputFrames[0].byteLength,
      frameEnds,
    };
    return { clientBytes, serverBytes, at };
  }

  function run(clientBytes: Uint8Array, serverBytes: Uint8Array, clientCuts: number[], serverCuts: number[]) {
    const h = spdy({ tty: true, recordStdin: true });
    for (const piece of splitAt(clientBytes, clientCuts)) h.tap.fromClient(piece);
    for (const piece of splitAt(serverBytes, serverCuts)) h.tap.fromServer(piece);
    h.tap.finish({ kind: 'closed' });
    return { events: h.sink.merged(), toClient: h.clientBytes(), toServer: h.serverBytes() };
  }

  test('split at every byte boundary: same events, same bytes both ways', () => {
    const { clientBytes, serverBytes } = session([text('héllo\r\n'), text('日本語'), text('$ ')]);
    const whole = run(clientBytes, serverBytes, [], []);
    assert.deepEqual(whole.toClient, serverBytes);
    assert.deepEqual(whole.toServer, clientBytes);
    for (let cut = 1; cut < serverBytes.byteLength; cut++) assert.deepEqual(run(clientBytes, serverBytes, [], [cut]), whole, `server cut ${cut}`);
    for (let cut = 1; cut < clientBytes.byteLength; cut++) assert.deepEqual(run(clientBytes, serverBytes, [cut], []), whole, `client cut ${cut}`);
  });

  test('random chunkings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 5000 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (outputs, clientCuts, serverCuts) => {
          const { clientBytes, serverBytes } = session(outputs);
          const whole = run(clientBytes, serverBytes, [], []);
          const chunked = run(
            clientBytes,
            serverBytes,
            clientCuts.map((c) => c % clientBytes.byteLength),
            serverCuts.map((c) => c % serverBytes.byteLength),
          );
          assert.deepEqual(chunked, whole);
          assert.deepEqual(whole.toClient, serverBytes);
        },
      ),
      { numRuns: 300, seed: 4243 },
    );
  });

  test('client and server chunks interleaved by a random schedule: output before the resize is held, some runs end mid-frame', () => {
    const seen = { heldBeforeResize: 0, endedMidFrame: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { minLength: 1, maxLength: 5 }),
        interleaving,
        (outputs, run) => {
          const { at, ...bytes } = session(outputs);
          assertInterleavedLikeWhole(() => spdy({ tty: true, recordStdin: true, firstResizeTimeoutMs: 60_000 }), { client: bytes.clientBytes, server: bytes.serverBytes, serverAfter: at.synEnd, ...at }, run, seen);
        },
      ),
      { numRuns: 300, seed: 4244 },
    );
    // The paths this test is for were taken, not just possible.
    assert.ok(seen.heldBeforeResize >= 30, `output arrived before the resize in ${seen.heldBeforeResize} runs`);
    assert.ok(seen.endedMidFrame >= 30, `finish() came mid-frame in ${seen.endedMidFrame} runs`);
  });
});
