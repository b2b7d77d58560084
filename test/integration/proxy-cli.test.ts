// `kubecast proxy` and `kubecast recorder` as separate processes, as a team deploys them: kubectl →
// proxy → local cluster, recordings to a remote recorder, metrics on their own listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox } from '../helpers/kubectl';
import { CLI, startKubecast, tempDir, type KubecastProcess } from '../helpers/kubecast';
import { listCasts } from '../helpers/serve-fixture';
import { parseCast } from '../../src/cast';
import { writeRecording } from '../helpers/recordings';

/** local-cluster, recorder and proxy as three processes (pushed to `procs` as they start), and a kubectl sandbox for the proxy. */
async function startSeparately(dirs: Array<{ path: string }>, procs: KubecastProcess[], extra: { recorder?: string[]; proxy?: string[] } = {}) {
  const [clusterDir, recorderDir, proxyDir] = dirs;
  const cluster = await startKubecast(['local-cluster', '--data', clusterDir.path]);
  procs.push(cluster);
  const recorder = await startKubecast(['recorder', '--data', recorderDir.path, ...(extra.recorder ?? [])]);
  procs.push(recorder);
  const proxy = await startKubecast([
    'proxy',
    '--data', proxyDir.path,
    '--upstream', cluster.ready.local!,
    '--recorder', recorder.ready.recorder!,
    '--recorder-token', recorder.ready.token!,
    ...(extra.proxy ?? []),
  ]);
  procs.push(proxy);
  const token = readFileSync(join(proxyDir.path, 'token'), 'utf8').trim();
  const ca = readFileSync(join(proxyDir.path, 'tls', 'ca.crt'), 'utf8');
  return { proxy, recorder, sandbox: makeKubectlSandbox({ server: proxy.ready.proxy!, token, certificateAuthority: ca }) };
}

test('kubecast proxy records to a kubecast recorder, serves metrics, and its kubeconfig works', async () => {
  const dirs = [tempDir('cluster'), tempDir('recorder'), tempDir('proxy')];
  const [, recorderDir] = dirs;
  const procs: KubecastProcess[] = [];
  try {
    const { proxy, sandbox } = await startSeparately(dirs, procs, { proxy: ['--metrics-listen', '127.0.0.1:0'] });
    try {
      for (const profile of KUBECTL_PROFILES.filter((p) => p.version !== '1.30')) {
        const result = await new Kubectl(profile, sandbox).run(['exec', 'shell', '--', 'sh', '-c', `echo via-${profile.version}; exit 4`]);
        assert.equal(result.code, 4, result.stderr);
        assert.equal(result.stdoutText, `via-${profile.version}\n`);
      }
    } finally {
      sandbox.cleanup();
    }
    const deadline = Date.now() + 10_000;
    let casts: string[] = [];
    while (Date.now() < deadline) {
      casts = listCasts(join(recorderDir.path, 'recordings')).map((p) => readFileSync(p, 'utf8'));
      if (casts.length === 2 && casts.every((c) => c.includes('"x","4"'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(casts.length, 2);
    for (const text of casts) assert.equal(parseCast(text).events.find((e) => e.code === 'x')?.data, '4');
    const metrics = await new Promise<string>((resolve, reject) => {
      get(`${proxy.ready.metrics}/metrics`, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    assert.match(metrics, /kubecast_sessions_recorded_total\{type="exec",protocol="spdy"\} 1/);
    assert.match(metrics, /kubecast_sessions_recorded_total\{type="exec",protocol="websocket"\} 1/);
    assert.match(metrics, /kubecast_recorder_ack_latency_seconds_count/);
  } finally {
    for (const proc of procs.reverse()) assert.equal(await proc.stop(), 0, 'exits 0 on SIGTERM');
    for (const dir of dirs) dir.cleanup();
  }
});

/** A CLI command that runs to its end (ls, verify), beside the servers. */
function kubecastCli(...args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Listed {
  id: string;
  live: boolean;
  complete: boolean;
  integrity: string;
  exitCode: number | null;
  command: string;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a standalone kubecast recorder indexes and seals: ls shows live then complete, verify says intact', async () => {
  const dirs = [tempDir('cluster'), tempDir('recorder'), tempDir('proxy')];
  const [, recorderDir] = dirs;
  const procs: KubecastProcess[] = [];
  const help = kubecastCli('recorder', '--help');
  assert.match(help.stdout, /--retain-days N/);
  // Older than --retain-days: the recorder's retention deletes it when it starts.
  const old = await writeRecording(recorderDir.path, { startedAt: new Date(Date.now() - 40 * 86400_000), events: [[0.5, 'o', 'old\r\n']] });
  try {
    const { sandbox } = await startSeparately(dirs, procs, { recorder: ['--retain-days', '30'] });
    // One index writer per folder: a second recorder there is refused, in words.
    const second = kubecastCli('recorder', '--data', recorderDir.path, '--json');
    assert.equal(second.code, 2, 'a usage error');
    assert.match(second.stderr, /already serving the data folder/);
    assert.doesNotMatch(second.stderr, /\n\s+at /);
    await until('retention to delete the old recording', () => (existsSync(old.path) ? undefined : true));
    const ls = (): Listed[] => {
      const out = kubecastCli('ls', '--json', '--data', recorderDir.path);
      assert.equal(out.code, 0, out.stderr);
      return (JSON.parse(out.stdout) as { items: Listed[] }).items;
    };
    try {
      const [profile] = KUBECTL_PROFILES;
      const kubectl = new Kubectl(profile, sandbox);
      // A session that stays open while we look (the local cluster's pods are local processes, so
      // a file we create ends it): the recorder must hold the index (live, pending).
      const release = join(dirs[2].path, 'release-session');
      const longRun = kubectl.run(['exec', 'shell', '--', 'sh', '-c', `echo begun; while [ ! -e '${release}' ]; do sleep 0.1; done; echo over; exit 3`], { timeoutMs: 60_000 });
      const live = await until('the session to be listed live', () => ls().find((r) => r.live));
      assert.equal(live.complete, false, 'a live recording is never complete');
      assert.equal(live.integrity, 'pending');
      assert.match(kubecastCli('ls', '--data', recorderDir.path).stdout, new RegExp(`^${live.id.slice(0, 8)}.*\\blive$`, 'm'));
      const inProgress = kubecastCli('verify', live.id, '--data', recorderDir.path);
      assert.equal(inProgress.code, 2);
      assert.match(inProgress.stdout, /^in-progress/);
      writeFileSync(release, '');
      const long = await longRun;
      assert.equal(long.code, 3, long.stderr);
      const short = await kubectl.run(['exec', 'shell', '--', 'sh', '-c', 'echo quick; exit 5']);
      assert.equal(short.code, 5, short.stderr);
    } finally {
      sandbox.cleanup();
    }
    // Sealing happens just after each upload ends.
    const items = await until('both recordings sealed', () => {
      const list = ls();
      return list.length === 2 && list.every((r) => r.integrity === 'intact') ? list : undefined;
    });
    for (const item of items) {
      assert.equal(item.live, false);
      assert.equal(item.complete, true, `${item.id} is complete`);
      const verified = kubecastCli('verify', item.id, '--data', recorderDir.path);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, /^intact/);
    }
    assert.deepEqual(items.map((r) => r.exitCode).sort(), [3, 5]);
  } finally {
    for (const proc of procs.reverse()) assert.equal(await proc.stop(), 0, 'exits 0 on SIGTERM');
    for (const dir of dirs) dir.cleanup();
  }
});
