// What a recording says about who ran what, from real kubectl sessions through the proxy; and
// streaming responses (logs -f) passing through while they stream.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { listCasts, outputOf, withServe, type ServeFixture } from '../helpers/serve-fixture';
import { osUser } from '../../src/proxy/identity';
import { parseCast, type ParsedCast } from '../../src/cast';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

/** The first recording that satisfies `ready` (recordings of sessions cut by a detach have no exit event). */
async function recordingWhere(fx: ServeFixture, ready: (cast: ParsedCast) => boolean, timeoutMs = 15_000): Promise<ParsedCast> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const path of listCasts(`${fx.dataDir}/recordings`)) {
      const cast = parseCast(readFileSync(path, 'utf8'));
      if (ready(cast)) return cast;
    }
    if (Date.now() > deadline) throw new Error('no matching recording');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const profile of profiles) {
  const version = new RegExp(`^v${profile.version.replace('.', '\\.')}\\.\\d+`);

  describe(`recording header from real kubectl, ${profile.label}`, () => {
    test('exec: proxy user, client address, kubectl version, pod/namespace/container, argv, SessionType exec', async () => {
      await withServe({}, async (fx) => {
        const argv = ['sh', '-c', 'printf "%s|%s\\n" "$0" "two words"', 'arg zero'];
        const result = await fx.kubectl(profile).run(['exec', 'shell', '--', ...argv]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdoutText, 'arg zero|two words\n');
        const [{ cast }] = await fx.waitForRecordings(1);
        const h = cast.header;
        assert.equal(h.raw.srcNodeUser, osUser());
        assert.equal(h.kubecast?.user, osUser());
        assert.equal(h.raw.srcNode, '127.0.0.1');
        assert.equal(h.kubecast?.clientAddress, '127.0.0.1');
        assert.match(h.kubecast?.kubectlVersion ?? '', version);
        assert.deepEqual(h.kubernetes, { PodName: 'shell', Namespace: 'default', Container: 'shell', SessionType: 'exec' });
        // argv boundaries survive: "two words" and "arg zero" stay one argument each.
        assert.deepEqual(h.kubecast?.command, argv);
        assert.equal(h.command, argv.join(' '));
        assert.equal(h.kubecast?.protocol, profile.transport);
        assert.equal(h.kubecast?.tty, false);
        assert.equal(h.kubecast?.cluster, 'local');
        // The local upstream has no kubeconfig context (proxy-upstream.test.ts covers one that has).
        assert.equal(h.kubecast?.context, undefined);
        assert.equal(outputOf(cast), 'arg zero|two words\n');
      });
    });

    test('attach -it is recorded as SessionType attach; logs -f streams through while the session runs', async () => {
      await withServe({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const term = kubectl.terminal(['attach', '-it', 'shell'], { cols: 90, rows: 25 });
        let logs: ReturnType<typeof kubectl.start> | undefined;
        let logsEnded = false;
        try {
          await term.waitForText("If you don't see a command prompt, try pressing enter.");
          term.type('echo attached-$((6*7))\r');
          await term.waitForText('attached-42');
          // The container's log is its main process's output, which the attach started.
          logs = kubectl.start(['logs', '-f', 'shell'], { timeoutMs: 60_000 });
          void logs.result.then((r) => {
            logsEnded = true;
            if (r.code !== null && r.code !== 0) process.stderr.write(`logs -f: ${r.stderr}\n`);
          });
          const running = logs;
          // The first line arrives while the log stream is still open…
          await until('logs -f shows the first line', () => running.stdoutSoFar().includes('attached-42'));
          assert.equal(logsEnded, false, 'logs -f is still streaming');
          // …and later output follows on the same open stream.
          term.type('echo later-$((7*8))\r');
          await until('logs -f shows later output', () => running.stdoutSoFar().includes('later-56'));
          assert.equal(logsEnded, false);
        } finally {
          logs?.kill();
          term.dispose();
        }
        const cast = await recordingWhere(fx, (c) => c.header.kubernetes?.SessionType === 'attach' && outputOf(c).includes('later-56'));
        assert.deepEqual(cast.header.kubernetes, { PodName: 'shell', Namespace: 'default', Container: 'shell', SessionType: 'attach' });
        assert.equal(cast.header.kubecast?.tty, true);
        assert.deepEqual(cast.header.kubecast?.command, []);
        assert.equal(cast.header.kubecast?.protocol, profile.transport);
        assert.match(cast.header.kubecast?.kubectlVersion ?? '', version);
        assert.equal(cast.header.raw.srcNodeUser, osUser());
        // kubectl attach first sends cols+1 to make the program redraw, then the real size.
        const sizes = [`${cast.header.cols}x${cast.header.rows}`, ...cast.events.filter((e) => e.code === 'r').map((e) => e.data)];
        assert.equal(sizes.at(-1), '90x25', sizes.join(' '));
      });
    });
  });
}
