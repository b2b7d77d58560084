// exec against the local cluster with real kubectl: 1.27 (SPDY), 1.30 forced to SPDY, 1.33 (WebSocket).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { PROCESS_TAG_ENV } from '../../src/localcluster/process';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { isAlive, processesWithEnv, waitUntilGone } from '../helpers/processes';
import { expectedProtocol, withLocalCluster } from './localcluster-fixture';

for (const profile of KUBECTL_PROFILES) {
  describe(`local cluster exec, ${profile.label}`, () => {
    test('exec shell -- echo hi prints hi and exits 0', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'hi']);
        assert.equal(r.stderr, '');
        assert.equal(r.stdoutText, 'hi\n');
        assert.equal(r.code, 0);
        const last = fx.cluster.sessions.at(-1)!;
        assert.deepEqual({ transport: last.transport, protocol: last.protocol }, expectedProtocol(profile));
        assert.deepEqual(last.command, ['echo', 'hi']);
      }));

    test('stdout and stderr stay separate and kubectl exits with the command status', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        assert.equal(r.stdoutText, 'out\n');
        assert.match(r.stderr, /^err\n/);
        assert.match(r.stderr, /command terminated with exit code 3/);
        assert.equal(r.code, 3);
      }));

    test('exec -i streams 5 MiB of stdin: sha256sum prints the right digest', () =>
      withLocalCluster({}, async (fx) => {
        const input = randomBytes(5 * 1024 * 1024);
        const digest = createHash('sha256').update(input).digest('hex');
        const r = await fx.kubectl(profile).run(['exec', '-i', 'shell', '--', 'sha256sum'], { input });
        assert.equal(r.stderr, '');
        assert.equal(r.stdoutText, `${digest}  -\n`);
        assert.equal(r.code, 0);
      }));

    test('exec -c sidecar web-0 runs in that container; without -c the default container', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const r = await kubectl.run(['exec', '-c', 'sidecar', 'web-0', '--', 'printenv', 'HOSTNAME']);
        assert.equal(r.stdoutText, 'web-0\n');
        assert.equal(r.code, 0);
        const cwd = await kubectl.run(['exec', '-c', 'sidecar', 'web-0', '--', 'pwd']);
        assert.equal(cwd.stdoutText, `${fx.workDir('web-0', 'sidecar')}\n`);
        const byDefault = await kubectl.run(['exec', 'web-0', '--', 'pwd']);
        assert.equal(byDefault.stdoutText, `${fx.workDir('web-0', 'app')}\n`);
        assert.equal(byDefault.code, 0);
      }));

    test('the environment is small: HOSTNAME, PATH, HOME (no TERM without a TTY)', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'env']);
        assert.equal(r.code, 0);
        const names = r.stdoutText
          .trim()
          .split('\n')
          .map((line) => line.slice(0, line.indexOf('=')))
          .filter((name) => name !== fx.marker.name && name !== PROCESS_TAG_ENV && name !== 'PWD' && name !== 'OLDPWD' && name !== '_')
          .sort();
        assert.deepEqual(names, ['HOME', 'HOSTNAME', 'PATH']);
      }));

    test('exec nope -- true prints the NotFound error and exits 1', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['exec', 'nope', '--', 'true']);
        assert.equal(r.stdoutText, '');
        assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
        assert.equal(r.code, 1);
      }));

    test('a command that cannot be started gets the runtime message, exit 1', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const r = await kubectl.run(['exec', 'shell', '--', 'no-such-command-kc']);
        assert.match(
          r.stderr,
          /^error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "no-such-command-kc": executable file not found in \$PATH: unknown\n$/,
        );
        assert.equal(r.code, 1);
        const path = await kubectl.run(['exec', 'shell', '--', './missing.sh']);
        assert.match(path.stderr, /exec: "\.\/missing\.sh": stat \.\/missing\.sh: no such file or directory: unknown/);
        assert.equal(path.code, 1);
      }));

    test('processes left behind by a command are killed when it ends (whole process group)', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', 'sleep 300 & sleep 301 & echo started']);
        assert.equal(r.stdoutText, 'started\n');
        assert.equal(r.code, 0);
        const left = await waitUntilGone(() => processesWithEnv(fx.marker.name, fx.marker.value).filter((p) => p.comm === 'sleep'));
        assert.deepEqual(left, []);
      }));

    test('a process that leaves the session (setsid, double fork) is killed too when the command ends', () =>
      withLocalCluster({}, async (fx) => {
        const script = 'setsid sleep 302 </dev/null >/dev/null 2>&1 & (setsid sh -c "sleep 303 & exit" </dev/null >/dev/null 2>&1 &); sleep 0.2; echo started';
        const r = await fx.kubectl(profile).run(['exec', 'shell', '--', 'sh', '-c', script]);
        assert.equal(r.stdoutText, 'started\n');
        const escaped = () => processesWithEnv(fx.marker.name, fx.marker.value).filter((p) => p.comm === 'sleep');
        const left = await waitUntilGone(escaped);
        assert.deepEqual(left, [], 'no escaped process outlives the session (checked before the cluster stops)');
      }));

    test('when kubectl goes away mid-command, the command is killed', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const running = kubectl.start(['exec', 'shell', '--', 'sh', '-c', 'echo ready; exec sleep 300']);
        const sleeping = () => processesWithEnv(fx.marker.name, fx.marker.value).filter((p) => p.comm === 'sleep');
        for (let i = 0; i < 100 && sleeping().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        assert.equal(sleeping().length, 1, 'the command should be running');
        // SIGKILL: the connection drops without any goodbye.
        running.kill('SIGKILL');
        await running.result;
        const left = await waitUntilGone(sleeping);
        assert.deepEqual(left.map((p) => p.pid).filter(isAlive), []);
      }));
  });
}
