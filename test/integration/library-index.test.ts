import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INDEX_FILE, Library, LibraryQueryError, RecordingLiveError, RecordingNotFoundError, type ListResult } from '../../src/store/library';
import { ingestRecording, writeRecording, type CastSpec, type Ev } from '../helpers/recordings';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tmp() {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-library-'));
  dirs.push(dir);
  return dir;
}

/** A short shell session: prompt, a typed command (echoed), its output, an exit status. */
function session(command: string, output: string[], at = 1): Ev[] {
  const events: Ev[] = [[at, 'o', '$ ']];
  for (let i = 0; i < command.length; i++) events.push([at + 0.1 + i * 0.01, 'o', command[i]]);
  const enter = at + 0.2 + command.length * 0.01;
  events.push([enter, 'o', '\r\n']);
  output.forEach((line, i) => events.push([enter + 0.1 * (i + 1), 'o', line + '\r\n']));
  events.push([enter + 0.1 * (output.length + 1), 'o', '$ ']);
  return events;
}

const specs: CastSpec[] = [
  { user: 'alice', pod: 'web-0', namespace: 'prod', startedAt: new Date('2026-03-01T10:00:00Z'), events: [...session('ls --color', ['\x1b[01;34mdir\x1b[0m  notes.txt']), [5, 'x', '0']] },
  { user: 'bob', pod: 'db-0', namespace: 'prod', startedAt: new Date('2026-03-02T10:00:00Z'), events: [...session('cat notes.txt', ['remember the milk', 'and the eggs']), [6, 'x', '1']] },
  { user: 'alice', pod: 'web-1', namespace: 'dev', startedAt: new Date('2026-03-03T10:00:00Z'), events: [...session('echo kubecast-needle-7331', ['kubecast-needle-7331']), [4, 'r', '120x40'], [7, 'x', '0']] },
  { user: 'carol', pod: 'web-0', namespace: 'prod', tty: false, argv: ['cat', '/etc/motd'], startedAt: new Date('2026-03-04T10:00:00Z'), events: [[0.2, 'o', 'welcome to the milk bar\nsecond line\n']] },
];

async function populate(dir: string): Promise<{ library: Library; ids: string[] }> {
  const library = await Library.open(dir);
  const ids: string[] = [];
  for (const spec of specs) ids.push((await ingestRecording(dir, library, spec, { chunk: 37 })).id);
  await library.settled();
  return { library, ids };
}

function snapshot(library: Library): Record<string, ListResult> {
  return {
    all: library.list({}),
    milk: library.list({ q: 'milk' }),
    needle: library.list({ q: 'kubecast-needle-7331' }),
    alice: library.list({ user: 'alice', q: 'notes' }),
    prod: library.list({ namespace: 'prod', limit: 2 }),
  };
}

describe('library index', () => {
  test('ingested recordings are listed with their metadata, newest first', async () => {
    const dir = await tmp();
    const { library, ids } = await populate(dir);
    try {
      const { items, next } = library.list({});
      assert.equal(next, null);
      assert.deepEqual(items.map((i) => i.id), [...ids].reverse());
      const needle = items[1];
      assert.equal(needle.user, 'alice');
      assert.equal(needle.pod, 'web-1');
      assert.equal(needle.namespace, 'dev');
      assert.equal(needle.cols, 120, 'last size from the resize event');
      assert.equal(needle.rows, 40);
      assert.equal(needle.exitCode, 0);
      assert.equal(needle.durationMs, 7000);
      assert.equal(needle.startedAt, '2026-03-03T10:00:00.000Z');
      assert.equal(needle.endedAt, '2026-03-03T10:00:07.000Z');
      assert.equal(needle.complete, true);
      assert.equal(needle.live, false);
      assert.equal(needle.integrity, 'intact');
      assert.match(needle.sha256 ?? '', /^[0-9a-f]{64}$/);
      assert.equal(needle.bytes, (await stat(library.castPath(needle.id)!)).size);
      assert.equal(needle.protocol, 'websocket');
      assert.equal(needle.sessionType, 'exec');
      assert.equal(needle.tty, true);
      assert.deepEqual(needle.argv, ['sh']);
      assert.equal(items[0].tty, false);
      assert.equal(items[0].cols, null);
      assert.equal(library.list({ user: 'alice' }).items.length, 2);
      assert.equal(library.list({ pod: 'web-0' }).items.length, 2);
      assert.equal(library.list({ from: new Date('2026-03-02T00:00:00Z'), to: new Date('2026-03-03T23:00:00Z') }).items.length, 2);
      assert.deepEqual(library.get(ids[2]), needle);
    } finally {
      await library.close();
    }
  });

  test('search finds what was on screen, with the time of the line; escape codes are not searchable', async () => {
    const dir = await tmp();
    const { library, ids } = await populate(dir);
    try {
      const needle = library.list({ q: 'kubecast-needle-7331' });
      assert.deepEqual(needle.items.map((i) => i.id), [ids[2]]);
      const hits = needle.items[0].hits ?? [];
      // The typed command line and the output line; the output's time is that of its event.
      assert.deepEqual(hits.map((h) => h.text), ['$ echo kubecast-needle-7331', 'kubecast-needle-7331']);
      const enter = 1 + 0.2 + 'echo kubecast-needle-7331'.length * 0.01;
      assert.ok(Math.abs(hits[1].time - (enter + 0.1)) < 1e-6, `hit time ${hits[1].time}`);
      assert.deepEqual(library.list({ q: '01;34' }).items, [], 'colour codes are not text');
      assert.deepEqual(library.list({ q: 'dir notes' }).items.map((i) => i.id), [ids[0], ids[1]].reverse().filter((id) => id === ids[0]));
      assert.deepEqual(library.list({ q: 'milk' }).items.map((i) => i.id), [ids[3], ids[1]], 'non-TTY output too');
      assert.deepEqual(library.list({ q: 'remem' }).items.map((i) => i.id), [ids[1]], 'words match as prefixes');
      assert.deepEqual(library.list({ q: 'milk', user: 'bob' }).items.map((i) => i.id), [ids[1]], 'search and filters combine');
    } finally {
      await library.close();
    }
  });

  test('FTS syntax in a search is harmless', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    try {
      for (const q of ['"', '*', 'NEAR(', 'OR', 'milk OR', '(milk', 'milk)', '"milk', 'text:milk', '^milk', 'AND', '-', '\u0000milk']) {
        const result = library.list({ q });
        assert.ok(Array.isArray(result.items), q);
      }
      assert.equal(library.list({ q: '(milk' }).items.length, 2);
    } finally {
      await library.close();
    }
  });

  test('the index survives a restart', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    const before = snapshot(library);
    await library.close();
    const reopened = await Library.open(dir);
    try {
      assert.deepEqual(snapshot(reopened), before);
    } finally {
      await reopened.close();
    }
  });

  test('deleting the index file and restarting rebuilds the same results', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    const before = snapshot(library);
    await library.close();
    for (const name of await readdir(dir)) if (name.startsWith(INDEX_FILE)) await rm(join(dir, name));
    const progress: Array<[number, number, string]> = [];
    const rebuilt = await Library.open(dir, { onProgress: (done, total, phase) => progress.push([done, total, phase]) });
    try {
      await rebuilt.settled();
      assert.deepEqual(snapshot(rebuilt), before);
      assert.deepEqual(progress.filter((p) => p[2] === 'files').pop(), [4, 4, 'files']);
      assert.deepEqual(progress.filter((p) => p[2] === 'search').pop(), [4, 4, 'search']);
    } finally {
      await rebuilt.close();
    }
  });

  test('a corrupt index file is moved aside and rebuilt', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    const before = snapshot(library);
    await library.close();
    const path = join(dir, INDEX_FILE);
    const bytes = await readFile(path);
    // Garble everything after the first page's header: a damaged file SQLite can still open.
    for (let i = 200; i < bytes.length; i += 7) bytes[i] = (bytes[i] + 91) & 0xff;
    await writeFile(path, bytes);
    const rebuilt = await Library.open(dir);
    try {
      await rebuilt.settled();
      assert.deepEqual(snapshot(rebuilt), before);
      assert.ok((await readdir(dir)).some((name) => name.startsWith(`${INDEX_FILE}.damaged-`)), 'the damaged file is kept aside');
    } finally {
      await rebuilt.close();
    }
    // Not a database at all.
    await writeFile(path, 'this is not sqlite');
    await rm(`${path}-wal`, { force: true });
    const again = await Library.open(dir);
    try {
      await again.settled();
      assert.deepEqual(snapshot(again), before);
    } finally {
      await again.close();
    }
  });

  test('an index of another schema version is dropped and rebuilt', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    const before = snapshot(library);
    await library.close();
    const db = new Database(join(dir, INDEX_FILE));
    db.pragma('user_version = 999');
    db.close();
    const rebuilt = await Library.open(dir);
    try {
      await rebuilt.settled();
      assert.deepEqual(snapshot(rebuilt), before);
    } finally {
      await rebuilt.close();
    }
  });

  test('files changed, added or removed while no server ran are reconciled at start', async () => {
    const dir = await tmp();
    const { library, ids } = await populate(dir);
    const pathOf = (id: string) => library.castPath(id)!;
    const modified = pathOf(ids[0]);
    const removed = pathOf(ids[1]);
    await library.close();
    const bytes = await readFile(modified);
    bytes[bytes.length - 5] ^= 1;
    await writeFile(modified, bytes);
    await rm(removed);
    const added = await writeRecording(dir, { user: 'dave', startedAt: new Date('2026-03-05T00:00:00Z'), events: [[1, 'o', 'a late arrival\r\n']] });
    const reopened = await Library.open(dir);
    try {
      await reopened.settled();
      assert.equal(reopened.get(ids[0])?.integrity, 'modified');
      assert.equal(reopened.get(ids[1]), undefined);
      const late = reopened.get(added.id);
      assert.equal(late?.user, 'dave');
      assert.equal(late?.integrity, 'unsigned', 'never sealed here');
      assert.equal(late?.complete, false, 'a kubecast recording without a seal was interrupted');
      assert.deepEqual(reopened.list({ q: 'arrival' }).items.map((i) => i.id), [added.id]);
    } finally {
      await reopened.close();
    }
  });

  test('pagination is stable: every recording once, in order, also with equal start times and with search', async () => {
    const dir = await tmp();
    const library = await Library.open(dir);
    try {
      const same = new Date('2026-04-01T00:00:00Z');
      for (let i = 0; i < 23; i++) {
        await ingestRecording(dir, library, { startedAt: i % 3 === 0 ? same : new Date(same.getTime() + i * 1000), events: [[1, 'o', `page test ${i}\r\n`]] });
      }
      await library.settled();
      const all = library.list({ limit: 500 }).items.map((i) => i.id);
      for (const q of [undefined, 'page']) {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = library.list({ limit: 5, cursor, q });
          seen.push(...page.items.map((i) => i.id));
          // A recording arriving meanwhile does not shift later pages.
          if (seen.length === 5 && q === undefined) await ingestRecording(dir, library, { startedAt: new Date('2027-01-01T00:00:00Z'), events: [[1, 'o', 'new\r\n']] });
          if (!page.next) break;
          cursor = page.next;
        }
        assert.deepEqual(seen, all, `q=${q}`);
      }
      assert.throws(() => library.list({ cursor: 'garbage' }), LibraryQueryError);
      assert.throws(() => library.list({ cursor: Buffer.from('[1,"../x"]').toString('base64url') }), LibraryQueryError);
      assert.throws(() => library.list({ from: new Date('nope') }), LibraryQueryError);
      assert.equal(library.list({ limit: 100000 }).items.length, 24, 'limit capped at 500');
    } finally {
      await library.close();
    }
  });

  test('malformed ids never touch the disk', async () => {
    const dir = await tmp();
    const { library } = await populate(dir);
    try {
      const sentinel = join(dir, 'x');
      await writeFile(sentinel, 'not a recording');
      const before = (await readdir(dir)).sort();
      for (const id of ['../x', '%2e%2e', '..%2fx', 'not-a-uuid', '', '/etc/passwd', '3de8c67a-367c-48e6-bc38-bd08412f36cc/../../x', 'x'.repeat(10000)]) {
        assert.equal(library.get(id), undefined, id);
        assert.equal(library.castPath(id), undefined, id);
        assert.equal(await library.delete(id), false, id);
        await assert.rejects(library.verify(id), RecordingNotFoundError);
        await assert.rejects(library.transcript(id), RecordingNotFoundError);
      }
      assert.equal(await readFile(sentinel, 'utf8'), 'not a recording');
      assert.deepEqual((await readdir(dir)).sort(), before);
      // A well-formed id the index does not hold is just unknown.
      assert.equal(library.get('3de8c67a-367c-48e6-bc38-bd08412f36cc'), undefined);
    } finally {
      await library.close();
    }
  });

  test('delete removes the file, the rows, the search lines, the checkpoints, and notes it in the manifest', async () => {
    const dir = await tmp();
    const { library, ids } = await populate(dir);
    try {
      const path = library.castPath(ids[1])!;
      const sums = join(dir, 'seals', `${ids[1]}.sums`);
      assert.ok(existsSync(sums), 'sealed with checkpoints');
      assert.equal(await library.delete(ids[1]), true);
      assert.equal(existsSync(path), false);
      assert.equal(existsSync(sums), false, 'the checkpoints go with the recording');
      assert.equal(library.get(ids[1]), undefined);
      assert.deepEqual(library.list({ q: 'remember' }).items, []);
      assert.match(await readFile(join(dir, 'manifest.jsonl'), 'utf8'), new RegExp(`"id":"${ids[1]}","deleted":true`));
      assert.equal(await library.delete(ids[1]), false);
    } finally {
      await library.close();
    }
  });

  test('retention deletes old recordings and never a live one', async () => {
    const dir = await tmp();
    const library = await Library.open(dir);
    const old = new Date(Date.now() - 40 * 86400_000);
    const kept = await ingestRecording(dir, library, { startedAt: new Date(), events: [[1, 'o', 'recent\r\n']] });
    const expired = await ingestRecording(dir, library, { startedAt: old, events: [[1, 'o', 'old\r\n']] });
    // Started long ago (a header clock can say anything) and still being written.
    const live = await ingestRecording(dir, library, { startedAt: old, events: [[1, 'o', 'still going\r\n']] }, { end: false });
    await library.settled();
    assert.equal(await library.purgeOlderThan(new Date(Date.now() - 30 * 86400_000)), 1);
    assert.deepEqual(library.list({}).items.map((i) => i.id).sort(), [kept.id, live.id].sort());
    await assert.rejects(library.delete(live.id), RecordingLiveError);
    await live.ingest.finish();
    await library.settled();
    await library.close();
    // The retention option runs at start; setRetention changes it while running.
    const again = await Library.open(dir, { retainDays: 30 });
    try {
      await again.settled();
      assert.deepEqual(again.list({}).items.map((i) => i.id), [kept.id]);
      again.setRetention(null);
      const older = await ingestRecording(dir, again, { startedAt: new Date(Date.now() - 3 * 86400_000), events: [[1, 'o', 'three days old\r\n']] });
      await again.settled();
      assert.ok(again.get(older.id), 'retention off: kept');
      again.setRetention(2);
      await again.settled();
      assert.equal(again.get(older.id), undefined, 'retention of 2 days: deleted at once');
      assert.ok(again.get(kept.id));
      assert.equal(existsSync(join(dir, 'recordings', String(old.getUTCFullYear()))) && (await readdir(join(dir, 'recordings'))).length > 1, false, 'emptied day folders are removed');
      void expired;
    } finally {
      await again.close();
    }
  });

  test('a recording being written is live and never complete; a reader process sees the same', async () => {
    const dir = await tmp();
    const library = await Library.open(dir);
    const { id, ingest } = await ingestRecording(dir, library, { events: [[1, 'o', 'working on it\r\n']] }, { end: false });
    try {
      const view = library.get(id)!;
      assert.equal(view.live, true);
      assert.equal(view.complete, false);
      assert.equal(view.endedAt, null);
      assert.equal(view.integrity, 'pending');
      assert.equal((await library.verify(id)).state, 'in-progress');
      const reader = await Library.open(dir, { role: 'reader' });
      try {
        assert.equal(reader.get(id)?.live, true);
        assert.equal(reader.get(id)?.complete, false);
        assert.equal((await reader.verify(id)).state, 'in-progress');
        await assert.rejects(Library.open(dir), /already serving/);
      } finally {
        await reader.close();
      }
      await ingest.finish();
      await library.settled();
      assert.equal(library.get(id)?.live, false);
      assert.equal(library.get(id)?.complete, true);
      assert.equal((await library.verify(id)).state, 'intact');
    } finally {
      await library.close();
    }
  });

  test('a session a crashed server left live is finished as interrupted at the next start', async () => {
    const dir = await tmp();
    const library = await Library.open(dir);
    const { id } = await ingestRecording(dir, library, { events: [[1, 'o', 'before the crash\r\n']] }, { end: false });
    // Simulate the crash: the lock is dropped without ending the upload.
    await library.close();
    const reader = await Library.open(dir, { role: 'reader' });
    try {
      assert.equal(reader.get(id)?.live, false, 'no writer alive: not shown as live');
      assert.equal(reader.get(id)?.complete, false);
    } finally {
      await reader.close();
    }
    const restarted = await Library.open(dir);
    try {
      await restarted.settled();
      const view = restarted.get(id)!;
      assert.equal(view.live, false);
      assert.equal(view.complete, false);
      assert.equal(view.integrity, 'unsigned');
      assert.deepEqual(restarted.list({ q: 'crash' }).items.map((i) => i.id), [id]);
    } finally {
      await restarted.close();
    }
  });

  test('verify: one changed byte is modified, a cut file is truncated, a copy elsewhere is checked by its header id', async () => {
    const dir = await tmp();
    const { library, ids } = await populate(dir);
    try {
      const path = library.castPath(ids[1])!;
      const original = await readFile(path);
      assert.equal((await library.verify(ids[1])).state, 'intact');
      const copy = join(dir, 'copy-elsewhere.cast');
      await writeFile(copy, original);
      assert.equal((await library.verifyFile(copy)).state, 'intact');
      const changed = Buffer.from(original);
      changed[original.indexOf('milk')] = 'n'.charCodeAt(0);
      await writeFile(path, changed);
      const modified = await library.verify(ids[1]);
      assert.equal(modified.state, 'modified');
      assert.equal(modified.size, modified.expectedSize);
      assert.equal(library.get(ids[1])?.integrity, 'modified', 'the listing follows the last verification');
      await writeFile(path, original);
      await truncate(path, original.lastIndexOf('\n', original.length - 2) + 1);
      const cut = await library.verify(ids[1]);
      assert.equal(cut.state, 'truncated');
      assert.ok(cut.size! < cut.expectedSize!);
      await rm(path);
      assert.equal((await library.verify(ids[1])).state, 'truncated', 'a missing file is the extreme truncation');
      const foreign = join(dir, 'peer.cast');
      await writeFile(foreign, await readFile('test/fixtures/casts/peer.cast'));
      assert.equal((await library.verifyFile(foreign)).state, 'unsigned');
    } finally {
      await library.close();
    }
  });

  test('peer and v1/v3 files dropped into the folder are indexed sensibly', async () => {
    const dir = await tmp();
    const ids = ['0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c01', '0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c02', '0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c03'];
    const day = join(dir, 'recordings', '2026', '01', '02');
    await writeRecording(dir, { events: [] }); // creates the tree
    const { mkdir } = await import('node:fs/promises');
    await mkdir(day, { recursive: true });
    await writeFile(join(day, `${ids[0]}.cast`), await readFile('test/fixtures/casts/peer.cast'));
    await writeFile(join(day, `${ids[1]}.cast`), await readFile('test/fixtures/casts/v1.cast'));
    await writeFile(join(day, `${ids[2]}.cast`), await readFile('test/fixtures/casts/v3.cast'));
    const damaged = ['0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c04', '0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c05', '0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c06'];
    await writeFile(join(day, `${damaged[0]}.cast`), await readFile('test/fixtures/casts/broken.cast'));
    await writeFile(join(day, `${damaged[1]}.cast`), await readFile('test/fixtures/casts/truncated.cast'));
    await writeFile(join(day, `${damaged[2]}.cast`), Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a, 0x5b]));
    const library = await Library.open(dir);
    try {
      await library.settled();
      const peer = library.get(ids[0])!;
      assert.equal(peer.user, 'alice@example.com');
      assert.equal(peer.pod, 'web-0');
      assert.equal(peer.tty, false);
      assert.equal(peer.integrity, 'unsigned');
      assert.equal(peer.complete, true);
      assert.equal(library.get(ids[1])?.durationMs, 1750);
      assert.equal(library.list({ q: 'World' }).items[0]?.id, ids[1]);
      assert.equal(library.list({ q: 'better' }).items[0]?.id, ids[2]);
      // Damaged files are listed (they can be inspected and deleted), as far as they can be read.
      assert.deepEqual(library.list({ q: 'fine' }).items.map((i) => i.id), [damaged[0]], 'lines before a malformed one');
      assert.deepEqual(library.list({ q: 'reached' }).items.map((i) => i.id), [damaged[0]], 'and after it: the bad line is skipped');
      assert.deepEqual(library.list({ q: 'kept' }).items.map((i) => i.id), [damaged[1]]);
      assert.equal(library.get(damaged[1])?.complete, false, 'cut mid-line');
      assert.equal(library.get(damaged[2])?.user, '');
      assert.equal(library.get(damaged[2])?.integrity, 'unsigned');
    } finally {
      await library.close();
    }
  });
});
