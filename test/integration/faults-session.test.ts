// Fault injection on the two ends of a session, with real processes: the API server (a
// `kubecast local-cluster` process) SIGKILLed mid-session, and kubectl SIGKILLed mid-session with
// unread data in its socket (so its kernel resets the connection). Real kubectl 1.27 (SPDY) and
// 1.33 (WebSocket) through `kubecast serve`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { startKubecast, tempDir } from '../helpers/kubecast';
import { outputOf, withServe } from '../helpers/serve-fixture';
import { describeProcesses, newProcessMarker, processesWithEnv, waitUntilGone } from '../helpers/processes';
import { sleep, unreadBytesFrom, waitFor } from '../helpers/faults';
import { parseCast } from '../../src/cast';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

const ticker = (n: number) => `i=0; while [ $i -lt ${n} ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done`;

function endMarkers(cast: ReturnType<typeof parseCast>): string[] {
  return cast.events.filter((e) => e.code === 'm' && e.data.startsWith('kubecast: session ended')).map((e) => e.data);
}

for (const profile of profiles) {
  describe(`session faults, ${profile.label}`, () => {
    test('upstream SIGKILLed mid-session: kubectl gets EOF and the reason, exits non-zero; the recording ends with the reason', async (t) => {
      const dir = tempDir('upstream');
      const marker = newProcessMarker();
      // The marker reaches container processes through the pods file (their environment is otherwise small).
      const podsFile = join(dir.path, 'pods.json');
      writeFileSync(podsFile, JSON.stringify({ pods: [{ name: 'shell', containers: [{ name: 'shell', env: { [marker.name]: marker.value } }] }] }));
      const cluster = await startKubecast(['local-cluster', '--data', join(dir.path, 'cluster'), '--pods', podsFile], { env: { [marker.name]: marker.value } });
      const containerProcesses = () => processesWithEnv(marker.name, marker.value).filter((p) => p.pid !== cluster.pid);
      try {
        await withServe({ upstream: cluster.ready.local!, policy: 'fail-closed' }, async (fx) => {
          // A background job (a daemon started from the shell) beside the chatty foreground loop.
          const running = fx.kubectl(profile).start(['exec', 'shell', '--', 'sh', '-c', `sleep 300 & ${ticker(600)}`], { timeoutMs: 30_000 });
          assert.ok(await waitFor(() => running.stdoutSoFar().includes('tick-3'), 15_000), `no ticks: ${running.stdoutSoFar()}`);
          const killedAt = Date.now();
          cluster.child.kill('SIGKILL');
          const result = await running.result;
          const took = Date.now() - killedAt;
          t.diagnostic(`kubectl ended ${took} ms after the API server died: exit ${result.code}; stderr: ${result.stderr.trim()}`);
          assert.ok(took < 5000, `kubectl ended ${took} ms after the API server died`);
          assert.equal(result.timedOut, false);
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /kubecast: session ended: the connection to the API server was lost/);
          assert.match(result.stdoutText, /^tick-0\ntick-1\ntick-2\ntick-3\n/);

          const [recording] = await fx.waitForRecordings(1);
          assert.equal(recording.cast.truncated, false);
          assert.equal(outputOf(recording.cast), result.stdoutText, 'the recording holds what kubectl showed');
          const ends = endMarkers(recording.cast);
          assert.equal(ends.length, 1, `one end marker: ${JSON.stringify(ends)}`);
          assert.match(ends[0], /the connection to the API server was lost/);
          assert.equal(recording.cast.events.at(-1)?.code, 'm', 'the reason is the last event');
          assert.ok(!recording.cast.events.some((e) => e.code === 'x'), 'no exit status was invented');
          const id = (recording.cast.header.kubecast as { id: string }).id;
          // The end marker is on disk a moment before the upload's end is sealed in the index.
          assert.ok(await waitFor(() => fx.handle.library.get(id)?.live === false, 5000), `the recording is no longer live: ${JSON.stringify(fx.handle.library.get(id))}`);
          await fx.handle.library.settled();
          const view = fx.handle.library.get(id);
          assert.ok(view, 'indexed');
          assert.equal(view.exitCode, null);
        });
      } finally {
        await cluster.stop('SIGKILL');
        // A SIGKILLed local cluster cannot stop what it started: find its container processes by the
        // marker, report them, and kill them.
        const orphans = await waitUntilGone(containerProcesses, 1000);
        t.diagnostic(`container processes orphaned by the SIGKILLed local cluster: ${orphans.length}${orphans.length ? `\n${describeProcesses(orphans)}` : ''}`);
        for (const p of orphans) {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }
        const left = await waitUntilGone(containerProcesses, 5000);
        dir.cleanup();
        assert.equal(left.length, 0, `orphans survived SIGKILL:\n${describeProcesses(left)}`);
      }
    });

    for (const tty of [false, true]) {
      test(`client vanishes (kubectl SIGKILLed with unread data: connection reset), ${tty ? 'TTY' : 'no TTY'}: the recording is closed cleanly and the command stopped`, async (t) => {
        await withServe({ policy: 'fail-closed' }, async (fx) => {
          const kubectl = fx.kubectl(profile);
          let pid: number;
          let kill: () => void;
          let seen: () => string;
          if (tty) {
            const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh', '-c', ticker(600)], { cols: 100, rows: 30 });
            pid = term.pid;
            kill = () => term.kill('SIGKILL');
            seen = () => term.text;
          } else {
            const running = kubectl.start(['exec', 'shell', '--', 'sh', '-c', ticker(600)], { timeoutMs: 30_000 });
            pid = running.pid;
            kill = () => running.kill('SIGKILL');
            seen = () => running.stdoutSoFar();
          }
          assert.ok(await waitFor(() => seen().includes('tick-3'), 15_000), `no ticks: ${seen()}`);
          assert.equal(fx.handle.localCluster!.liveProcessCount, 1);
          // Stopped, kubectl reads nothing: ticks pile up unread in its socket, so the kernel answers
          // the kill with a reset rather than an orderly close.
          process.kill(pid, 'SIGSTOP');
          const proxyPort = Number(new URL(fx.handle.urls.proxy).port);
          assert.ok(await waitFor(() => unreadBytesFrom(proxyPort) > 0, 5000), 'data waits unread in the stopped kubectl\'s socket');
          await sleep(200);
          const killedAt = Date.now();
          kill();
          const [recording] = await fx.waitForRecordings(1, 10_000);
          const closedAfter = Date.now() - killedAt;
          assert.equal(recording.cast.truncated, false);
          assert.equal(recording.text.at(-1), '\n');
          const ends = endMarkers(recording.cast);
          assert.deepEqual(ends, ['kubecast: session ended (client-gone)']);
          assert.match(outputOf(recording.cast), /tick-3/);
          assert.ok(await waitFor(() => fx.handle.localCluster!.liveProcessCount === 0, 5000), `the container command was stopped (${fx.handle.localCluster!.liveProcessCount} left)`);
          const stoppedAfter = Date.now() - killedAt;
          assert.ok(await waitFor(() => fx.handle.proxy.activeSessions === 0, 5000), 'the proxy let go of the session');
          const id = (recording.cast.header.kubecast as { id: string }).id;
          // The end marker is on disk a moment before the upload's end is sealed in the index.
          assert.ok(await waitFor(() => fx.handle.library.get(id)?.live === false, 5000), `the recording is no longer live: ${JSON.stringify(fx.handle.library.get(id))}`);
          await fx.handle.library.settled();
          const view = fx.handle.library.get(id);
          assert.ok(view, 'indexed');
          assert.equal(view.complete, true, 'the upload ended normally: the recording is complete');
          assert.equal(view.bytes, Buffer.byteLength(recording.text));
          t.diagnostic(`recording closed ${closedAfter} ms and command stopped ${stoppedAfter} ms after the kill; ${recording.cast.events.length} events`);
        });
      });
    }
  });
}
