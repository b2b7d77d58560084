// Seek indexes of long recordings through the console API: built for recordings found on disk
// (the library's rebuild) and for uploads when they end, served as asciinema-player's segmented
// format, search hits as markers, rebuilt when missing or stale, deleted with the recording, and
// every request checked (token, ids, segment numbers) before anything touches the disk.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { parseCast } from '../../src/cast';
import { ConsoleServer } from '../../src/console/server';
import type { ConsoleStatus } from '../../src/console/types';
import { LiveHub } from '../../src/live/hub';
import { Library } from '../../src/store/library';
import { seekPathFor, type PlayerIndex } from '../../src/store/seek-index';
import { consoleRequest } from '../helpers/console-client';
import { tempDir } from '../helpers/kubecast';
import { ingestRecording, writeRecording, type Ev } from '../helpers/recordings';
import { ttyEvents } from '../helpers/tty-content';

const SEEK = { thresholdBytes: 256 * 1024, keyframeBytes: 32 * 1024, share: 1 };
const NEEDLE = 'seek-needle-4711';

interface Segment {
  snapshot: { cols: number; rows: number; init: string };
  events: Array<[number, string, string]>;
}

/** A long session with a word in the middle and a marker. */
function longSession(seed: number): Ev[] {
  const first = ttyEvents({ seed, bytes: 300_000 });
  const at = first[first.length - 1][0];
  const second = ttyEvents({ seed: seed + 100, bytes: 300_000 }).map(([t, code, data]): Ev => [t + at + 1, code, data]);
  return [...first, [at + 0.5, 'o', `\r\n\x1b[2K${NEEDLE}\r\n`], [at + 0.6, 'm', 'half way'], ...second, [second[second.length - 1][0] + 1, 'x', '0']];
}

let data: { path: string; cleanup(): void };
let library: Library;
let server: ConsoleServer;
let consoleUrl: string;
let big: { id: string; path: string; text: string };
let small: { id: string; path: string };

async function openConsole(): Promise<void> {
  library = await Library.open(data.path, { seekIndex: SEEK });
  const status = {} as ConsoleStatus;
  const rendererDir = join(data.path, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  server = new ConsoleServer({
    host: '127.0.0.1',
    port: 0,
    token: 'seek-test-token',
    rendererDir,
    backend: {
      library,
      live: new LiveHub(),
      metrics: new Registry(),
      status: () => status,
      settings: () => ({ upstream: 'local', recorders: [], policy: 'fail-closed', recordStdin: false, retainDays: null, dataDir: data.path }),
      applySettings: async () => ({ applied: false, restartRequired: false }),
      contexts: async () => [],
    },
  });
  await server.start();
  consoleUrl = server.urlWithToken;
}

async function closeConsole(): Promise<void> {
  await server?.stop();
  await library?.close();
}

async function getIndex(id: string, query = ''): Promise<{ status: number; index?: PlayerIndex; body: string }> {
  const answer = await consoleRequest(consoleUrl, `/api/recordings/${id}/index${query}`);
  return { status: answer.status, body: answer.body, index: answer.status === 200 ? answer.json<PlayerIndex>() : undefined };
}

before(async () => {
  data = tempDir('seek');
  big = await writeRecording(data.path, { events: longSession(1), cols: 100, rows: 30, startedAt: new Date('2026-03-01T10:00:00Z') });
  small = await writeRecording(data.path, { events: [[0.5, 'o', 'hello\r\n'], [1, 'x', '0']], startedAt: new Date('2026-03-01T11:00:00Z') });
  await openConsole();
  // The rebuild found both files; the big one's seek index and search lines are built in the background.
  await library.settled();
});

after(async () => {
  await closeConsole();
  data?.cleanup();
});

describe('seek index through the console API', () => {
  test('a long recording found on disk is indexed and served as asciinema-player segments that replay every event', async () => {
    assert.ok(existsSync(seekPathFor(big.path)), 'ID.seek beside ID.cast');
    const { status, index } = await getIndex(big.id);
    assert.equal(status, 200);
    assert.ok(index);
    assert.equal(index.version, 1);
    assert.deepEqual(index.term, { cols: 100, rows: 30 });
    assert.ok(index.segments.length >= 10, `${index.segments.length} segments`);
    index.segments.forEach((s, n) => assert.equal(s.url, `segments/${n}`));
    assert.deepEqual(index.markers.map(([, label]) => label), ['half way']);
    assert.equal(index.kubecast.exitCode, 0);
    assert.ok(index.kubecast.activity.volume.length > 0);

    const events: Array<[number, string, string]> = [];
    for (let n = 0; n < index.segments.length; n++) {
      const answer = await consoleRequest(consoleUrl, `/api/recordings/${big.id}/segments/${n}`);
      assert.equal(answer.status, 200, answer.body);
      assert.match(String(answer.headers['content-type']), /application\/json/);
      assert.equal(answer.headers['cache-control'], 'no-store');
      const segment = answer.json<Segment>();
      assert.ok(segment.snapshot.cols > 0 && segment.snapshot.rows > 0);
      if (n > 0) {
        assert.equal(segment.events[0][0], index.segments[n].start, `segment ${n} starts with its first event`);
        assert.ok(segment.snapshot.init.length > 0, `segment ${n} has a keyframe`);
      }
      events.push(...segment.events);
    }
    const expected = parseCast(big.text).events.filter((e) => e.code === 'o' || e.code === 'r').map((e) => [e.time, e.code, e.data]);
    assert.deepEqual(events, expected, 'the segments hold every output and resize exactly once, input never');
    assert.equal(index.duration, expected[expected.length - 1][0]);
  });

  test('with q, search hits become player markers', async () => {
    const { index } = await getIndex(big.id, `?q=${NEEDLE}`);
    assert.ok(index);
    const hit = index.markers.find(([, label]) => label === NEEDLE);
    assert.ok(hit, `markers: ${JSON.stringify(index.markers)}`);
    const cast = parseCast(big.text);
    const printed = cast.events.find((e) => e.code === 'o' && e.data.includes(NEEDLE))!;
    assert.ok(Math.abs(hit[0] - printed.time) < 0.01, `hit at ${hit[0]}, printed at ${printed.time}`);
    assert.deepEqual(index.kubecast.markers.map(([, label]) => label), ['half way'], 'the recording’s own markers are listed apart');
  });

  test('requests are checked before anything touches the disk', async () => {
    assert.equal((await getIndex(small.id)).status, 404, 'a small recording has no index (it loads whole)');
    assert.equal((await getIndex('00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await getIndex('not-a-recording')).status, 400);
    for (const segment of ['abc', '-1', '1.5', '99999', '1234567', '%31', '1e3', '']) {
      const answer = await consoleRequest(consoleUrl, `/api/recordings/${big.id}/segments/${segment}`);
      assert.ok(answer.status === 404 || answer.status === 400, `segments/${segment}: ${answer.status}`);
      assert.doesNotMatch(answer.body, /snapshot/);
    }
    for (const path of [`/api/recordings/${big.id}/segments/..%2f..%2fkubeconfig`, `/api/recordings/${big.id}/segments/../../cast`, `/api/recordings/..%2f/segments/0`]) {
      const answer = await consoleRequest(consoleUrl, path);
      assert.ok(answer.status === 400 || answer.status === 404, `${path}: ${answer.status}`);
    }
    assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${big.id}/index`, { token: null })).status, 401);
    assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${big.id}/segments/0`, { token: 'wrong' })).status, 401);
    assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${big.id}/index`, { method: 'POST' })).status, 404);
  });

  test('a missing or stale index is rebuilt on request; a restart builds missing ones', async () => {
    rmSync(seekPathFor(big.path));
    const first = await getIndex(big.id);
    assert.equal(first.status, 202, 'being built');
    assert.deepEqual(JSON.parse(first.body), { state: 'building' });
    await library.settled();
    assert.equal((await getIndex(big.id)).status, 200, 'rebuilt lazily');

    rmSync(seekPathFor(big.path));
    await closeConsole();
    await openConsole();
    await library.settled();
    assert.ok(existsSync(seekPathFor(big.path)), 'rebuilt when the library opened');
    assert.equal((await getIndex(big.id)).status, 200);

    // A cast changed behind the library's back is re-read at the next start, its index rebuilt.
    appendFileSync(big.path, JSON.stringify([99_999, 'o', 'appended later\r\n']) + '\n');
    assert.notEqual((await getIndex(big.id)).status, 200, 'the old index does not describe the new file');
    await closeConsole();
    await openConsole();
    await library.settled();
    const { index } = await getIndex(big.id);
    assert.ok(index);
    assert.equal(index.duration, 99_999);
  });

  test('an upload gets its index when it ends; until then the API says it is live', async () => {
    const { id, ingest } = await ingestRecording(data.path, library, { events: longSession(7), startedAt: new Date('2026-03-02T10:00:00Z') }, { chunk: 64 * 1024, end: false });
    assert.equal((await getIndex(id)).status, 409);
    await ingest.finish();
    await library.settled();
    const { status, index } = await getIndex(id);
    assert.equal(status, 200);
    assert.ok(index && index.segments.length >= 10);
  });

  test('retention deletes old recordings with their indexes', async () => {
    const { id, path } = await writeRecording(data.path, { events: longSession(9), startedAt: new Date('2026-01-05T10:00:00Z') });
    await closeConsole();
    await openConsole();
    await library.settled();
    assert.equal((await getIndex(id)).status, 200);
    assert.equal(await library.purgeOlderThan(new Date('2026-02-01T00:00:00Z')), 1);
    assert.equal(existsSync(seekPathFor(path)), false);
    assert.equal(existsSync(dirname(path)), false, 'the day folder is gone with its last recording');
  });

  test('deleting a recording deletes its index (nothing left in its folder)', async () => {
    const day = dirname(big.path);
    const answer = await consoleRequest(consoleUrl, `/api/recordings/${big.id}`, { method: 'DELETE' });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(existsSync(seekPathFor(big.path)), false);
    assert.ok(!existsSync(day) || readdirSync(day).every((name) => !name.startsWith(big.id)), 'no file of the recording is left');
    assert.equal((await getIndex(big.id)).status, 404);
  });
});
