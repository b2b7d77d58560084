// The fuzzer's findings, kept: every case in test/fixtures/fuzz/<target>/ replayed through its
// target, the named bad inputs of every target (performance-reliability.md §7, tailscale §7.3), a
// short fixed-seed pass of every target (`npm run fuzz` is the long, random-seed version), and a
// readable test for each bug the fuzzer found.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fixturesOf, runBatch, runCase } from '../../fuzz/engine';
import { describeCase } from '../../fuzz/lib/case';
import { targets } from '../../fuzz/targets';
import { ResizeStreamDecoder } from '../../src/protocol/channel';
import { SpdyEncoder } from '../../src/protocol/spdy/index';
import { encodeChannelMessage, encodeFrame } from '../../src/protocol/ws/encoder';
import { ChannelReader } from '../../src/protocol/ws/message';
import { WsFrameParser } from '../../src/protocol/ws/parser';
import { Ingest, IngestError } from '../../src/recorder/ingest';
import { MAX_HEADER_BYTES } from '../../src/recorder/protocol';
import { RecordingStore } from '../../src/store/store';
import { SpdyTap } from '../../src/tap/spdy-tap';
import { WsTap } from '../../src/tap/ws-tap';
import { harness } from '../helpers/tap-harness';

/** `npm test` runs two test files at a time: per-case time bounds get some room. */
const CASE_TIME_SCALE = 2;
const SEED = 20261123;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const text = (s: string) => new TextEncoder().encode(s);

describe('fuzz regression corpus (test/fixtures/fuzz)', () => {
  for (const target of targets) {
    const fixtures = fixturesOf(target);
    if (fixtures.length === 0) continue;
    test(`${target.name}: ${fixtures.length} saved finding(s) pass`, async () => {
      for (const { file, fuzzCase } of fixtures) {
        await runCase(target, fuzzCase, CASE_TIME_SCALE).catch((error: unknown) => {
          throw new Error(`${file} fails again: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        });
      }
    });
  }
});

describe('fuzz targets: named bad inputs', () => {
  for (const target of targets) {
    test(`${target.name}: every named seed holds the invariants`, async () => {
      for (const seed of target.seeds()) {
        await runCase(target, seed.fuzzCase, CASE_TIME_SCALE).catch((error: unknown) => {
          throw new Error(`seed "${seed.name}": ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        });
      }
    });
  }
});

describe('fuzz targets: fixed-seed short pass', () => {
  for (const target of targets) {
    test(`${target.name}: ${target.quickRuns} cases, seed ${SEED}`, async (t) => {
      const started = performance.now();
      // No shrinking here (a slow finding can take minutes to minimise): the reproduce line below
      // hands the failing case to `npm run fuzz`, which minimises it.
      const result = await runBatch(target, { seed: SEED, numRuns: target.quickRuns, caseTimeScale: CASE_TIME_SCALE, shrink: false });
      t.diagnostic(`${result.cases} cases in ${(performance.now() - started).toFixed(0)} ms`);
      if (result.failed) {
        assert.fail(
          `${target.name} fails: ${result.error instanceof Error ? result.error.message : String(result.error)}\n` +
            `reproduce and minimise: npm run fuzz -- --target ${target.name} --seed ${result.seed} --path ${result.path}\n` +
            (result.counterexample ? describeCase(result.counterexample) : ''),
        );
      }
    });
  }
});

describe('findings of the fuzzer', () => {
  test('tap passthrough after a malformed server frame relays the partial frame held from earlier chunks (SPDY)', () => {
    // Found by spdy-tap: the parser forgets its partial frame when it fails, and the tap then asked
    // it how many tail bytes to relay: 0. kubectl lost those bytes, in the mode meant to keep it going.
    const server = new SpdyEncoder();
    const a = server.data(5, text('first'));
    const b = server.data(5, text('second frame'));
    const bad = Buffer.from('80 02 00 01 00 00 00 00'.replace(/ /g, ''), 'hex'); // control frame, version 2
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io', onProtocolError: () => 'passthrough' });
    h.tap.fromServer(Buffer.concat([a, b.subarray(0, 10)]));
    h.tap.fromServer(Buffer.concat([b.subarray(10), bad]));
    h.tap.finish({ kind: 'closed' });
    assert.deepEqual(h.clientBytes(), Buffer.concat([a, b, bad]));
  });

  test('a SYN_STREAM for stream 0 with a role, then a malformed frame: the session ends, nothing throws out of the tap', () => {
    // Found by spdy-tap (5-minute run): the role was kept for stream 0, and the termination frames
    // then asked the encoder for RST_STREAM 0, which throws. Out of a socket 'data' handler that is
    // an uncaught exception: one kubectl user could take the whole proxy down.
    const h = harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' });
    const syn = Buffer.from(new SpdyEncoder().synStream({ streamId: 1, headers: { streamtype: 'stdout' } }));
    syn.writeUInt32BE(0, 8);
    assert.doesNotThrow(() => {
      h.tap.fromClient(syn);
      h.tap.fromClient(Buffer.from('0000000000000001aa', 'hex')); // data frame for stream 0
    });
    const end = h.sink.events.at(-1);
    assert.equal(end?.type === 'end' && end.reason.kind, 'protocol-error');
    assert.doesNotThrow(() => h.tap.terminate('again'));
  });

  test('tap passthrough after a channel error relays exactly the unforwarded bytes (WebSocket)', () => {
    // The same path when the frame parser succeeded but the channel layer refused a frame: the parser
    // then already held bytes of the failing chunk, and the tap relayed the wrong tail bytes.
    const first = Buffer.from([0x82, 0x06, 0x01, ...text('hello')]);
    const orphan = Buffer.from([0x80, 0x00]); // a continuation with no message in progress
    const next = Buffer.from([0x82, 0x03, 0x01]); // start of another frame, left partial
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io', onProtocolError: () => 'passthrough' });
    h.tap.fromServer(first.subarray(0, 4));
    h.tap.fromServer(Buffer.concat([first.subarray(4), orphan, next]));
    h.tap.finish({ kind: 'closed' });
    assert.deepEqual(h.clientBytes(), Buffer.concat([first, orphan, next]));
  });

  for (const [name, options] of [
    ['held by the TTY size gate', { tty: true }],
    ['refused by a fail-closed sink', { tty: false, refuse: true }],
  ] as const) {
    test(`WebSocket termination after a fragmented message start that was ${name}: kubectl reads a clean stream`, () => {
      // Found by ws-tap: the tap noted "message open" when it parsed a non-FIN frame, not when it
      // forwarded it, and prefixed its termination frames with a continuation kubectl never expected.
      const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io', tty: options.tty, firstResizeTimeoutMs: 60_000 });
      if ('refuse' in options) h.sink.refuse = true;
      h.tap.fromServer(encodeFrame({ fin: false, opcode: 2, payload: Buffer.concat([Buffer.from([1]), text('abc')]) }));
      h.tap.terminate('kubecast: recording failed');
      const parser = new WsFrameParser({ direction: 'server-to-client' });
      const reader = new ChannelReader();
      for (const frame of parser.push(h.clientBytes())) reader.push(frame);
      assert.equal(parser.buffered, 0);
      assert.equal(reader.inMessage, false);
    });
  }

  test('WebSocket termination inside a forwarded fragmented message still closes it first', () => {
    const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
    h.tap.fromServer(encodeFrame({ fin: false, opcode: 2, payload: Buffer.concat([Buffer.from([1]), text('abc')]) }));
    h.tap.terminate('kubecast: recording failed');
    const frames = new WsFrameParser({ direction: 'server-to-client' }).push(h.clientBytes());
    assert.equal(frames[1].opcode, 0);
    assert.equal(frames[1].fin, true);
    const reader = new ChannelReader();
    for (const frame of frames) reader.push(frame);
  });

  test('error-stream bytes are copied: a 1-byte Status frame does not keep its 64 KiB socket chunk alive', async () => {
    // Found by the flood check of spdy-tap/ws-tap: one view per error-stream frame pinned every
    // socket chunk that carried one (and cost an object per frame).
    for (const spdy of [true, false]) {
      const h = spdy ? harness((o) => new SpdyTap(o), { protocol: 'v4.channel.k8s.io' }) : harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io' });
      if (spdy) h.tap.fromClient(new SpdyEncoder().synStream({ streamId: 1, headers: { streamtype: 'error' } }));
      const frame = spdy ? new SpdyEncoder().data(1, text('{')) : encodeChannelMessage(3, text('{'));
      const filler = spdy ? new SpdyEncoder().data(3, new Uint8Array(1000)) : encodeChannelMessage(7, new Uint8Array(1000));
      const bytes = Buffer.concat([filler, frame]);
      // A socket read: one 64 KiB buffer, of which the data fills the start.
      let chunk: Uint8Array | undefined = new Uint8Array(64 * 1024);
      chunk.set(bytes);
      const pinned = new WeakRef(chunk.buffer);
      h.tap.fromServer(chunk.subarray(0, bytes.length));
      chunk = undefined;
      await new Promise((resolve) => setImmediate(resolve)); // WeakRefs hold until the job ends
      collectGarbage();
      assert.equal(pinned.deref(), undefined, `${spdy ? 'SpdyTap' : 'WsTap'} still holds the chunk`);
      h.tap.finish({ kind: 'closed' });
    }
  });

  test('a resize message trickling in one byte per frame costs linear time', () => {
    // Found by the channel target: ResizeStreamDecoder rescanned all pending text on every push, so
    // 64 KiB of resize stream in 1-byte frames (~450 KB from kubectl) held the event loop for seconds.
    const run = (length: number, body: (n: number) => string) => {
      const bytes = text(body(length));
      const decoder = new ResizeStreamDecoder();
      const started = performance.now();
      for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
      return performance.now() - started;
    };
    for (const body of [(n: number) => `{"Width":80,"Height":24,"x":"${'a'.repeat(n)}`, (n: number) => 'a'.repeat(n)]) {
      // ~0.1 s when linear, 4–12 s when quadratic: a bound with room for a busy CI machine.
      const elapsed = Math.min(run(60_000, body), run(60_000, body));
      assert.ok(elapsed < 1500, `60 000 bytes one at a time took ${elapsed.toFixed(0)} ms`);
    }
    // Scanning state carried across pushes must not change the answer: an escape split across frames.
    const decoder = new ResizeStreamDecoder();
    const results = [...text('{"x":"\\"}","Width":80,"Height":24}')].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    assert.deepEqual(results, [{ cols: 80, rows: 24 }]);
  });

  test('a header line trickling into the recorder costs linear time and bounded objects', async () => {
    // Found by the ingest target (seed: a header just under 1 MiB in 16-byte chunks): every chunk
    // joined and searched everything queued so far, ~25 s for that header.
    const dir = mkdtempSync(join(tmpdir(), 'kubecast-fuzz-test-'));
    try {
      const header = Buffer.from(`{"version":2,"t":"${'x'.repeat(MAX_HEADER_BYTES - 40)}"}\n[0,"o","x"]\n`);
      const ingest = Ingest.fresh(new RecordingStore(dir), randomUUID());
      const started = performance.now();
      for (let i = 0; i < header.length; i += 16) ingest.push(header.subarray(i, i + 16));
      const elapsed = performance.now() - started;
      await ingest.finish();
      assert.equal(ingest.offset, header.length);
      assert.ok(elapsed < 2000, `1 MiB of header in 16-byte chunks took ${elapsed.toFixed(0)} ms`);

      // Past the cap, still refused with the typed error.
      const tooLong = Ingest.fresh(new RecordingStore(dir), randomUUID());
      const big = Buffer.alloc(MAX_HEADER_BYTES + 16, 0x78);
      for (let i = 0; i < big.length; i += 4096) tooLong.push(big.subarray(i, i + 4096));
      await assert.rejects(tooLong.finish(), (error: unknown) => error instanceof IngestError && /header line exceeds/.test(error.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
