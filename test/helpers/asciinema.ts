// The real asciinema 2.2 CLI (Debian package `asciinema`) as the reference cast reader:
// `asciinema cat FILE` loads every event line with Python's json module, unpacks [time, code, data],
// and prints the data of the `o` events. It opens /dev/tty (to put the terminal in raw mode) before
// reading anything, so it fails without a controlling terminal; util-linux `script` gives it one,
// and its stdout is redirected to a file so the bytes compared are exactly what it printed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';



/** Fails (never skips) with a clear message when asciinema 2.x or script is missing. */
export function requireAsciinema(): void {
  const asciinema = spawnSync('asciinema', ['--version'], { encoding: 'utf8' });
  if (asciinema.error) {
    assert.fail(
      `asciinema is not installed (${asciinema.error.message}). This test runs the real player: ` +
        'install the Debian package "asciinema" (version 2.2), e.g. apt-get install asciinema.',
    );
  }
  const version = `${asciinema.stdout}${asciinema.stderr}`.trim();
  // asciinema 3 (Rust) has a different `cat` (it concatenates recordings), so the check would mean nothing.
  assert.match(version, /^asciinema 2\./, `expected asciinema 2.x (Debian package 2.2), found "${version}"`);
  const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (script.error) {
    assert.fail(`util-linux "script" is not installed (${script.error.message}); it gives asciinema cat the terminal it opens (/dev/tty).`);
  }
}

/** Runs `asciinema cat FILE` inside a pseudo-terminal and returns exactly what it wrote to stdout. */
export function asciinemaCat(cast: string): string {
  const workDir = mkdtempSync(join(tmpdir(), 'kubecast-asciinema-'));
  try {
    return catIn(workDir, cast);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function catIn(workDir: string, cast: string): string {
  const castFile = join(workDir, `${Math.random().toString(36).slice(2)}.cast`);
  const outFile = `${castFile}.out`;
  writeFileSync(castFile, cast);
  const result = spawnSync('script', ['-q', '-e', '-c', 'asciinema cat "$KUBECAST_CAST" > "$KUBECAST_OUT"', '/dev/null'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    env: {
      ...process.env,
      KUBECAST_CAST: castFile,
      KUBECAST_OUT: outFile,
      SHELL: '/bin/sh',
      PYTHONIOENCODING: 'utf-8',
      PYTHONUTF8: '1',
    },
  });
  assert.equal(result.error, undefined, String(result.error));
  // script relays the pseudo-terminal, where asciinema's errors and tracebacks end up.
  assert.equal(result.status, 0, `asciinema cat failed (status ${result.status}):\n${result.stdout}${result.stderr}`);
  return readFileSync(outFile, 'utf8');
}

