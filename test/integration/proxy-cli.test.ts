// `kubecast proxy` and `kubecast recorder` as separate processes, as a team deploys them: kubectl →
// proxy → local cluster, recordings to a remote recorder, metrics on their own listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox } from '../helpers/kubectl';
import { startKubecast, tempDir } from '../helpers/kubecast';
import { listCasts } from '../helpers/serve-fixture';
import { parseCast } from '../../src/cast';

test('kubecast proxy records to a kubecast recorder, serves metrics, and its kubeconfig works', async () => {
  const dirs = [tempDir('cluster'), tempDir('recorder'), tempDir('proxy')];
  const [clusterDir, recorderDir, proxyDir] = dirs;
  const procs = [];
  try {
    const cluster = await startKubecast(['local-cluster', '--data', clusterDir.path]);
    procs.push(cluster);
    const recorder = await startKubecast(['recorder', '--data', recorderDir.path]);
    procs.push(recorder);
    const proxy = await startKubecast([
      'proxy',
      '--data', proxyDir.path,
      '--upstream', cluster.ready.local!,
      '--recorder', recorder.ready.recorder!,
      '--recorder-token', recorder.ready.token!,
      '--metrics-listen', '127.0.0.1:0',
    ]);
    procs.push(proxy);
    const token = readFileSync(join(proxyDir.path, 'token'), 'utf8').trim();
    const ca = readFileSync(join(proxyDir.path, 'tls', 'ca.crt'), 'utf8');
    const sandbox = makeKubectlSandbox({ server: proxy.ready.proxy!, token, certificateAuthority: ca });
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
