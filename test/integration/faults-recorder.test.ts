// Fault injection on the recorder side, with real processes: a recorder whose answers arrive late
// (a delaying TCP relay in front of `kubecast recorder`), and a recorder whose disk is full (the
// process runs under `ulimit -f`, so writes past the limit fail with EFBIG). Real kubectl 1.27 (SPDY)
// and 1.33 (WebSocket) through `kubecast serve` in fail-closed mode.
// (SIGKILL + restart of the recorder is covered in proxy-failure.test.ts.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { CLI, startKubecast, tempDir } from '../helpers/kubecast';
import { listCasts, outputOf, withServe } from '../helpers/serve-fixture';
import { ackFrames, processLimit, startDelayRelay, startReadyProcess, waitFor } from '../helpers/faults';
import { parseCast } from '../../src/cast';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

const ticker = (n: number, every = 0.1) => `i=0; while [ $i -lt ${n} ]; do echo tick-$i; i=$((i+1)); sleep ${every}; done`;

const ACK_WINDOW_MS = 2000;

/** The single cast file under a recorder's data folder, once it holds `pattern` (or the last seen text on timeout). */
async function storedCast(dataDir: string, pattern: RegExp, timeoutMs = 10_000): Promise<{ path: string; bytes: Buffer }> {
  let last: { path: string; bytes: Buffer } | undefined;
  await waitFor(() => {
    const files = listCasts(join(dataDir, 'recordings'));
    if (files.length === 0) return false;
    last = { path: files[files.length - 1], bytes: readFileSync(files[files.length - 1]) };
    return pattern.test(last.bytes.toString('utf8'));
  }, timeoutMs);
  if (!last) assert.fail(`no recording under ${dataDir}`);
  return last;
}

for (const profile of profiles) {
  describe(`recorder faults, ${profile.label}`, () => {
    test('slow recorder: acks a second late (window 2 s) keep the session alive; acks held past the window end it with the reason', async (t) => {
      const recorderData = tempDir('recorder');
      const recorder = await startKubecast(['recorder', '--data', recorderData.path, '--listen', '127.0.0.1:0']);
      const relay = await startDelayRelay(recorder.ready.recorder!, { delayMs: 1000 });
      try {
        const token = readFileSync(recorder.ready.token!, 'utf8').trim();
        await withServe({ recorders: [relay.url], recorderToken: token, policy: 'fail-closed', ackTimeoutMs: ACK_WINDOW_MS }, async (fx) => {
          // 1. Every answer of the recorder (the h2 handshake, the 200, each ack) is a second late.
          const slow = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', ticker(20)], { timeoutMs: 30_000 });
          assert.equal(slow.code, 0, `the session survived late acks: ${slow.stderr}`);
          assert.equal(slow.stdoutText, Array.from({ length: 20 }, (_, i) => `tick-${i}\n`).join(''));
          const latency = (await fx.handle.proxy.metrics.ackLatency.get()).values;
          const sum = latency.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
          const count = latency.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
          assert.ok(count > 0 && sum / count >= 0.9, `acks really were late: mean ack latency ${((sum / count) * 1000).toFixed(0)} ms over ${count}`);
          t.diagnostic(`late acks: mean ack latency ${((sum / count) * 1000).toFixed(0)} ms over ${count} acks; session ${slow.durationMs} ms`);
          const first = await storedCast(recorderData.path, /"x"/);
          const cast = parseCast(first.bytes.toString('utf8'));
          assert.equal(outputOf(cast), slow.stdoutText, 'the recording holds the whole session');

          // 2. Mid-session the acks stop arriving within the window: the session ends, kubectl says why.
          const running = fx.kubectl(profile).start(['exec', 'shell', '--', 'sh', '-c', ticker(600)], { timeoutMs: 60_000 });
          assert.ok(await waitFor(() => running.stdoutSoFar().includes('tick-3'), 15_000), `no ticks: ${running.stdoutSoFar()}`);
          relay.delayMs = 60_000;
          const result = await running.result;
          // Answers already on their way still arrive (up to a second later); the window runs from the last one.
          const took = Date.now() - relay.lastDownAt;
          t.diagnostic(`acks held back: kubectl ended ${took} ms after the last answer reached the proxy (window ${ACK_WINDOW_MS} ms), exit ${result.code}; stderr: ${result.stderr.trim()}`);
          assert.ok(took >= ACK_WINDOW_MS - 100, `kubectl ended only ${took} ms after the last answer: the window was not honoured`);
          assert.ok(took < ACK_WINDOW_MS + 1000, `kubectl ended ${took} ms after the last answer from the recorder`);
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /kubecast: session ended: recording failed: .*(no ack from the recorder|stopped acknowledging)/);
          assert.ok(await waitFor(() => fx.handle.localCluster!.liveProcessCount === 0, 5000), 'the container command was stopped');
          // The recorder kept what reached it of the cut session: whole lines, a prefix of what kubectl saw.
          const files = listCasts(join(recorderData.path, 'recordings'));
          assert.equal(files.length, 2);
          const cut = parseCast(readFileSync(files.find((f) => f !== first.path)!, 'utf8'));
          assert.equal(cut.truncated, false);
          assert.ok(result.stdoutText.startsWith(outputOf(cut)), 'the stored output is a prefix of what kubectl showed');
        });
      } finally {
        relay.delayMs = 0;
        await relay.close();
        await recorder.stop('SIGKILL');
        recorderData.cleanup();
      }
    });

    test('recorder disk full (ulimit -f): the session ends with "file too large"; every acked byte is in the stored file, which parses; the recorder lives on', async (t) => {
      const recorderData = tempDir('recorder-full');
      const limitBlocks = 256; // 512-byte blocks in POSIX sh: 128 KiB per file
      const recorder = await startReadyProcess('sh', [
        '-c',
        `trap '' XFSZ; ulimit -f ${limitBlocks}; exec "$0" "$@"`,
        process.execPath,
        CLI,
        'recorder',
        '--data',
        recorderData.path,
        '--listen',
        '127.0.0.1:0',
        '--json',
      ]);
      const relay = await startDelayRelay(recorder.ready.recorder as string);
      try {
        const limit = processLimit(recorder.pid, 'Max file size');
        assert.ok(limit !== null && limit > 0 && limit <= 1024 * 1024, `the recorder runs with a file size limit (${limit})`);
        const token = readFileSync(recorder.ready.token as string, 'utf8').trim();
        await withServe({ recorders: [relay.url], recorderToken: token, policy: 'fail-closed', ackTimeoutMs: 5000 }, async (fx) => {
          // ~100 KB/s of output in bursts: some acks come before the file reaches the limit.
          const line = 'x'.repeat(90);
          const script = `i=0; while [ $i -lt 100000 ]; do echo "line-$i ${line}"; i=$((i+1)); [ $((i % 50)) -eq 0 ] && sleep 0.05; done`;
          const started = Date.now();
          const result = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', script], { timeoutMs: 30_000 });
          t.diagnostic(`disk full after ${Date.now() - started} ms: exit ${result.code}; stderr: ${result.stderr.trim()}`);
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /kubecast: session ended: recording failed: .*(file too large|no space left)/i);
          assert.ok(await waitFor(() => fx.handle.localCluster!.liveProcessCount === 0, 5000), 'the container command was stopped');

          // What crossed the wire: the upload (proxy → recorder) and the recorder's acks and error.
          const stream = relay.h2Streams('up').reduce((best, id) => (relay.h2Data('up', id).byteLength > relay.h2Data('up', best).byteLength ? id : best));
          const uploaded = relay.h2Data('up', stream);
          const { acks, errors } = ackFrames(relay.h2Data('down', stream));
          const maxAck = Math.max(0, ...acks);
          assert.ok(maxAck > 0, 'the recorder acknowledged bytes before its disk was full');
          assert.equal(errors.length, 1, `the recorder said why: ${JSON.stringify(errors)}`);
          assert.match(errors[0], /cannot store the recording: .*(EFBIG|file too large)/);

          const [file] = listCasts(join(recorderData.path, 'recordings'));
          const stored = readFileSync(file);
          t.diagnostic(`uploaded ${uploaded.byteLength} B, acked ${maxAck} B, stored ${stored.byteLength} B (limit ${limit} B)`);
          assert.ok(stored.byteLength >= maxAck, `stored ${stored.byteLength} B < acked ${maxAck} B`);
          assert.ok(stored.byteLength <= limit!, 'the limit really applied');
          assert.deepEqual(stored, uploaded.subarray(0, stored.byteLength), 'the file is a prefix of the upload');
          // A short write may leave part of a line at the end (see the report); what is whole parses,
          // and the reader reports the cut tail as truncated instead of failing.
          const whole = stored.subarray(0, stored.lastIndexOf(0x0a) + 1);
          assert.ok(whole.byteLength >= maxAck, 'every acked byte is in a whole line');
          const wholeCast = parseCast(whole.toString('utf8'));
          assert.equal(wholeCast.truncated, false);
          assert.ok(wholeCast.events.length > 0);
          const cast = parseCast(stored.toString('utf8'));
          assert.equal(cast.truncated, whole.byteLength < stored.byteLength);
          t.diagnostic(`stored file: ${cast.events.length} events, ${stored.byteLength - whole.byteLength} B of a cut last line`);
          // kubectl saw output only up to what had been handed to the recorder.
          assert.ok(result.stdout.byteLength > 0);

          // The recorder process is fine: the next (small) session is recorded.
          assert.equal(recorder.child.exitCode, null, 'the recorder is still running');
          const next = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'after-the-full-disk'], { timeoutMs: 20_000 });
          assert.equal(next.code, 0, next.stderr);
          assert.equal(next.stdoutText, 'after-the-full-disk\n');
          const second = await waitFor(() => listCasts(join(recorderData.path, 'recordings')).some((p) => /after-the-full-disk/.test(readFileSync(p, 'utf8')) && /"x"/.test(readFileSync(p, 'utf8'))), 10_000);
          assert.ok(second, 'the next session was recorded');
        });
      } finally {
        await relay.close();
        await recorder.stop('SIGKILL');
        recorderData.cleanup();
      }
    });
  });
}

