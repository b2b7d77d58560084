// What happens when recording fails: before a session (fail-closed refuses), mid-session
// (fail-closed ends it with the reason; fail-open spools and resumes), and inside the recorder.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createH2Server } from 'node:http2';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox } from '../helpers/kubectl';
import { startKubecast, tempDir } from '../helpers/kubecast';
import { listCasts, outputOf, withServe } from '../helpers/serve-fixture';
import { connectRecorder } from '../../src/recorder/client';
import { parseCast } from '../../src/cast';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function freePort(): Promise<number> {
  return closedPort();
}

/** A recorder in its own process, so it can be killed; restartable on the same port and folder. */
async function recorderProcess(dataDir: string, port: number) {
  const proc = await startKubecast(['recorder', '--data', dataDir, '--listen', `127.0.0.1:${port}`]);
  return { proc, url: proc.ready.recorder!, tokenFile: proc.ready.token! };
}

const ticker = (n: number) => `i=0; while [ $i -lt ${n} ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done`;

for (const profile of profiles) {
  describe(`recording failures, ${profile.label}`, () => {
    test('fail-closed with no recorder: kubectl exits 1 with the Forbidden message; no process started', async () => {
      await withServe({ recorders: [`http://127.0.0.1:${await closedPort()}`], policy: 'fail-closed', dialTimeoutMs: 1000 }, async (fx) => {
        const result = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', 'echo should-not-run']);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /Error from server \(Forbidden\): .*session must be recorded/);
        assert.doesNotMatch(result.stdoutText, /should-not-run/);
        assert.equal(fx.handle.localCluster!.sessions.length, 0, 'the local cluster started no session');
        assert.equal(fx.handle.localCluster!.liveProcessCount, 0);
      });
    });

    test('fail-closed, recorder killed mid-session: kubectl exits within the ack window + 1 s and prints the reason', async () => {
      const recorderData = tempDir('recorder');
      const port = await freePort();
      const recorder = await recorderProcess(recorderData.path, port);
      try {
        const token = readFileSync(recorder.tokenFile, 'utf8').trim();
        await withServe({ recorders: [recorder.url], recorderToken: token, policy: 'fail-closed', ackTimeoutMs: 2000 }, async (fx) => {
          const running = fx.kubectl(profile).start(['exec', 'shell', '--', 'sh', '-c', ticker(600)], { timeoutMs: 60_000 });
          const deadline = Date.now() + 15_000;
          while (!running.stdoutSoFar().includes('tick-3') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          assert.match(running.stdoutSoFar(), /tick-3/);
          const killedAt = Date.now();
          recorder.proc.child.kill('SIGKILL');
          const result = await running.result;
          const took = Date.now() - killedAt;
          assert.ok(took < 2000 + 1000, `kubectl ended ${took} ms after the recorder died`);
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /recording failed/);
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(fx.handle.localCluster!.liveProcessCount, 0, 'the container command was stopped');
        });
      } finally {
        await recorder.proc.stop('SIGKILL');
        recorderData.cleanup();
      }
    });

    test('fail-open, recorder killed and restarted mid-session: the session goes on and the stored recording holds everything kubectl showed', async () => {
      const recorderData = tempDir('recorder');
      const port = await freePort();
      let recorder = await recorderProcess(recorderData.path, port);
      try {
        const token = readFileSync(recorder.tokenFile, 'utf8').trim();
        await withServe({ recorders: [recorder.url], recorderToken: token, policy: 'fail-open', ackTimeoutMs: 2000 }, async (fx) => {
          const running = fx.kubectl(profile).start(['exec', 'shell', '--', 'sh', '-c', ticker(40)], { timeoutMs: 60_000 });
          const deadline = Date.now() + 15_000;
          while (!running.stdoutSoFar().includes('tick-5') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          recorder.proc.child.kill('SIGKILL');
          await recorder.proc.exited;
          await waitUntil('DATA/spool/*.part during the outage', () => spoolFiles(fx.dataDir, '.part').length === 1, 5_000);
          await new Promise((r) => setTimeout(r, 1200));
          recorder = await recorderProcess(recorderData.path, port);
          const result = await running.result;
          assert.equal(result.code, 0, result.stderr);
          assert.match(result.stdoutText, /tick-39/);
          // The recording lives on the recorder; wait for it to be complete there.
          const deadlineStored = Date.now() + 20_000;
          let stored = '';
          for (;;) {
            const files = listCasts(join(recorderData.path, 'recordings'));
            stored = files.length === 1 ? readFileSync(files[0], 'utf8') : '';
            if (stored.includes('"x"')) break;
            if (Date.now() > deadlineStored) assert.fail(`recording not complete on the restarted recorder (${files.length} files):\n${stored.slice(-2000)}`);
            await new Promise((r) => setTimeout(r, 200));
          }
          const cast = parseCast(stored);
          assert.equal(outputOf(cast), result.stdoutText, 'every tick kubectl printed is in the recording, once, in order');
          assert.ok(cast.events.some((e) => e.code === 'm' && /recorder unreachable/.test(e.data)), 'a marker notes the delivery gap');
          await waitUntil('the spool removed after delivery', () => spoolFiles(fx.dataDir, '.part').length === 0 && spoolFiles(fx.dataDir, '.json').length === 0, 5_000);
        });
      } finally {
        await recorder.proc.stop('SIGKILL');
        recorderData.cleanup();
      }
    });
  });
}

describe('recorder crash', () => {
  test('SIGKILL while writing: the file parses up to its last line and holds every acked byte', async () => {
    const recorderData = tempDir('recorder');
    const recorder = await recorderProcess(recorderData.path, await freePort());
    try {
      const token = readFileSync(recorder.tokenFile, 'utf8').trim();
      const upload = await connectRecorder([{ url: recorder.url, token }]);
      const lines: Buffer[] = [Buffer.from('{"version":2,"width":80,"height":24,"timestamp":1700000000}\n')];
      let sent = lines[0].byteLength;
      upload.write(lines[0]);
      let acked = 0;
      upload.onAck = (n) => (acked = n);
      upload.onFailure = () => {};
      for (let i = 0; acked < 2 * 1024 * 1024 && i < 200_000; i++) {
        const line = Buffer.from(JSON.stringify([i / 1000, 'o', `line ${i} ${'x'.repeat(200)}\r\n`]) + '\n');
        lines.push(line);
        sent += line.byteLength;
        upload.write(line);
        if (i % 200 === 0) await new Promise((r) => setImmediate(r));
      }
      const ackedAtKill = acked;
      assert.ok(ackedAtKill > 0, 'the recorder acknowledged something before the kill');
      recorder.proc.child.kill('SIGKILL');
      await recorder.proc.exited;
      const [file] = listCasts(join(recorderData.path, 'recordings'));
      const stored = readFileSync(file);
      const all = Buffer.concat(lines);
      assert.ok(stored.byteLength >= ackedAtKill, `stored ${stored.byteLength} < acked ${ackedAtKill}`);
      assert.ok(stored.byteLength <= sent);
      assert.deepEqual(stored, all.subarray(0, stored.byteLength), 'the file is a prefix of the upload');
      assert.equal(stored.at(-1), 0x0a, 'ends on a whole line');
      const cast = parseCast(stored.toString('utf8'));
      assert.equal(cast.truncated, false);
      assert.ok(cast.events.length > 0);
      upload.abort('test over');
    } finally {
      await recorder.proc.stop('SIGKILL');
      recorderData.cleanup();
    }
  });
});

/** Files in DATA/spool with this ending. */
function spoolFiles(dataDir: string, ending: string): string[] {
  try {
    return readdirSync(join(dataDir, 'spool')).filter((name) => name.endsWith(ending));
  } catch {
    return [];
  }
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fail-open spool across a proxy restart', () => {
  test('recorder killed mid-session, proxy SIGTERMed: exits 0 promptly leaving DATA/spool; restarted, it delivers the spool and removes it', async () => {
    const dirs = [tempDir('cluster'), tempDir('recorder'), tempDir('proxy')];
    const [clusterDir, recorderDir, proxyDir] = dirs;
    const port = await freePort();
    const cluster = await startKubecast(['local-cluster', '--data', clusterDir.path]);
    let recorder = await recorderProcess(recorderDir.path, port);
    const proxyArgs = [
      'proxy', '--data', proxyDir.path, '--upstream', cluster.ready.local!,
      '--recorder', recorder.url, '--recorder-token', recorder.tokenFile,
      '--fail-open', '--ack-timeout', '1', '--dial-timeout', '1', '--dial-total-timeout', '2',
    ];
    let proxy = await startKubecast(proxyArgs);
    const token = readFileSync(join(proxyDir.path, 'token'), 'utf8').trim();
    const ca = readFileSync(join(proxyDir.path, 'tls', 'ca.crt'), 'utf8');
    const sandbox = makeKubectlSandbox({ server: proxy.ready.proxy!, token, certificateAuthority: ca });
    try {
      const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;
      const running = new Kubectl(profile, sandbox).start(['exec', 'shell', '--', 'sh', '-c', ticker(600)], { timeoutMs: 60_000 });
      await waitUntil('tick-5', () => running.stdoutSoFar().includes('tick-5'), 15_000);
      recorder.proc.child.kill('SIGKILL');
      await recorder.proc.exited;
      await waitUntil('a spool file during the outage', () => spoolFiles(proxyDir.path, '.part').length === 1, 5_000);
      await waitUntil('more output spooled', () => running.stdoutSoFar().includes('tick-15'), 10_000);

      const stoppedAt = Date.now();
      const code = await proxy.stop('SIGTERM', 15_000);
      const took = Date.now() - stoppedAt;
      assert.equal(code, 0, proxy.stderr().slice(-2000));
      assert.ok(took < 8_000, `the proxy took ${took} ms to exit`);
      const result = await running.result;
      assert.deepEqual(spoolFiles(proxyDir.path, '.part').length, 1, 'the spool stays for the next run');
      assert.deepEqual(spoolFiles(proxyDir.path, '.json').length, 1, 'with its meta');
      assert.match(result.stdoutText, /tick-15/);

      recorder = await recorderProcess(recorderDir.path, port);
      proxy = await startKubecast(proxyArgs);
      await waitUntil('the spool delivered and removed', () => spoolFiles(proxyDir.path, '.part').length === 0 && spoolFiles(proxyDir.path, '.json').length === 0, 20_000);
      assert.match(proxy.stderr(), /delivered a recording spooled by an earlier run/);
      const casts = listCasts(join(recorderDir.path, 'recordings'));
      assert.equal(casts.length, 1, 'the spool continued the same recording');
      const cast = parseCast(readFileSync(casts[0], 'utf8'));
      assert.ok(outputOf(cast).startsWith(result.stdoutText), `everything kubectl printed is in the recording:\n${outputOf(cast).slice(-500)}\n---\n${result.stdoutText.slice(-500)}`);
      assert.ok(cast.events.some((e) => e.code === 'm' && /recorder unreachable/.test(e.data)), 'a marker notes the delivery gap');
    } finally {
      sandbox.cleanup();
      for (const proc of [proxy, recorder.proc, cluster]) await proc.stop('SIGKILL');
      for (const dir of dirs) dir.cleanup();
    }
  });
});

describe('kubecast proxy timeout flags', () => {
  test('--dial-timeout, --dial-total-timeout and --ack-timeout are parsed and used', async () => {
    const sockets = new Set<Socket>();
    // Listeners that accept and never answer: each costs one dial timeout.
    const holes = await Promise.all(
      [0, 1, 2].map(async () => {
        const server = createServer((socket) => {
          sockets.add(socket);
          socket.on('error', () => {});
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
      }),
    );
    // A v2 recorder that takes the upload and never acks.
    const silent = createH2Server();
    silent.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      stream.respond({ ':status': 200 });
      if (headers[':method'] === 'HEAD') stream.end();
      else stream.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const dirs = [tempDir('cluster'), tempDir('proxy-dial'), tempDir('proxy-ack')];
    const procs: Array<Awaited<ReturnType<typeof startKubecast>>> = [];
    const sandboxes: Array<ReturnType<typeof makeKubectlSandbox>> = [];
    const kubectlFor = (proxy: Awaited<ReturnType<typeof startKubecast>>, dataDir: string) => {
      const sandbox = makeKubectlSandbox({
        server: proxy.ready.proxy!,
        token: readFileSync(join(dataDir, 'token'), 'utf8').trim(),
        certificateAuthority: readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8'),
      });
      sandboxes.push(sandbox);
      return new Kubectl(KUBECTL_PROFILES.find((p) => p.version === '1.33')!, sandbox);
    };
    try {
      const cluster = await startKubecast(['local-cluster', '--data', dirs[0].path]);
      procs.push(cluster);
      const dialProxy = await startKubecast([
        'proxy', '--data', dirs[1].path, '--upstream', cluster.ready.local!,
        ...holes.flatMap((h) => ['--recorder', h.url]),
        '--dial-timeout', '0.4', '--dial-total-timeout', '0.6',
      ]);
      procs.push(dialProxy);
      const started = Date.now();
      const refused = await kubectlFor(dialProxy, dirs[1].path).run(['exec', 'shell', '--', 'sh', '-c', 'echo should-not-run']);
      const took = Date.now() - started;
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /Forbidden/);
      assert.match(refused.stderr, /no 100 Continue within [1-3]\d\d ms/, 'the 0.4 s per-address dial (h2 probe half, v1 half)');
      assert.match(refused.stderr, /not tried: the total dial budget ran out/, 'the 0.6 s total dial budget');
      assert.ok(took < 4000, `refused after ${took} ms`);

      const ackProxy = await startKubecast([
        'proxy', '--data', dirs[2].path, '--upstream', cluster.ready.local!,
        '--recorder', silentUrl, '--ack-timeout', '0.7',
      ]);
      procs.push(ackProxy);
      const ackStarted = Date.now();
      const cut = await kubectlFor(ackProxy, dirs[2].path).run(['exec', 'shell', '--', 'sh', '-c', ticker(100)], { timeoutMs: 30_000 });
      const ackTook = Date.now() - ackStarted;
      assert.notEqual(cut.code, 0);
      assert.match(cut.stderr, /recording failed: (no ack from the recorder|the recorder stopped acknowledging).* 0\.7 s/);
      assert.ok(ackTook < 5000, `the session ended after ${ackTook} ms (a 5 s default would not)`);
    } finally {
      for (const sandbox of sandboxes) sandbox.cleanup();
      for (const proc of procs.reverse()) await proc.stop('SIGKILL');
      for (const socket of sockets) socket.destroy();
      for (const hole of holes) hole.server.close();
      silent.close();
      for (const dir of dirs) dir.cleanup();
    }
  });
});
