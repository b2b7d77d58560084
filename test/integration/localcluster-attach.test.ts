// attach: each container's main process (a shell) is started on first attach and kept running;
// several attachers see the same output; detaching leaves it running.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { isAlive } from '../helpers/processes';
import { expectedProtocol, withLocalCluster } from './localcluster-fixture';

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const profile of KUBECTL_PROFILES) {
  describe(`local cluster attach, ${profile.label}`, () => {
    test('attach -it shell sees the main process; two attachers share it; detaching leaves it running', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        assert.equal(fx.cluster.mainProcess('default', 'shell', 'shell')?.running, false, 'started on first use only');

        const first = kubectl.terminal(['attach', '-it', 'shell'], { cols: 100, rows: 30 });
        const second = kubectl.terminal(['attach', '-it', 'shell'], { cols: 100, rows: 30 });
        try {
          await first.waitForText("If you don't see a command prompt, try pressing enter.");
          await until('both attachers are connected', () => fx.cluster.connectionCount === 2);
          const main = fx.cluster.mainProcess('default', 'shell', 'shell')!;
          assert.equal(main.running, true);

          // What one attacher types, both see the output of.
          first.type('kept=value-$((40+2)); echo shared-$((3*3))\r');
          await first.waitForText('shared-9');
          await second.waitForText('shared-9');

          // Detach both (the clients go away); the main process stays.
          first.kill();
          second.kill();
          await first.waitForExit();
          await second.waitForExit();
          await until('the attach connections are closed', () => fx.cluster.connectionCount === 0);
          await new Promise((r) => setTimeout(r, 200));
          const after = fx.cluster.mainProcess('default', 'shell', 'shell')!;
          assert.equal(after.running, true, 'the main process survives detaching');
          assert.equal(after.pid, main.pid);
          assert.ok(isAlive(main.pid!));
        } finally {
          first.dispose();
          second.dispose();
        }

        // A later attach joins the same process: the shell variable set before is still there.
        const third = kubectl.terminal(['attach', '-it', 'shell'], { cols: 80, rows: 24 });
        try {
          await third.waitForText("If you don't see a command prompt");
          third.type('echo again-$kept\r');
          await third.waitForText('again-value-42');
          const last = fx.cluster.sessions.at(-1)!;
          assert.deepEqual({ transport: last.transport, protocol: last.protocol, kind: last.kind }, { ...expectedProtocol(profile), kind: 'attach' });
          // Its output is also what `kubectl logs` shows.
          const logs = await fx.kubectl(profile).run(['logs', 'shell']);
          assert.match(logs.stdoutText, /shared-9/);
          assert.equal(logs.code, 0);
        } finally {
          third.dispose();
        }
      }));

    test('when the main process exits, attached kubectl ends (0) and the next attach restarts it', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const term = kubectl.terminal(['attach', '-it', 'web-0', '-c', 'sidecar'], { cols: 80, rows: 24 });
        try {
          await term.waitForText("If you don't see a command prompt");
          await until('attached', () => fx.cluster.connectionCount === 1);
          term.type('exit 5\r');
          const { exitCode } = await term.waitForExit();
          assert.equal(exitCode, 0, term.text);
        } finally {
          term.dispose();
        }
        await until('the main process is gone', () => fx.cluster.mainProcess('default', 'web-0', 'sidecar')?.running === false);
        const again = kubectl.terminal(['attach', '-it', 'web-0', '-c', 'sidecar'], { cols: 80, rows: 24 });
        try {
          await again.waitForText("If you don't see a command prompt");
          again.type('echo restarted-$((2+2))\r');
          await again.waitForText('restarted-4');
          assert.equal(fx.cluster.mainProcess('default', 'web-0', 'sidecar')?.restarts, 1);
          const pods = await kubectl.run(['get', 'pods']);
          assert.match(pods.stdoutText, /^web-0\s+2\/2\s+Running\s+1\s/m);
        } finally {
          again.dispose();
        }
      }));
  });
}
