// The console API contract of DESIGN.md ("Console API") over HTTP, with real sessions behind it:
// the Session fields of /api/live and /api/recordings/ID, pagination, Range on the cast, no-store,
// and the list filters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { consoleRequest } from '../helpers/console-client';
import { withServe } from '../helpers/serve-fixture';
import { connectRecorder } from '../../src/recorder/client';
import { header, waitFor } from '../unit/live-fixtures';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

/** The fields DESIGN.md says every Session and Recording carries. */
const SESSION_FIELDS = [
  'id', 'startedAt', 'endedAt', 'user', 'cluster', 'namespace', 'pod', 'container', 'command',
  'sessionType', 'protocol', 'tty', 'cols', 'rows', 'exitCode', 'bytes', 'complete',
] as const;

type Item = Record<(typeof SESSION_FIELDS)[number], unknown> & { integrity?: string; searchIndex?: string; live?: boolean };
interface Listing {
  items: Item[];
  next: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isoWithin(value: unknown, from: number, to: number, what: string): number {
  assert.equal(typeof value, 'string', `${what} is a string`);
  const ms = Date.parse(value as string);
  assert.ok(new Date(ms).toISOString() === value, `${what} is ISO 8601: ${String(value)}`);
  assert.ok(ms >= from - 1000 && ms <= to + 1000, `${what} ${String(value)} within the test's run`);
  return ms;
}

/** Sealed and search-indexed: the listing no longer changes under the test. */
const settled = (item: Item) => item.complete === true && item.integrity !== 'pending' && item.searchIndex === 'done';

describe('console API contract', () => {
  test('a live TTY session and its recording carry every Session field of DESIGN.md, with the right values', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const t0 = Date.now();
      const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 91, rows: 23 });
      let live: Item;
      try {
        await term.waitForText(/[$#] $/m);
        term.type('echo contract-output\r');
        await term.waitForText(/^contract-output/m);
        // Output reaches kubectl once handed to the recorder; the hub lists the session once the
        // recorder has created its file, which can be a moment later on a busy machine.
        let answer = await consoleRequest(consoleUrl, '/api/live');
        for (let i = 0; i < 50 && answer.json<{ items: Item[] }>().items.length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          answer = await consoleRequest(consoleUrl, '/api/live');
        }
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['cache-control'], 'no-store');
        const { items } = answer.json<{ items: Item[] }>();
        assert.equal(items.length, 1, 'the session is listed within a second');
        live = items[0];
        for (const field of SESSION_FIELDS) assert.ok(field in live, `/api/live item has ${field}: ${JSON.stringify(live)}`);
        assert.match(String(live.id), UUID);
        isoWithin(live.startedAt, t0, Date.now(), 'startedAt');
        assert.equal(live.endedAt, null);
        // The user behind DATA/kubeconfig's token: the OS user running kubecast.
        assert.equal(live.user, userInfo().username);
        assert.equal(live.cluster, 'local');
        assert.equal(live.namespace, 'default');
        assert.equal(live.pod, 'shell');
        assert.equal(live.container, 'shell');
        assert.equal(live.command, 'sh');
        assert.equal(live.sessionType, 'exec');
        assert.equal(live.protocol, 'websocket');
        assert.equal(live.tty, true);
        assert.equal(live.cols, 91);
        assert.equal(live.rows, 23);
        assert.equal(live.exitCode, null);
        assert.ok(typeof live.bytes === 'number' && live.bytes > 100, `bytes ${String(live.bytes)}`);
        assert.equal(live.complete, false);
        term.resize(100, 30);
        await waitFor('the resize in /api/live', async () => {
          const now = (await consoleRequest(consoleUrl, '/api/live')).json<{ items: Item[] }>().items[0];
          return now?.cols === 100 && now.rows === 30 ? now : undefined;
        });
        term.type('exit 7\r');
        assert.equal((await term.waitForExit()).exitCode, 7);
      } finally {
        term.dispose();
      }
      const id = String(live.id);
      const recording = await waitFor('the sealed recording', async () => {
        const answer = await consoleRequest(consoleUrl, `/api/recordings/${id}`);
        if (answer.status !== 200) return undefined;
        assert.equal(answer.headers['cache-control'], 'no-store');
        const item = answer.json<Item>();
        return settled(item) ? item : undefined;
      });
      for (const field of SESSION_FIELDS) assert.ok(field in recording, `recording has ${field}: ${JSON.stringify(recording)}`);
      assert.equal(recording.id, id);
      assert.equal(recording.startedAt, live.startedAt, 'the same start as while live');
      const ended = isoWithin(recording.endedAt, t0, Date.now(), 'endedAt');
      assert.ok(ended >= Date.parse(String(recording.startedAt)), 'ends after it starts');
      for (const field of ['user', 'cluster', 'namespace', 'pod', 'container', 'command', 'sessionType', 'protocol', 'tty'] as const) {
        assert.deepEqual(recording[field], live[field], `${field} as while live`);
      }
      assert.equal(recording.cols, 100, 'the last size');
      assert.equal(recording.rows, 30);
      assert.equal(recording.exitCode, 7);
      assert.equal(recording.complete, true);
      assert.equal(recording.live, false);
      const [path] = fx.recordings();
      assert.equal(recording.bytes, statSync(path).size, 'bytes is the size of the cast file');
      assert.deepEqual((await consoleRequest(consoleUrl, '/api/live')).json(), { items: [] }, 'no longer live');
    });
  });

  test('pagination, Range on the cast, no-store on every answer, and the user/namespace/pod/from/to filters', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const kubectl = fx.kubectl(profile);
      // Two sessions through kubectl (pods shell and web-0), and one uploaded straight to serve's
      // recorder the way a remote proxy does, for another user and namespace.
      const t0 = Date.now();
      assert.equal((await kubectl.run(['exec', 'shell', '--', 'echo', 'first'])).code, 0);
      await waitFor('the first recording', async () => ((await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>().items.length === 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 50));
      const t1 = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await kubectl.run(['exec', 'web-0', '--', 'echo', 'second'])).code, 0);
      const token = readFileSync(join(fx.dataDir, 'recorder.token'), 'utf8').trim();
      const upload = await connectRecorder([{ url: fx.handle.urls.recorder!, token }]);
      const remoteId = upload.recordingId!;
      const remoteHeader = header({ id: remoteId, width: 80, height: 24 });
      Object.assign(remoteHeader, { timestamp: Math.floor(Date.now() / 1000), kubernetes: { PodName: 'db-0', Namespace: 'ops', Container: 'pg', SessionType: 'exec' } });
      Object.assign(remoteHeader.kubecast as object, { user: 'bob@example.com', startedAt: new Date().toISOString() });
      upload.write(Buffer.from(JSON.stringify(remoteHeader) + '\n' + JSON.stringify([0.1, 'o', 'remote\r\n']) + '\n' + JSON.stringify([0.2, 'x', '0']) + '\n'));
      await upload.end();

      const all = await waitFor('three settled recordings', async () => {
        const body = (await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>();
        return body.items.length === 3 && body.items.every(settled) ? body : undefined;
      });
      assert.equal(all.next, null);
      const byPod = new Map(all.items.map((item) => [item.pod, item]));
      const [first, second, remote] = [byPod.get('shell')!, byPod.get('web-0')!, byPod.get('db-0')!];
      assert.ok(first && second && remote, JSON.stringify(all.items.map((i) => i.pod)));
      assert.equal(remote.id, remoteId);
      assert.equal(remote.user, 'bob@example.com');
      assert.equal(remote.namespace, 'ops');

      // Pages of one, following `next` to the end: every recording once, in the listing's order.
      const paged: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const answer = await consoleRequest(consoleUrl, `/api/recordings?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['cache-control'], 'no-store');
        const body = answer.json<Listing>();
        assert.equal(body.items.length, 1, `page ${page}`);
        paged.push(String(body.items[0].id));
        cursor = body.next;
        if (cursor === null) break;
      }
      assert.equal(cursor, null, 'the last page says there is no next');
      assert.deepEqual(paged, all.items.map((i) => i.id));

      // Range: the first 10 bytes, 206; past the end, 416; the whole file without Range.
      const id = String(first.id);
      const whole = await consoleRequest(consoleUrl, `/api/recordings/${id}/cast`);
      assert.equal(whole.status, 200);
      assert.equal(whole.headers['cache-control'], 'no-store');
      const size = Buffer.byteLength(whole.body);
      assert.equal(size, first.bytes);
      const part = await consoleRequest(consoleUrl, `/api/recordings/${id}/cast`, { headers: { range: 'bytes=0-9' } });
      assert.equal(part.status, 206);
      assert.equal(part.body, whole.body.slice(0, 10));
      assert.equal(part.headers['content-range'], `bytes 0-9/${size}`);
      assert.equal(part.headers['content-length'], '10');
      assert.equal(part.headers['cache-control'], 'no-store');
      const unsatisfiable = await consoleRequest(consoleUrl, `/api/recordings/${id}/cast`, { headers: { range: `bytes=${size + 100}-${size + 200}` } });
      assert.equal(unsatisfiable.status, 416);
      assert.equal(unsatisfiable.headers['content-range'], `bytes */${size}`);
      assert.equal(unsatisfiable.headers['cache-control'], 'no-store');

      // no-store on the transcript and on error answers too.
      const text = await consoleRequest(consoleUrl, `/api/recordings/${id}/text`);
      assert.equal(text.status, 200);
      assert.match(text.body, /first/);
      assert.equal(text.headers['cache-control'], 'no-store');
      for (const [path, status] of [
        ['/api/recordings/00000000-0000-4000-8000-000000000000', 404],
        ['/api/recordings/00000000-0000-4000-8000-000000000000/cast', 404],
        ['/api/recordings/not-a-uuid', 400],
        ['/api/recordings?from=yesterday', 400],
        ['/api/nothing-here', 404],
      ] as const) {
        const answer = await consoleRequest(consoleUrl, path);
        assert.equal(answer.status, status, path);
        assert.equal(answer.headers['cache-control'], 'no-store', `${path} (${answer.status})`);
      }
      const unauthorized = await consoleRequest(consoleUrl, '/api/recordings', { token: null });
      assert.equal(unauthorized.status, 401);
      assert.equal(unauthorized.headers['cache-control'], 'no-store');

      // Filters narrow the listing.
      const ids = async (query: string) => {
        const answer = await consoleRequest(consoleUrl, `/api/recordings?${query}`);
        assert.equal(answer.status, 200, query);
        return answer.json<Listing>().items.map((i) => String(i.id)).sort();
      };
      const sorted = (...items: Item[]) => items.map((i) => String(i.id)).sort();
      assert.deepEqual(await ids('user=bob%40example.com'), sorted(remote));
      assert.deepEqual(await ids(`user=${encodeURIComponent(String(first.user))}`), sorted(first, second));
      assert.deepEqual(await ids('namespace=ops'), sorted(remote));
      assert.deepEqual(await ids('namespace=default'), sorted(first, second));
      assert.deepEqual(await ids('pod=web-0'), sorted(second));
      assert.deepEqual(await ids('namespace=default&pod=db-0'), []);
      assert.deepEqual(await ids(`to=${encodeURIComponent(new Date(t1).toISOString())}`), sorted(first));
      assert.deepEqual(await ids(`from=${encodeURIComponent(new Date(t1).toISOString())}`), sorted(second, remote));
      assert.deepEqual(await ids(`from=${encodeURIComponent(new Date(t0 - 60_000).toISOString())}&to=${encodeURIComponent(new Date(t0 - 1000).toISOString())}`), []);
      assert.deepEqual(await ids(`from=${encodeURIComponent(new Date(t1).toISOString())}&user=bob%40example.com&limit=1`), sorted(remote));
    });
  });
});
