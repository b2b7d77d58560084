// kubecast serve in front of a cluster taken from a kubeconfig (https, a CA, a bearer token), as
// separate processes: `local-cluster --token` plays the real cluster and writes the kubeconfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox } from '../helpers/kubectl';
import { CLI, startKubecast, tempDir, type KubecastProcess } from '../helpers/kubecast';
import { listCasts } from '../helpers/serve-fixture';
import { parseCast } from '../../src/cast';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

async function waitForCast(dataDir: string, marker: string): Promise<ReturnType<typeof parseCast>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const path of listCasts(join(dataDir, 'recordings'))) {
      const cast = parseCast(readFileSync(path, 'utf8'));
      if (cast.header.command?.includes(marker) && cast.events.some((e) => e.code === 'x')) return cast;
    }
    if (Date.now() > deadline) throw new Error(`no finished recording of ${marker} under ${dataDir}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('serve --upstream context:NAME and current: exec through a kubeconfig cluster (https, CA, token) is recorded with the context and kubeconfig user', async () => {
  const clusterDir = tempDir('cluster');
  const procs: KubecastProcess[] = [];
  const dirs = [clusterDir];
  try {
    const tokenFile = join(clusterDir.path, 'token');
    writeFileSync(tokenFile, randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
    const cluster = await startKubecast(['local-cluster', '--data', clusterDir.path, '--token', tokenFile]);
    procs.push(cluster);
    assert.match(cluster.ready.local!, /^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeconfig = join(clusterDir.path, 'local-cluster', 'kubeconfig');

    const cases: Array<{ name: string; args: string[]; env: Record<string, string> }> = [
      { name: 'context:kubecast-local', args: ['--upstream', 'context:kubecast-local', '--kubeconfig', kubeconfig], env: {} },
      { name: 'current (KUBECONFIG)', args: ['--upstream', 'current'], env: { KUBECONFIG: kubeconfig } },
    ];
    for (const { name, args, env } of cases) {
      const data = tempDir('serve');
      dirs.push(data);
      const serve = await startKubecast(['serve', '--data', data.path, '--proxy-listen', '127.0.0.1:0', ...args], { env });
      procs.push(serve);
      // The --json ready line: exactly the keys DESIGN.md lists; no local cluster with this upstream.
      assert.deepEqual(Object.keys(serve.ready).sort(), ['console', 'data', 'kubeconfig', 'local', 'proxy', 'recorder'], name);
      assert.equal(serve.ready.local, null);
      assert.match(serve.ready.proxy!, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(serve.ready.recorder!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(serve.ready.console!, /^http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
      assert.equal(serve.ready.kubeconfig, join(data.path, 'kubeconfig'));
      assert.equal(serve.ready.data, data.path);

      const sandbox = makeKubectlSandbox({
        server: serve.ready.proxy!,
        token: readFileSync(join(data.path, 'token'), 'utf8').trim(),
        certificateAuthority: readFileSync(join(data.path, 'tls', 'ca.crt'), 'utf8'),
      });
      try {
        const marker = `via-${name.split(' ')[0].replace(':', '-')}`;
        const result = await new Kubectl(profile, sandbox).run(['exec', 'shell', '--', 'sh', '-c', `echo ${marker}; exit 5`]);
        assert.equal(result.code, 5, `${name}: ${result.stderr}`);
        assert.equal(result.stdoutText, `${marker}\n`);
        const cast = await waitForCast(data.path, marker);
        assert.equal(cast.header.kubecast?.context, 'kubecast-local', name);
        assert.equal(cast.header.kubecast?.kubeconfigUser, 'kubecast-local', name);
        assert.equal(cast.header.kubecast?.cluster, 'kubecast-local', name);
        assert.equal(cast.events.find((e) => e.code === 'x')?.data, '5');
      } finally {
        sandbox.cleanup();
      }
      assert.equal(await serve.stop(), 0, `${name}: serve exits 0 on SIGTERM`);
    }

    // An unknown context: a clear one-line error naming the known ones, and no ready line.
    const data = tempDir('serve');
    dirs.push(data);
    const bad = spawnSync(process.execPath, [CLI, 'serve', '--data', data.path, '--upstream', 'context:nope', '--kubeconfig', kubeconfig, '--json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bad.status, 1, bad.stderr);
    assert.equal(bad.stdout, '');
    const errors = bad.stderr.split('\n').filter((line) => line.startsWith('kubecast:'));
    assert.deepEqual(errors, ['kubecast: serve: kubeconfig has no context "nope" (known: kubecast-local)']);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    for (const proc of procs.reverse()) await proc.stop();
    for (const dir of dirs) dir.cleanup();
  }
});
