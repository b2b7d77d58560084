// 1 000 sequential short execs through one `kubecast serve` (in this process, so its sockets, timers,
// file descriptors and child processes can be counted): nothing grows with the number of sessions,
// and every recording is complete. The 1 000 go through a Node WebSocket client speaking
// v5.channel.k8s.io as kubectl 1.33 does (a kubectl process per exec would take minutes on 2 cores),
// every fifth with a terminal;
// real kubectl 1.27 (SPDY) and 1.33 (WebSocket) add 10 each inside the counted window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withServe, type ServeFixture } from '../helpers/serve-fixture';
import { describeCounts, resourceCounts, sleep, waitFor, wsExec, type ResourceCounts } from '../helpers/faults';
import { tempDir } from '../helpers/kubecast';
import { RecorderServer } from '../../src/recorder/server';
import { RecordingStore } from '../../src/store/store';
import { Library, type RecordingView } from '../../src/store/library';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

/** Small constant slack after settling: a pooled socket, a timer of the library, an fd of SQLite's WAL. */
const SLACK = { fds: 6, sockets: 2, timers: 3 };

/** Waits until the session machinery is idle, then past the proxy's 2 s socket linger. */
async function settle(fx: ServeFixture): Promise<void> {
  const idle = await waitFor(() => fx.handle.proxy.activeSessions === 0 && fx.handle.localCluster!.liveProcessCount === 0 && fx.handle.localCluster!.connectionCount === 0, 10_000);
  assert.ok(idle, `still busy: ${fx.handle.proxy.activeSessions} sessions, ${fx.handle.localCluster!.liveProcessCount} processes, ${fx.handle.localCluster!.connectionCount} connections`);
  await fx.handle.library.settled();
  await sleep(2500);
  await fx.handle.library.settled();
}

function growth(before: ResourceCounts, after: ResourceCounts) {
  return { fds: after.fds - before.fds, sockets: after.sockets - before.sockets, timers: after.timers - before.timers };
}

function allRecordings(library: Library): RecordingView[] {
  const items: RecordingView[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = library.list({ limit: 500, cursor });
    items.push(...page.items);
    if (!page.next) return items;
    cursor = page.next;
  }
}

async function execMany(fx: ServeFixture, count: number, label: string, onProgress?: (done: number) => void): Promise<void> {
  const ca = readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8');
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    // Every fifth exec has a terminal: the resize gate, the live hub's screen and its snapshots are counted too.
    const tty = i % 5 === 4;
    const result = await wsExec(fx.handle.urls.proxy, ['echo', `${label}-${i}`], { token: fx.handle.token, ca, tty: tty ? { cols: 100, rows: 30 } : undefined });
    const expected = `${label}-${i}${tty ? '\r\n' : '\n'}`;
    if (result.stdout !== expected || result.exitCode !== 0 || result.status?.status !== 'Success') {
      failures.push(`#${i}: exit ${result.exitCode}, stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr)}, status ${JSON.stringify(result.status)}`);
      if (failures.length > 5) break;
    }
    onProgress?.(i + 1);
  }
  assert.deepEqual(failures, [], 'every exec ran and reported success');
}

test('1 000 sequential short execs: no leaked sockets, timers, processes or file descriptors; every recording complete', async (t) => {
  await withServe({ policy: 'fail-closed' }, async (fx) => {
    // Warm up what is made once (TLS session cache, library statements, kubectl discovery caches).
    await execMany(fx, 20, 'warm');
    for (const profile of profiles) {
      const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'warm'], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);
    }
    await settle(fx);
    const before = resourceCounts();
    t.diagnostic(`before: ${describeCounts(before)}`);

    const started = Date.now();
    const samples: string[] = [];
    await execMany(fx, 1000, 'exec', (done) => {
      if (done % 250 === 0) {
        const now = resourceCounts();
        samples.push(`${done}: fds ${now.fds}, sockets ${now.sockets}, timers ${now.timers}, children ${now.children.length}`);
      }
    });
    const execMs = Date.now() - started;
    const kubectlStarted = Date.now();
    for (const profile of profiles) {
      const kubectl = fx.kubectl(profile);
      for (let i = 0; i < 10; i++) {
        const r = await kubectl.run(['exec', 'shell', '--', 'echo', `kubectl-${profile.version}-${i}`], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdoutText, `kubectl-${profile.version}-${i}\n`);
      }
    }
    const kubectlMs = Date.now() - kubectlStarted;
    await settle(fx);
    const after = resourceCounts();
    t.diagnostic(`1000 execs in ${execMs} ms (${(execMs / 1000).toFixed(1)} ms each); 20 kubectl execs in ${kubectlMs} ms`);
    t.diagnostic(`during: ${samples.join('; ')}`);
    t.diagnostic(`after: ${describeCounts(after)}`);

    const grew = growth(before, after);
    assert.ok(grew.fds <= SLACK.fds, `file descriptors grew by ${grew.fds}`);
    assert.ok(grew.sockets <= SLACK.sockets, `sockets grew by ${grew.sockets}`);
    assert.ok(grew.timers <= SLACK.timers, `timers grew by ${grew.timers}`);
    const newChildren = after.children.filter((p) => !before.children.some((b) => b.pid === p.pid));
    assert.deepEqual(newChildren.map((p) => `${p.pid} ${p.comm}`), [], 'no child process left');
    for (const [type, n] of Object.entries(after.handles)) {
      assert.ok(n - (before.handles[type] ?? 0) <= SLACK.sockets, `handles of type ${type} grew from ${before.handles[type] ?? 0} to ${n}`);
    }
    assert.equal(fx.handle.localCluster!.liveProcessCount, 0);

    const recordings = allRecordings(fx.handle.library);
    assert.equal(recordings.length, 20 + 2 + 1000 + 20, 'one recording per exec');
    assert.equal(recordings.filter((r) => r.tty).length, 4 + 200, 'every fifth exec had a terminal');
    const bad = recordings.filter((r) => !r.complete || r.live || r.exitCode !== 0);
    assert.deepEqual(
      bad.slice(0, 5).map((r) => ({ id: r.id, command: r.command, complete: r.complete, live: r.live, exitCode: r.exitCode })),
      [],
      `${bad.length} recordings are not complete with exit 0`,
    );
  });
});

test('200 sequential short execs to a recorder over the network (h2c, acks): no leaks on either end', async (t) => {
  // The recorder over the network path (client.ts V2Upload ↔ server.ts), in this process so its
  // handles count too: a real RecorderServer with its own folder and library.
  const recorderData = tempDir('leaks-recorder');
  const library = await Library.open(recorderData.path);
  const token = 'leak-test-recorder-token';
  const recorder = new RecorderServer({ host: '127.0.0.1', port: 0, store: new RecordingStore(recorderData.path), token, observer: library });
  const recorderUrl = await recorder.start();
  try {
    await withServe({ recorders: [recorderUrl], recorderToken: token, policy: 'fail-closed' }, async (fx) => {
      await execMany(fx, 10, 'warm');
      await settle(fx);
      await library.settled();
      const before = resourceCounts();
      const started = Date.now();
      await execMany(fx, 200, 'remote');
      const execMs = Date.now() - started;
      await settle(fx);
      await library.settled();
      const after = resourceCounts();
      t.diagnostic(`200 execs in ${execMs} ms; before: ${describeCounts(before)}; after: ${describeCounts(after)}`);
      const grew = growth(before, after);
      assert.ok(grew.fds <= SLACK.fds, `file descriptors grew by ${grew.fds}`);
      assert.ok(grew.sockets <= SLACK.sockets, `sockets grew by ${grew.sockets}`);
      assert.ok(grew.timers <= SLACK.timers, `timers grew by ${grew.timers}`);
      for (const [type, n] of Object.entries(after.handles)) {
        assert.ok(n - (before.handles[type] ?? 0) <= SLACK.sockets, `handles of type ${type} grew from ${before.handles[type] ?? 0} to ${n}`);
      }
      const recordings = allRecordings(library);
      assert.equal(recordings.length, 210);
      const bad = recordings.filter((r) => !r.complete || r.live || r.exitCode !== 0);
      assert.equal(bad.length, 0, `${bad.length} recordings are not complete with exit 0: ${JSON.stringify(bad.slice(0, 3))}`);
    });
  } finally {
    await recorder.stop();
    await library.close();
    recorderData.cleanup();
  }
});
