// `kubecast ls / export / play / verify` as a person or a script runs them (the built CLI, in
// another process), also while a server owns the same data folder.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INDEX_FILE, Library } from '../../src/store/library';
import { ingestRecording, writeRecording, type CastSpec } from '../helpers/recordings';

const cli = 'bin/kubecast.js';
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function kubecast(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECAST_DATA: '/nonexistent-kubecast-data' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const sessions: CastSpec[] = [
  {
    user: 'alice',
    pod: 'web-0',
    startedAt: new Date(Date.now() - 3 * 3600_000),
    events: [
      [0.2, 'o', '$ '],
      [1, 'o', 'echo kubecast-needle-2468\r\n'],
      [1.1, 'o', 'kubecast-needle-2468\r\n$ '],
      [2, 'o', 'ls --color\r\n\x1b[01;34mbin\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\r\n$ '],
      [3, 'o', 'exit\r\n'],
      [3.1, 'x', '0'],
    ],
  },
  {
    user: 'bob',
    pod: 'db-0',
    namespace: 'data',
    startedAt: new Date(Date.now() - 10 * 86400_000),
    events: [[0.5, 'o', 'SELECT 1;\r\n 1\r\n'], [1, 'x', '3']],
  },
];

describe('kubecast ls / export / play / verify', () => {
  let dir: string;
  const ids: string[] = [];

  before(async () => {
    assert.ok(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)');
    dir = await mkdtemp(join(tmpdir(), 'kubecast-library-cli-'));
    dirs.push(dir);
    const library = await Library.open(dir);
    for (const spec of sessions) ids.push((await ingestRecording(dir, library, spec)).id);
    await library.settled();
    await library.close();
  });

  test('`ls --json` lists exactly what the library (and so the API) lists', async () => {
    const reader = await Library.open(dir, { role: 'reader' });
    try {
      for (const [args, query] of [
        [[], {}],
        [['--user', 'alice'], { user: 'alice' }],
        [['--search', 'kubecast-needle-2468'], { q: 'kubecast-needle-2468' }],
        [['--namespace', 'data', '--limit', '1'], { namespace: 'data', limit: 1 }],
        [['--pod', 'web-0', '--search', 'run.sh'], { pod: 'web-0', q: 'run.sh' }],
      ] as const) {
        const out = kubecast('ls', '--json', '--data', dir, ...args);
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(JSON.parse(out.stdout), reader.list(query), args.join(' '));
      }
      const since = kubecast('ls', '--json', '--data', dir, '--since', '2d');
      assert.deepEqual(JSON.parse(since.stdout).items.map((i: { id: string }) => i.id), [ids[0]]);
      const page = JSON.parse(kubecast('ls', '--json', '--data', dir, '--limit', '1').stdout);
      assert.ok(page.next);
      assert.deepEqual(JSON.parse(kubecast('ls', '--json', '--data', dir, '--limit', '1', '--cursor', page.next).stdout).items.map((i: { id: string }) => i.id), [ids[1]]);
    } finally {
      await reader.close();
    }
  });

  test('`ls` prints a table with hits for people', () => {
    const out = kubecast('ls', '--data', dir, '--search', 'kubecast-needle-2468');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^ID\s+STARTED\s+DURATION\s+USER\s+POD\s+COMMAND\s+EXIT\s+STATE/);
    assert.match(out.stdout, new RegExp(`^${ids[0].slice(0, 8)}\\s+3h ago\\s+3s\\s+alice\\s+default/web-0/main\\s+sh\\s+0`, 'm'));
    assert.match(out.stdout, /^\s+00:01\.1\s+kubecast-needle-2468$/m);
    assert.equal(kubecast('ls', '--data', dir, '--since', 'whenever').code, 2);
    assert.equal(kubecast('ls', '--help').code, 0);
  });

  test('`export --format txt` prints the session text; `--format cast` the bytes unchanged', async () => {
    const txt = kubecast('export', ids[0], '--format', 'txt', '--data', dir);
    assert.equal(txt.code, 0, txt.stderr);
    assert.equal(txt.stdout, '$ echo kubecast-needle-2468\nkubecast-needle-2468\n$ ls --color\nbin  run.sh\n$ exit\n');
    const cast = spawnSync(process.execPath, [cli, 'export', ids[1], '--data', dir]);
    const [file] = await findCast(dir, ids[1]);
    assert.deepEqual(cast.stdout, await readFile(file));
    // Any cast file, without a data folder: peer (non-TTY), v1, v3.
    assert.equal(kubecast('export', 'test/fixtures/casts/peer.cast', '--format', 'txt').stdout, '$ ls\nexit\n');
    assert.match(kubecast('export', 'test/fixtures/casts/v1.cast', '--format', 'txt').stdout, /^Hello World!$/m);
    assert.match(kubecast('export', 'test/fixtures/casts/v3.cast', '--format', 'txt').stdout, /^This is better\./m);
    assert.equal(kubecast('export', ids[0], '--format', 'pdf', '--data', dir).code, 2);
  });

  test('`play --speed 100` prints the output (stdout not a terminal)', () => {
    const started = Date.now();
    const out = kubecast('play', ids[0], '--speed', '100', '--data', dir);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(out.stdout.includes('kubecast-needle-2468\r\n$ ls --color\r\n'), JSON.stringify(out.stdout));
    assert.ok(Date.now() - started < 20_000);
    const idle = kubecast('play', 'test/fixtures/casts/v3.cast', '--idle-limit', '0.01');
    assert.equal(idle.code, 0, idle.stderr);
    assert.match(idle.stdout, /This is better\./);
    assert.equal(kubecast('play', ids[0], '--speed', '0', '--data', dir).code, 2);
  });

  test('`verify`: 0 intact, 1 for one changed byte, a cut file, a cut and edited one, or a removed seal line, 2 unsigned or unknown', async () => {
    const [file] = await findCast(dir, ids[1]);
    const original = await readFile(file);
    const ok = kubecast('verify', ids[1], '--data', dir);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^intact/);
    try {
      const changed = Buffer.from(original);
      changed[changed.indexOf('SELECT')] = 'Z'.charCodeAt(0);
      await writeFile(file, changed);
      const modified = kubecast('verify', ids[1], '--data', dir);
      assert.equal(modified.code, 1);
      assert.match(modified.stdout, /^modified/);
      await writeFile(file, original);
      await truncate(file, original.length - 10);
      const cut = kubecast('verify', file, '--data', dir, '--json');
      assert.equal(cut.code, 1);
      assert.equal(JSON.parse(cut.stdout).state, 'truncated');
      // Cut at a line boundary, and one byte of what is left changed: not a mere truncation.
      const kept = Buffer.from(original.subarray(0, original.lastIndexOf('\n', original.length - 2) + 1));
      assert.ok(kept.length < original.length);
      await writeFile(file, kept);
      assert.equal(JSON.parse(kubecast('verify', ids[1], '--data', dir, '--json').stdout).state, 'truncated');
      kept[kept.indexOf('SELECT')] = 'Z'.charCodeAt(0);
      await writeFile(file, kept);
      const both = kubecast('verify', ids[1], '--data', dir);
      assert.equal(both.code, 1);
      assert.match(both.stdout, /^modified/);
    } finally {
      await writeFile(file, original);
    }
    // The first seal line removed from the manifest: a broken chain, not "unsigned".
    const manifestPath = join(dir, 'manifest.jsonl');
    const manifest = await readFile(manifestPath, 'utf8');
    try {
      const [first, ...rest] = manifest.split('\n');
      await writeFile(manifestPath, rest.join('\n'));
      const removed = kubecast('verify', JSON.parse(first).id, '--data', dir);
      assert.equal(removed.code, 1, removed.stdout + removed.stderr);
      assert.match(removed.stdout, /^modified[\s\S]*seal may have been removed/);
    } finally {
      await writeFile(manifestPath, manifest);
    }
    const peer = kubecast('verify', 'test/fixtures/casts/peer.cast', '--data', dir);
    assert.equal(peer.code, 2);
    assert.match(peer.stdout, /^unsigned/);
    assert.equal(kubecast('verify', '3de8c67a-367c-48e6-bc38-bd08412f36cc', '--data', dir).code, 2);
  });

  test('malformed ids are refused without touching the disk', async () => {
    const before = await listTree(dir);
    for (const arg of ['../x', '%2e%2e', 'not-a-uuid', '..%2f..%2fetc%2fpasswd']) {
      for (const command of ['export', 'play', 'verify']) {
        const out = kubecast(command, arg, '--data', dir);
        assert.equal(out.code, 2, `${command} ${arg}: ${out.stderr}`);
        assert.match(out.stderr, /neither a recording id nor a file/);
      }
    }
    assert.deepEqual(await listTree(dir), before);
  });

  test('a big folder without an index is indexed with progress on stderr', async () => {
    const big = await mkdtemp(join(tmpdir(), 'kubecast-library-cli-big-'));
    dirs.push(big);
    for (let i = 0; i < 120; i++) await writeRecording(big, { user: `u${i}`, events: [[0.5, 'o', `session ${i}\r\n`]] });
    const out = kubecast('ls', '--data', big, '--search', 'session', '--limit', '500');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /indexing recordings: 120\/120/);
    assert.match(out.stderr, /indexing recordings for search: 120\/120/);
    assert.equal(out.stdout.split('\n').filter((l) => /^\s+00:00\.5\s+session \d+$/.test(l)).length, 120);
  });

  test('while a server owns the folder: a live recording is listed live and in progress, never complete', async () => {
    const writer = await Library.open(dir);
    const { id, ingest } = await ingestRecording(dir, writer, { user: 'carol', events: [[0.5, 'o', 'long running job\r\n']] }, { end: false });
    try {
      const listed = JSON.parse(kubecast('ls', '--json', '--data', dir).stdout).items.find((i: { id: string }) => i.id === id);
      assert.equal(listed.live, true);
      assert.equal(listed.complete, false);
      assert.equal(listed.integrity, 'pending');
      assert.match(kubecast('ls', '--data', dir).stdout, new RegExp(`^${id.slice(0, 8)}.*\\blive$`, 'm'));
      const verify = kubecast('verify', id, '--data', dir);
      assert.equal(verify.code, 2);
      assert.match(verify.stdout, /^in-progress/);
      await ingest.finish();
      await writer.settled();
      assert.equal(kubecast('verify', id, '--data', dir).code, 0);
      const done = JSON.parse(kubecast('ls', '--json', '--data', dir, '--user', 'carol').stdout).items[0];
      assert.equal(done.live, false);
      assert.equal(done.complete, true);
    } finally {
      await writer.close();
    }
  });
});

describe('kubecast ls with no server and an index damaged beyond its first pages', () => {
  test('the index is rebuilt once from the cast files: the same results, no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubecast-library-cli-damaged-'));
    dirs.push(dir);
    const library = await Library.open(dir);
    for (let i = 0; i < 20; i++) {
      await ingestRecording(dir, library, { user: `u${i % 3}`, events: [[0.5, 'o', `line ${i} kubecast-needle-${i}\r\n`.repeat(50)], [1, 'x', String(i % 4)]] });
    }
    await library.settled();
    await library.close();
    const ls = (...args: string[]) => kubecast('ls', '--json', '--limit', '500', '--data', dir, ...args);
    const plain = ls();
    const searched = ls('--search', 'kubecast-needle-7');
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(JSON.parse(plain.stdout).items.length, 20);
    assert.equal(JSON.parse(searched.stdout).items.length, 1);

    const path = join(dir, INDEX_FILE);
    const db = new Database(path, { readonly: true });
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.pragma('page_count', { simple: true }) as number;
    const recordingPages = db.prepare<[], { pageno: number }>("SELECT pageno FROM dbstat WHERE name = 'recordings'").all().map((r) => r.pageno);
    db.close();
    // From the last page holding recording rows to the end: the damage reaches rows `ls` reads, and
    // spares page 1 (header and schema), so the light check at open passes.
    const from = Math.max(...recordingPages);
    assert.ok(from > 1 && from < pages, `recordings pages ${recordingPages.join(',')} of ${pages}`);
    const bytes = await readFile(path);
    bytes.fill(0xee, (from - 1) * pageSize);
    await writeFile(path, bytes);

    const after = ls();
    assert.equal(after.code, 0, after.stderr);
    assert.doesNotMatch(after.stderr, /SQLITE_|\n\s+at /, 'no stack trace');
    assert.match(after.stderr, /index.*damaged/i);
    // Rebuilt from the files: search is rendered again only when asked for (as after any rebuild).
    const withoutSearchState = (out: string) => (JSON.parse(out) as { items: Array<Record<string, unknown>> }).items.map(({ searchIndex: _, ...rest }) => rest);
    assert.deepEqual(withoutSearchState(after.stdout), withoutSearchState(plain.stdout));
    const searchedAfter = ls('--search', 'kubecast-needle-7');
    assert.equal(searchedAfter.code, 0, searchedAfter.stderr);
    assert.deepEqual(JSON.parse(searchedAfter.stdout), JSON.parse(searched.stdout));
    assert.ok((await readdir(dir)).some((name) => name.startsWith(`${INDEX_FILE}.damaged-`)), 'the damaged file is kept aside');
  });
});

async function findCast(dir: string, id: string): Promise<string[]> {
  return (await listTree(dir)).filter((p) => p.endsWith(`${id}.cast`)).map((p) => join(dir, p));
}

async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listTree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}
