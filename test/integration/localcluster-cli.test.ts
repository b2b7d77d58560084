// `kubecast local-cluster` as a user runs it (node bin/kubecast.js; needs `npm run build`, which
// `npm test` does first): one JSON line when ready, kubectl works with the kubeconfig it writes
// (over https with the token and the local CA when --token is given),
// SIGTERM stops it with exit 0 and leaves no process behind; unsafe or broken setups are refused.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { Kubectl, KUBECTL_PROFILES, type KubectlSandbox } from '../helpers/kubectl';
import { assertNoSurvivors, newProcessMarker, processesWithEnv } from '../helpers/processes';

const cli = join(process.cwd(), 'bin', 'kubecast.js');

function requireBuild(): void {
  assert.ok(existsSync(join(process.cwd(), 'dist', 'cli.js')), 'dist/cli.js is missing: run `npm run build` first (npm test does)');
}

function firstLine(child: ChildProcess, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('local-cluster printed nothing in time')), timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`local-cluster exited early with ${code}`)));
  });
}

/** The parts of the written kubeconfig these tests read. */
interface KubeconfigShape {
  clusters: Array<{ cluster: { server: string; 'certificate-authority-data'?: string } }>;
  users: Array<{ user: { token?: string } }>;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('kubecast local-cluster (the command)', () => {
  test('--json prints one line, kubectl uses the written kubeconfig, SIGTERM exits 0 with no orphans', async () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'kubecast-lc-cli-'));
    const marker = newProcessMarker();
    // The marker reaches container processes through the pods file (their environment is otherwise small).
    const podsFile = join(dir, 'pods.json');
    writeFileSync(
      podsFile,
      JSON.stringify({
        pods: [
          { name: 'shell', containers: [{ name: 'shell', env: { [marker.name]: marker.value } }] },
          { name: 'api-1', namespace: 'team-a', containers: [{ name: 'main', command: ['sh'], env: { [marker.name]: marker.value } }] },
        ],
      }),
    );
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, [cli, 'local-cluster', '--json', '--data', dataDir, '--pods', podsFile], {
      env: { ...process.env, [marker.name]: marker.value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const line = await firstLine(child);
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      const ready = JSON.parse(line) as { local: string };
      assert.deepEqual(Object.keys(ready), ['local']);
      assert.match(ready.local, /^http:\/\/127\.0\.0\.1:\d+$/);

      const kubeconfig = join(dataDir, 'local-cluster', 'kubeconfig');
      const sandbox: KubectlSandbox = { dir, home: dir, kubeconfig, cacheDir: join(dir, 'cache'), server: ready.local, cleanup: () => {} };
      const kubectl = new Kubectl(KUBECTL_PROFILES[2], sandbox, { env: { [marker.name]: marker.value } });
      const hi = await kubectl.run(['exec', 'shell', '--', 'echo', 'hi']);
      assert.equal(hi.stdoutText, 'hi\n', hi.stderr);
      const pods = await kubectl.run(['get', 'pods', '-A', '-o', 'name']);
      assert.equal(pods.stdoutText, 'pod/shell\npod/api-1\n');

      // A session in progress and an attached main process when the signal comes: both must go.
      const running = kubectl.start(['exec', 'shell', '--', 'sh', '-c', 'exec sleep 300']);
      const term = kubectl.terminal(['attach', '-it', 'api-1', '-n', 'team-a']);
      await term.waitForText("If you don't see a command prompt");
      const sleeping = () => processesWithEnv(marker.name, marker.value).filter((p) => p.comm === 'sleep');
      for (let i = 0; i < 100 && sleeping().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(sleeping().length, 1);

      child.kill('SIGTERM');
      const { code } = await exitOf(child);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, '', 'nothing after the JSON line');
      const ended = await running.result;
      assert.notEqual(ended.code, 0, 'the interrupted exec fails');
      await term.waitForExit();
      term.dispose();
      await assertNoSurvivors(() => processesWithEnv(marker.name, marker.value));
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--token FILE: https with a local CA; kubectl 1.27 and 1.33 use the written kubeconfig, a wrong token is Unauthorized', async () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'kubecast-lc-cli-'));
    const marker = newProcessMarker();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'cli-s3cret\n');
    const dataDir = join(dir, 'data');
    const child = spawn(process.execPath, [cli, 'local-cluster', '--json', '--data', dataDir, '--token', tokenFile], {
      env: { ...process.env, [marker.name]: marker.value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const ready = JSON.parse(await firstLine(child)) as { local: string };
      assert.match(ready.local, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(existsSync(join(dataDir, 'local-cluster', 'tls', 'ca.crt')), 'the CA lives in DATA/local-cluster/tls');

      const kubeconfig = join(dataDir, 'local-cluster', 'kubeconfig');
      assert.equal(statSync(kubeconfig).mode & 0o777, 0o600, 'the kubeconfig holds the token: owner-only');
      const config = JSON.parse(readFileSync(kubeconfig, 'utf8')) as KubeconfigShape;
      assert.equal(config.clusters[0].cluster.server, ready.local);
      assert.equal(Buffer.from(config.clusters[0].cluster['certificate-authority-data'] ?? '', 'base64').toString(), readFileSync(join(dataDir, 'local-cluster', 'tls', 'ca.crt'), 'utf8'));
      assert.equal(config.users[0].user.token, 'cli-s3cret');

      // A copy of the written kubeconfig with one character of the token changed.
      const wrongConfig = join(dir, 'wrong-kubeconfig');
      config.users[0].user.token = 'cli-s3creT';
      writeFileSync(wrongConfig, JSON.stringify(config), { mode: 0o600 });

      for (const profile of [KUBECTL_PROFILES[0], KUBECTL_PROFILES[2]]) {
        const cacheDir = join(dir, `cache-${profile.version}`);
        const sandbox: KubectlSandbox = { dir, home: dir, kubeconfig, cacheDir, server: ready.local, cleanup: () => {} };
        const kubectl = new Kubectl(profile, sandbox, { env: { [marker.name]: marker.value } });
        const hi = await kubectl.run(['exec', 'shell', '--', 'echo', 'hi']);
        assert.equal(hi.stdoutText, 'hi\n', `${profile.label}: ${hi.stderr}`);
        assert.equal(hi.code, 0);

        const wrong = new Kubectl(profile, { ...sandbox, kubeconfig: wrongConfig, cacheDir: join(dir, `cache-wrong-${profile.version}`) }, { env: { [marker.name]: marker.value } });
        const fresh = await wrong.run(['exec', 'shell', '--', 'echo', 'hi']);
        assert.match(fresh.stderr, /error: You must be logged in to the server \(the server has asked for the client to provide credentials\)\n$/, profile.label);
        assert.equal(fresh.code, 1);
        // With discovery cached (by the good run), the 401 Status itself is what kubectl prints.
        const cached = await wrong.run(['--cache-dir', cacheDir, 'exec', 'shell', '--', 'echo', 'hi']);
        assert.equal(cached.stderr, 'error: You must be logged in to the server (Unauthorized)\n', profile.label);
        assert.equal(cached.code, 1);
      }

      child.kill('SIGTERM');
      assert.equal((await exitOf(child)).code, 0, stderr);
      await assertNoSurvivors(() => processesWithEnv(marker.name, marker.value));
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--help says plainly that pods are local processes, not isolated containers', () => {
    requireBuild();
    const r = spawnSync(process.execPath, [cli, 'local-cluster', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /NOT containers: they are local processes running as the current OS user/);
    assert.match(r.stdout, /no isolation/);
  });

  test('a non-loopback --listen without --token is refused at startup', () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'kubecast-lc-cli-'));
    try {
      const r = spawnSync(process.execPath, [cli, 'local-cluster', '--listen', '0.0.0.0:0', '--data', dir], { encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a broken pods file is refused with a message naming the problem', () => {
    requireBuild();
    const dir = mkdtempSync(join(tmpdir(), 'kubecast-lc-cli-'));
    try {
      const podsFile = join(dir, 'pods.json');
      writeFileSync(podsFile, JSON.stringify({ pods: [{ name: 'Shell', containers: [{ name: 'c' }] }] }));
      const r = spawnSync(process.execPath, [cli, 'local-cluster', '--pods', podsFile, '--data', dir], { encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /pods\[0\]\.name "Shell" is not a valid name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
