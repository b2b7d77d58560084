// Acks must not overstate durability after a power loss: a new cast file's directory entry, and the
// YYYY/MM/DD folders made for it, are fsynced before its first byte can be acked. Checked on the
// real system calls (strace), since a crash cannot be staged in a test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tempDir } from '../helpers/kubecast';

const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
const storeModule = resolve(__dirname, '..', '..', 'src', 'store', 'store.ts');

/** Syscalls in order: which path each fsync/fdatasync was about. */
function syncs(trace: string): Array<{ call: string; path: string }> {
  const fds = new Map<string, string>();
  const pendingOpen = new Map<string, string>();
  const out: Array<{ call: string; path: string }> = [];
  for (const line of trace.split('\n')) {
    const pid = line.split(' ')[0];
    let m = /openat\(AT_FDCWD, "([^"]+)", [^)]*?(<unfinished \.\.\.>|\) = (\d+))/.exec(line);
    if (m) {
      if (m[3]) fds.set(m[3], m[1]);
      else pendingOpen.set(pid, m[1]);
      continue;
    }
    m = /<\.\.\. openat resumed>.*= (\d+)/.exec(line);
    if (m && pendingOpen.has(pid)) {
      fds.set(m[1], pendingOpen.get(pid)!);
      pendingOpen.delete(pid);
      continue;
    }
    m = /\b(fsync|fdatasync)\((\d+)/.exec(line);
    if (m && fds.has(m[2])) out.push({ call: m[1], path: fds.get(m[2])! });
  }
  return out;
}

test('a new recording: its folder and every folder created for it are fsynced before the file is', { skip: strace.status !== 0 || process.platform !== 'linux' ? 'needs strace on Linux' : false }, () => {
  const data = tempDir('dir-sync');
  try {
    const script = join(data.path, 'make.ts');
    writeFileSync(
      script,
      [
        `import { RecordingStore } from ${JSON.stringify(storeModule)};`,
        'void (async () => {',
        `  const rec = await new RecordingStore(${JSON.stringify(join(data.path, 'data'))}).create(new Date(Date.UTC(2031, 4, 6)));`,
        `  rec.file.append(Buffer.from('{"version":2,"width":80,"height":24}\\n'));`,
        '  await rec.file.flush();',
        '  await rec.file.close();',
        '  process.stdout.write(rec.path);',
        '})();',
      ].join('\n'),
    );
    const traceFile = join(data.path, 'trace.txt');
    const run = spawnSync('strace', ['-f', '-e', 'trace=openat,fsync,fdatasync', '-o', traceFile, process.execPath, '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const castPath = run.stdout;
    assert.match(castPath, /recordings\/2031\/05\/06\/[0-9a-f-]+\.cast$/);
    const calls = syncs(readFileSync(traceFile, 'utf8'));
    const firstFileSync = calls.findIndex((c) => c.path === castPath);
    assert.ok(firstFileSync >= 0, `the cast file was synced: ${JSON.stringify(calls)}`);
    const day = dirname(castPath);
    const month = dirname(day);
    const year = dirname(month);
    const recordings = dirname(year);
    const dataDir = dirname(recordings);
    for (const dir of [day, month, year, recordings, dataDir]) {
      const at = calls.findIndex((c) => c.path === dir && c.call === 'fsync');
      assert.ok(at >= 0, `${dir} was fsynced: ${JSON.stringify(calls)}`);
      assert.ok(at < firstFileSync, `${dir} was fsynced before the file's first sync (the first ack)`);
    }
  } finally {
    data.cleanup();
  }
});
