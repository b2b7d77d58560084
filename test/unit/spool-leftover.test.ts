// Spool files an earlier proxy run left behind are delivered at start: ended sessions as complete
// recordings, sessions cut by a crash with a marker and left incomplete; the files go once delivered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecorderServer } from '../../src/recorder/server';
import type { IngestOutcome } from '../../src/recorder/ingest';
import { RecordingStore } from '../../src/store/store';
import { deliverLeftoverSpools, type SpoolMeta } from '../../src/proxy/recording';
import { silentLogger } from '../../src/util/log';
import { newRecordingId } from '../../src/util/ids';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const header = '{"version":2,"width":80,"height":24,"timestamp":1700000000}\n';
const events = ['[0.5,"o","one\\r\\n"]\n', '[1.5,"o","two\\r\\n"]\n'].join('');

async function setup(meta: Partial<SpoolMeta>, part: string) {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-leftover-'));
  dirs.push(dir);
  const spoolDir = join(dir, 'spool');
  mkdirSync(spoolDir);
  const id = newRecordingId();
  const full: SpoolMeta = { id, recordingId: null, recorder: 'http://gone', offset: 0, header, ended: true, ...meta };
  writeFileSync(join(spoolDir, `${id}.json`), JSON.stringify(full));
  writeFileSync(join(spoolDir, `${id}.part`), part);
  const outcomes: IngestOutcome[] = [];
  const store = new RecordingStore(join(dir, 'recorder'));
  const server = new RecorderServer({
    host: '127.0.0.1',
    port: 0,
    store,
    token: 'secret',
    observer: { started: () => {}, lines: () => {}, ended: (_id, outcome) => outcomes.push(outcome) },
  });
  const url = await server.start();
  const count = deliverLeftoverSpools({ spoolDir, targets: [{ url, token: 'secret' }], connect: { dialTimeoutMs: 1000 }, log: silentLogger });
  assert.equal(count, 1);
  const deadline = Date.now() + 10_000;
  while (existsSync(join(spoolDir, `${id}.part`)) || existsSync(join(spoolDir, `${id}.json`))) {
    if (Date.now() > deadline) assert.fail('the spool was not delivered');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 100));
  await server.stop();
  return { outcomes, store, id };
}

function onlyCast(store: RecordingStore): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.cast')) found.push(path);
    }
  };
  walk(join(store.dataDir, 'recordings'));
  assert.equal(found.length, 1);
  return readFileSync(found[0], 'utf8');
}

test('a leftover spool of an ended session is delivered as a complete recording and removed', async () => {
  const { outcomes, store } = await setup({ ended: true }, header + events);
  assert.equal(onlyCast(store), header + events);
  assert.deepEqual(outcomes.map((o) => o.complete), [true]);
});

test('a leftover spool of a session cut by a crash: whole lines only, a cut marker, left incomplete', async () => {
  const { outcomes, store } = await setup({ ended: false }, header + events + '[2.5,"o","half a li');
  const text = onlyCast(store);
  assert.ok(text.startsWith(header + events), text);
  const rest = text.slice((header + events).length).trim().split('\n');
  assert.equal(rest.length, 1, text);
  const marker = JSON.parse(rest[0]) as [number, string, string];
  assert.deepEqual(marker.slice(0, 2), [1.5, 'm']);
  assert.match(marker[2], /stopped before the session ended/);
  assert.deepEqual(outcomes.map((o) => o.complete), [false]);
});

test('a leftover spool that continues a recording the recorder lost starts a new one with the header and a note', async () => {
  const { store } = await setup({ ended: true, offset: 1234, recordingId: newRecordingId() }, events);
  const text = onlyCast(store);
  const lines = text.trim().split('\n');
  assert.equal(lines[0] + '\n', header);
  assert.match(lines[1], /"m","kubecast: continues recording/);
  assert.equal(lines.slice(2).join('\n') + '\n', events);
});
