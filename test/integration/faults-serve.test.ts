// SIGTERM on a `kubecast serve` process (the CLI, as a person or a service manager stops it) while
// kubectl 1.27 (SPDY) and 1.33 (WebSocket) sessions are live, TTY and not: serve exits 0 within a
// bound, kubectl is told why and does not hang, and `kubecast ls` afterwards shows every recording
// finished (never live), complete or not as it truly is, each file parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kubectl, KUBECTL_PROFILES, type KubectlResult, type KubectlSandbox, type TerminalSession } from '../helpers/kubectl';
import { CLI, startKubecast, tempDir } from '../helpers/kubecast';
import { listCasts } from '../helpers/serve-fixture';
import { describeProcesses, descendantsOf, isAlive, type ProcessInfo } from '../helpers/processes';
import { waitFor } from '../helpers/faults';
import { parseCast } from '../../src/cast';
import type { RecordingView } from '../../src/store/library';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

const ticker = (n: number) => `i=0; while [ $i -lt ${n} ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done`;

/** Serve exits within this after SIGTERM (the proxy gives sessions 5 s to finish writing). */
const EXIT_BOUND_MS = 8000;

test('SIGTERM on kubecast serve with live sessions: exits 0 in time, kubectl is told why, recordings are finished and marked truthfully', async (t) => {
  const dir = tempDir('serve-sigterm');
  const dataDir = join(dir.path, 'data');
  const serve = await startKubecast(['serve', '--data', dataDir]);
  const terminals: TerminalSession[] = [];
  let containers: ProcessInfo[] = [];
  try {
    const home = join(dir.path, 'home');
    mkdirSync(home);
    const sandbox: KubectlSandbox = { dir: dir.path, home, kubeconfig: serve.ready.kubeconfig!, cacheDir: join(dir.path, 'cache'), server: serve.ready.proxy!, cleanup: () => {} };

    const live: Array<{ label: string; result: Promise<KubectlResult> | TerminalSession }> = [];
    /** What kubectl printed on stdout in each non-TTY session, by the protocol it spoke. */
    const printed = new Map<string, Promise<string>>();
    for (const profile of profiles) {
      const kubectl = new Kubectl(profile, sandbox);
      // One session over before the signal: complete, with its exit status.
      const before = await kubectl.run(['exec', 'shell', '--', 'echo', `over-before-${profile.version}`], { timeoutMs: 20_000 });
      assert.equal(before.code, 0, before.stderr);
      // Two live ones: output flowing without a TTY, a shell waiting for input with one.
      const running = kubectl.start(['exec', 'shell', '--', 'sh', '-c', ticker(600)], { timeoutMs: 30_000 });
      assert.ok(await waitFor(() => running.stdoutSoFar().includes('tick-2'), 15_000), `no ticks: ${running.stdoutSoFar()}`);
      live.push({ label: `${profile.label} non-TTY`, result: running.result });
      printed.set(profile.transport, running.result.then((r) => r.stdoutText));
      const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
      terminals.push(term);
      term.type('echo ready-$((40+2))\r');
      await term.waitForText('ready-42');
      live.push({ label: `${profile.label} TTY`, result: term });
    }
    containers = descendantsOf(serve.pid);
    assert.ok(containers.length >= 4, `the live sessions' commands run under serve:\n${describeProcesses(containers)}`);

    const signalledAt = Date.now();
    serve.child.kill('SIGTERM');
    let bound: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([serve.exited, new Promise<'timeout'>((resolve) => (bound = setTimeout(() => resolve('timeout'), EXIT_BOUND_MS + 5000)))]);
    clearTimeout(bound);
    const exitMs = Date.now() - signalledAt;
    t.diagnostic(`serve exited ${code} ${exitMs} ms after SIGTERM`);
    assert.equal(code, 0, `serve exit code (stderr: ${serve.stderr().slice(-3000)})`);
    assert.ok(exitMs < EXIT_BOUND_MS, `serve took ${exitMs} ms to exit`);

    // kubectl: ended, not hanging, non-zero, with a message that says why.
    for (const session of live) {
      let exitCode: number | null;
      let said: string;
      if ('waitForExit' in session.result) {
        const term = session.result;
        exitCode = (await term.waitForExit(5000)).exitCode;
        said = term.text;
      } else {
        const result = await session.result;
        assert.equal(result.timedOut, false, `${session.label}: kubectl hung`);
        exitCode = result.code;
        said = result.stderr;
      }
      t.diagnostic(`${session.label}: exit ${exitCode}; said: ${said.trim().split('\n').slice(-2).join(' | ')}`);
      assert.notEqual(exitCode, 0, `${session.label}: an interrupted session does not look successful`);
      assert.match(said, /kubecast: session ended: .*(shut|stop)/i, `${session.label}: kubectl was told why`);
    }

    // The sessions' commands went with serve.
    const left = containers.filter((p) => isAlive(p.pid));
    assert.equal(left.length, 0, `container processes survived serve:\n${describeProcesses(left)}`);

    // What the library says afterwards, checked against the files.
    const ls = spawnSync(process.execPath, [CLI, 'ls', '--json', '--data', dataDir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(ls.status, 0, ls.stderr);
    const items = (JSON.parse(ls.stdout) as { items: RecordingView[] }).items;
    const files = new Map(listCasts(join(dataDir, 'recordings')).map((path) => [path.slice(path.lastIndexOf('/') + 1, -'.cast'.length), path]));
    assert.equal(items.length, 6, `six recordings: ${JSON.stringify(items.map((i) => [i.id, i.command, i.complete, i.live]))}`);
    assert.equal(files.size, 6);
    for (const item of items) {
      const path = files.get(item.id);
      assert.ok(path, `file of ${item.id}`);
      const text = readFileSync(path, 'utf8');
      const cast = parseCast(text);
      const last = cast.events.at(-1);
      const ended = last !== undefined && (last.code === 'x' || (last.code === 'm' && last.data.startsWith('kubecast: session ended')));
      t.diagnostic(`${item.protocol} ${item.tty ? 'TTY' : 'non-TTY'} ${JSON.stringify(item.command)}: complete=${item.complete} live=${item.live} exit=${item.exitCode} bytes=${item.bytes}; last event ${JSON.stringify(last)}`);
      assert.equal(item.live, false, `${item.id} is not live after serve exited`);
      assert.equal(cast.truncated, false, `${item.id} parses to its end`);
      assert.equal(text.at(-1), '\n');
      assert.equal(item.bytes, Buffer.byteLength(text), `${item.id}: bytes`);
      assert.equal(item.complete, ended, `${item.id}: complete=${item.complete}, but the file ${ended ? 'has' : 'lacks'} its end`);
      if (item.command.startsWith('echo over-before')) {
        assert.equal(item.complete, true);
        assert.equal(item.exitCode, 0);
      } else {
        assert.equal(item.exitCode, null, 'an interrupted session has no exit status');
      }
      if (!item.tty && item.command.startsWith('sh -c')) {
        // Every tick kubectl showed is in the recording, in order, and nothing it did not show.
        const ticks = (text: string) => text.split(/\r?\n/).filter((line) => /^tick-\d+$/.test(line));
        const recorded = ticks(cast.events.filter((e) => e.code === 'o').map((e) => e.data).join(''));
        const shown = ticks(await printed.get(item.protocol ?? '')!);
        assert.ok(shown.length >= 3, `${item.id}: kubectl showed ticks`);
        assert.deepEqual(recorded, shown, `${item.id}: the recording holds exactly what kubectl showed`);
      }
    }
  } finally {
    for (const term of terminals) term.dispose();
    await serve.stop('SIGKILL');
    for (const p of containers) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    dir.cleanup();
  }
});
