// Watching sessions live through the console: snapshots equal what kubectl shows, viewers follow,
// and a viewer that stops reading slows nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Terminal } from '@xterm/headless';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox } from '../helpers/kubectl';
import { startKubecast, tempDir, type KubecastProcess } from '../helpers/kubecast';
import { consoleRequest } from '../helpers/console-client';
import { withServe } from '../helpers/serve-fixture';
import type { LiveMessage, LiveSession } from '../../src/live/messages';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

/** Until no session is live: a session kubectl has left may still be uploading its last bytes. */
async function noneLive(consoleUrl: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await consoleRequest(consoleUrl, '/api/live')).json<{ items: LiveSession[] }>().items.length > 0) {
    if (Date.now() > deadline) throw new Error('a session stayed live');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function liveId(consoleUrl: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { items } = (await consoleRequest(consoleUrl, '/api/live')).json<{ items: LiveSession[] }>();
    const open = items.find((s) => s.endedAt === null);
    if (open) return open.id;
    if (Date.now() > deadline) throw new Error('no live session listed');
    await new Promise((r) => setTimeout(r, 50));
  }
}

class Viewer {
  readonly messages: LiveMessage[] = [];
  readonly ws: WebSocket;
  private waiters: Array<() => void> = [];
  constructor(consoleUrl: string, id: string) {
    const base = new URL(consoleUrl);
    this.ws = new WebSocket(`ws://${base.host}/api/live/${id}`, { headers: { authorization: `Bearer ${base.searchParams.get('token')}` } });
    this.ws.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()) as LiveMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ws.on('error', () => {});
  }
  async until(predicate: (messages: LiveMessage[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      if (Date.now() > deadline) throw new Error(`viewer timed out; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
  text(): string {
    return this.messages.map((m) => (m.type === 'output' ? m.data : '')).join('');
  }
}

async function renderScreen(data: string, cols: number, rows: number): Promise<string[]> {
  const term = new Terminal({ cols, rows, allowProposedApi: true, scrollback: 0 });
  await new Promise<void>((resolve) => term.write(data, resolve));
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < rows; y++) lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
  term.dispose();
  return lines;
}

describe('live viewers', () => {
  test('a viewer joining mid-session gets the screen kubectl shows, then later output, then the end; two at once', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 90, rows: 20 });
      try {
        await term.waitForText(/[$#] $/m);
        for (let i = 0; i < 30; i++) {
          const from = term.text.length;
          term.type(`echo line-${i}\r`);
          // The output and the next prompt: typing before the prompt would put it on the output's line.
          await term.waitForText(new RegExp(`^line-${i}\\r?\\n[$#] `, 'm'), { from });
        }
        await new Promise((r) => setTimeout(r, 300));
        const id = await liveId(consoleUrl);
        const viewers = [new Viewer(consoleUrl, id), new Viewer(consoleUrl, id)];
        for (const viewer of viewers) await viewer.until((m) => m.some((x) => x.type === 'snapshot'));
        const shown = await term.screen();
        for (const viewer of viewers) {
          const snapshot = viewer.messages.find((m) => m.type === 'snapshot');
          assert.ok(snapshot && snapshot.type === 'snapshot');
          assert.equal(snapshot.cols, 90);
          assert.equal(snapshot.rows, 20);
          assert.deepEqual(await renderScreen(snapshot.data, snapshot.cols, snapshot.rows), shown, 'snapshot renders to the screen kubectl shows');
        }
        term.type('echo after-join\r');
        await term.waitForText(/^after-join/m);
        for (const viewer of viewers) await viewer.until(() => viewer.text().includes('after-join'));
        term.type('exit 3\r');
        await term.waitForExit();
        for (const viewer of viewers) {
          await viewer.until((m) => m.some((x) => x.type === 'end'));
          const end = viewer.messages.find((m) => m.type === 'end');
          assert.ok(end && end.type === 'end');
          assert.equal(end.exitCode, 3);
        }
      } finally {
        term.dispose();
      }
    });
  });

  test('a viewer that stops reading does not slow a kubectl session pushing 50 MiB', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const kubectl = fx.kubectl(profile);
      const command = ['exec', 'shell', '--', 'sh', '-c', 'sleep 0.5; head -c 39321600 /dev/urandom | base64'];
      const alone = async () => {
        const run = await kubectl.run(command, { timeoutMs: 120_000 });
        assert.equal(run.code, 0, run.stderr);
        return run;
      };
      await alone(); // warm-up: the first run pays for starting things
      const before = await alone();

      await noneLive(consoleUrl);
      const running = kubectl.start(command, { timeoutMs: 120_000 });
      const id = await liveId(consoleUrl);
      // A raw client: completes the WebSocket handshake, then never reads a byte.
      const base = new URL(consoleUrl);
      const stalled = connect(Number(base.port), base.hostname);
      stalled.on('error', () => {});
      stalled.write(
        `GET /api/live/${id} HTTP/1.1\r\nHost: ${base.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${base.searchParams.get('token')}\r\n\r\n`,
      );
      const head = await new Promise<string>((resolve, reject) => {
        let got = '';
        const onData = (chunk: Buffer) => {
          got += chunk.toString('latin1');
          const end = got.indexOf('\r\n\r\n');
          if (end < 0) return;
          stalled.off('data', onData);
          resolve(got.slice(0, end));
        };
        stalled.on('data', onData);
        stalled.once('close', () => reject(new Error(`closed before the handshake ended: ${JSON.stringify(got)}`)));
      });
      assert.match(head, /^HTTP\/1\.1 101 /, 'the upgrade was accepted');
      stalled.pause();
      // What the hub makes of the viewer while the session runs.
      const states = new Set<string>();
      let peakBuffered = 0;
      let watchedSamples = 0;
      const sampler = setInterval(() => {
        const session = fx.handle.live.stats().sessions.find((s) => s.id === id);
        if (!session || session.viewers.length === 0) return;
        watchedSamples++;
        for (const viewer of session.viewers) {
          states.add(viewer.state);
          peakBuffered = Math.max(peakBuffered, viewer.bufferedAmount);
        }
      }, 10);
      const result = await running.result;
      clearInterval(sampler);
      stalled.destroy();
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.byteLength, before.stdout.byteLength);
      const after = await alone();
      const baseline = Math.max(before.durationMs, after.durationMs);
      const mb = result.stdout.byteLength / 1e6;
      process.stdout.write(
        `# kubectl 50 MiB: ${(mb / (baseline / 1000)).toFixed(0)} MB/s alone (slower of before/after), ${(mb / (result.durationMs / 1000)).toFixed(0)} MB/s with a stalled viewer; ` +
          `viewer states ${[...states].join(',')}, bufferedAmount peak ${(peakBuffered / 1024).toFixed(0)} KiB\n`,
      );
      assert.ok(watchedSamples > 0, 'the stalled viewer was subscribed while the session ran');
      assert.ok(states.has('blocked') || states.has('resting'), `the viewer was stopped or resting between flood screens: ${[...states].join(',')}`);
      // The hub's per-viewer limit (1 MiB) plus one message.
      assert.ok(peakBuffered <= 1024 * 1024 + 512 * 1024, `a viewer's unsent bytes peaked at ${peakBuffered}`);
      assert.ok(result.durationMs <= baseline * 1.3 + 500, `with a stalled viewer ${result.durationMs} ms, alone ${before.durationMs} / ${after.durationMs} ms`);
      assert.ok(process.memoryUsage().rss < 1.5 * 1024 * 1024 * 1024, 'memory stayed bounded');
    });
  });
  test('a session from a separate kubecast proxy process is live in serve and can be watched: snapshot, events, end with the exit code', async () => {
    const dirs = [tempDir('cluster'), tempDir('proxy')];
    const [clusterDir, proxyDir] = dirs;
    const procs: KubecastProcess[] = [];
    try {
      await withServe({}, async (fx) => {
        const consoleUrl = fx.handle.urls.console!;
        const cluster = await startKubecast(['local-cluster', '--data', clusterDir.path]);
        procs.push(cluster);
        const proxy = await startKubecast(['proxy', '--data', proxyDir.path, '--upstream', cluster.ready.local!, '--recorder', fx.handle.urls.recorder!, '--recorder-token', join(fx.dataDir, 'recorder.token')]);
        procs.push(proxy);
        const sandbox = makeKubectlSandbox({
          server: proxy.ready.proxy!,
          token: readFileSync(join(proxyDir.path, 'token'), 'utf8').trim(),
          certificateAuthority: readFileSync(join(proxyDir.path, 'tls', 'ca.crt'), 'utf8'),
        });
        const term = new Kubectl(profile, sandbox).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 84, rows: 22 });
        try {
          await term.waitForText(/[$#] $/m);
          term.type('echo before-join\r');
          await term.waitForText(/^before-join/m);
          const id = await liveId(consoleUrl);
          const [session] = (await consoleRequest(consoleUrl, '/api/live')).json<{ items: LiveSession[] }>().items;
          assert.equal(session.id, id);
          assert.equal(session.pod, 'shell');
          assert.equal(session.tty, true);
          assert.deepEqual([session.cols, session.rows], [84, 22]);
          assert.equal(fx.recordings().length, 1, "the recording is in serve's data folder");
          const viewer = new Viewer(consoleUrl, id);
          await viewer.until((m) => m.some((x) => x.type === 'snapshot'));
          const snapshot = viewer.messages[0];
          assert.ok(snapshot.type === 'snapshot' && snapshot.reason === 'join', `first message: ${JSON.stringify(snapshot).slice(0, 200)}`);
          assert.deepEqual(await renderScreen(snapshot.data, snapshot.cols, snapshot.rows), await term.screen(), 'the snapshot is the screen kubectl shows');
          term.type('echo after-join\r');
          await term.waitForText(/^after-join/m);
          await viewer.until(() => viewer.text().includes('after-join'));
          term.type('exit 5\r');
          assert.equal((await term.waitForExit()).exitCode, 5);
          await viewer.until((m) => m.some((x) => x.type === 'end'));
          const types = viewer.messages.map((m) => m.type);
          assert.equal(types.filter((t) => t === 'snapshot').length, 1, `one snapshot, then events: ${types.join(',')}`);
          assert.ok(types.slice(1, -1).every((t) => t === 'output' || t === 'exit' || t === 'resize'), types.join(','));
          const end = viewer.messages.at(-1)!;
          assert.ok(end.type === 'end' && end.exitCode === 5 && end.complete, JSON.stringify(end));
        } finally {
          term.dispose();
          sandbox.cleanup();
        }
      });
    } finally {
      for (const proc of procs.reverse()) assert.equal(await proc.stop(), 0, 'exits 0 on SIGTERM');
      for (const dir of dirs) dir.cleanup();
    }
  });
});
