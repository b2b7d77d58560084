// Real kubectl through the recording proxy (kubecast serve) to the local cluster: what kubectl
// showed is what the recording holds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Terminal } from '@xterm/headless';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { asciinemaCat, requireAsciinema } from '../helpers/asciinema';
import { outputOf, withServe } from '../helpers/serve-fixture';

const profiles = KUBECTL_PROFILES.filter((p) => p.version === '1.27' || p.version === '1.33');

/** Renders terminal output into text lines (scrollback included), as a person would have seen it. */
async function render(output: string, cols: number, rows: number, resizeAt?: { offset: number; cols: number; rows: number }): Promise<string> {
  const term = new Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  const write = (data: string) => new Promise<void>((resolve) => term.write(data, resolve));
  if (resizeAt) {
    await write(output.slice(0, resizeAt.offset));
    term.resize(resizeAt.cols, resizeAt.rows);
    await write(output.slice(resizeAt.offset));
  } else await write(output);
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < buffer.length; y++) lines.push(buffer.getLine(y)?.translateToString(true) ?? '');
  term.dispose();
  return lines.join('\n').trimEnd();
}

for (const profile of profiles) {
  describe(`recorded sessions, ${profile.label}`, () => {
    test('interactive TTY session: the recording replays what kubectl showed; resize is an r event; exit 7 is an x event', async () => {
      requireAsciinema();
      await withServe({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
        try {
          await term.waitForText(/[$#] $/m, { timeoutMs: 15_000 });
          term.type('echo hello-$((6*7))\r');
          await term.waitForText('hello-42');
          term.resize(120, 40);
          await new Promise((resolve) => setTimeout(resolve, 300));
          const mark = term.mark();
          term.type('stty size\r');
          await term.waitForText('40 120', { from: mark });
          term.type('printf "\\344\\270\\255\\346\\226\\207 ok\\n"\r');
          await term.waitForText('中文 ok');
          term.type('exit 7\r');
          const { exitCode } = await term.waitForExit(15_000);
          assert.equal(exitCode, 7, term.text);
        } finally {
          term.dispose();
        }
        const [recording] = await fx.waitForRecordings(1);
        const { cast } = recording;
        assert.equal(cast.header.cols, 100);
        assert.equal(cast.header.rows, 30);
        assert.equal(cast.header.kubecast?.protocol, profile.transport);
        assert.equal(cast.header.kubecast?.tty, true);
        assert.deepEqual(cast.header.kubernetes, { PodName: 'shell', Namespace: 'default', Container: 'shell', SessionType: 'exec' });
        assert.ok(cast.events.some((e) => e.code === 'r' && e.data === '120x40'), 'resize recorded as COLSxROWS');
        assert.equal(cast.events.find((e) => e.code === 'x')?.data, '7');
        const recorded = outputOf(cast);
        // asciinema cat prints exactly the recorded output…
        assert.equal(asciinemaCat(recording.text), recorded);
        // …which is exactly what kubectl wrote to its terminal, before kubectl's own closing line.
        assert.equal(term.output.slice(0, recorded.length), recorded, 'kubectl showed the recorded output');
        assert.match(term.output.slice(recorded.length), /^(\r?\n)?command terminated with exit code 7\r?\n$/);
        const resizeOffset = recorded.indexOf('stty size');
        const shown = await render(term.output.slice(0, recorded.length), 100, 30, { offset: resizeOffset, cols: 120, rows: 40 });
        const replayed = await render(recorded, 100, 30, { offset: resizeOffset, cols: 120, rows: 40 });
        assert.equal(replayed, shown);
        assert.match(replayed, /hello-42/);
      });
    });

    test('non-TTY: stdout and stderr recorded, exit code passed through, 5 MiB arrive complete', async () => {
      await withServe({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const small = await kubectl.run(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        assert.equal(small.code, 3, small.stderr);
        assert.equal(small.stdoutText, 'out\n');
        assert.match(small.stderr, /err/);
        const big = await kubectl.run(['exec', 'shell', '--', 'sh', '-c', 'head -c 3932160 /dev/urandom | base64'], { timeoutMs: 120_000 });
        assert.equal(big.code, 0, big.stderr);
        assert.ok(big.stdout.byteLength > 5 * 1024 * 1024);
        const recordings = await fx.waitForRecordings(2, 30_000);
        const first = recordings.find((r) => r.cast.header.command?.includes('exit 3'))!;
        assert.deepEqual(
          first.cast.events.filter((e) => e.code === 'o').map((e) => e.data).sort(),
          ['err\n', 'out\n'],
        );
        assert.equal(first.cast.events.find((e) => e.code === 'x')?.data, '3');
        const second = recordings.find((r) => r.cast.header.command?.includes('base64'))!;
        const digest = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
        assert.equal(digest(Buffer.from(outputOf(second.cast), 'utf8')), digest(big.stdout));
      });
    });
  });
}
