// exec -it through a real terminal (kubectl inside a node-pty pseudo-terminal): typed commands run,
// the remote terminal has the outer terminal's size and follows its resizes, the exit status comes back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { expectedProtocol, withLocalCluster } from './localcluster-fixture';

for (const profile of KUBECTL_PROFILES) {
  describe(`local cluster exec -it, ${profile.label}`, () => {
    test('exec -it shell -- sh: typing, stty size, resize (SIGWINCH), exit 7', () =>
      withLocalCluster({}, async (fx) => {
        const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
        try {
          // Arithmetic in the command, so the echo of what we typed cannot match the answer.
          term.type('echo typed-$((6*7))\r');
          await term.waitForText('typed-42');

          let from = term.mark();
          term.type('stty size\r');
          await term.waitForText(/\b30 100\n/, { from });

          from = term.mark();
          term.type("trap 'echo got-winch' WINCH\r");
          term.type('echo trap-$((1+1))\r');
          await term.waitForText('trap-2', { from });
          from = term.mark();
          term.resize(120, 40);
          // dash runs the trap when it next reads a command: press Enter.
          await new Promise((r) => setTimeout(r, 300));
          term.type('\r');
          await term.waitForText('got-winch', { from });
          from = term.mark();
          term.type('stty size\r');
          await term.waitForText(/\b40 120\n/, { from });

          const screen = (await term.screen()).join('\n');
          assert.match(screen, /40 120/);

          term.type('exit 7\r');
          const { exitCode } = await term.waitForExit();
          assert.equal(exitCode, 7, term.text);
          assert.match(term.text, /command terminated with exit code 7/);
          const last = fx.cluster.sessions.at(-1)!;
          assert.deepEqual({ transport: last.transport, protocol: last.protocol, tty: last.tty }, { ...expectedProtocol(profile), tty: true });
        } finally {
          term.dispose();
        }
      }));

    test('exec -it gets TERM=xterm and starts at the terminal size', () =>
      withLocalCluster({}, async (fx) => {
        const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'sh', '-c', 'echo "term=$TERM size=$(stty size)"'], { cols: 91, rows: 27 });
        try {
          await term.waitForText('term=xterm size=27 91');
          const { exitCode } = await term.waitForExit();
          assert.equal(exitCode, 0);
        } finally {
          term.dispose();
        }
      }));
  });
}
