// The fsync batching bound the recorder's acks rest on: what is reported durable was covered by a
// completed sync, a sync follows a write within SYNC_INTERVAL_MS, and sooner once SYNC_BYTES wait.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CastFile, SYNC_BYTES, SYNC_INTERVAL_MS } from '../../src/store/cast-file';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A real cast file whose syncs are observed: when each started, what it covered, when it ended. */
async function observedFile() {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-sync-'));
  dirs.push(dir);
  const file = await CastFile.create(join(dir, 'x.cast'));
  const internals = file as unknown as { handle: FileHandle; writePosition: number };
  const real = internals.handle.datasync.bind(internals.handle);
  const syncs: Array<{ startedAt: number; covers: number; backlog: number }> = [];
  let synced = 0;
  internals.handle.datasync = async () => {
    // A sync covers what was written before it started.
    const covers = internals.writePosition;
    syncs.push({ startedAt: performance.now(), covers, backlog: covers - file.durable });
    await real();
    synced = Math.max(synced, covers);
  };
  const durable: Array<{ at: number; value: number }> = [];
  const overstated: number[] = [];
  file.onDurable = (value) => {
    if (value > synced) overstated.push(value - synced);
    durable.push({ at: performance.now(), value });
  };
  return { file, syncs, durable, overstated };
}

test(`every appended byte is reported durable within ${SYNC_INTERVAL_MS} ms (+ slack), and never before a sync covered it`, async () => {
  const { file, durable, overstated } = await observedFile();
  const appends: Array<{ at: number; end: number }> = [];
  for (let i = 0; i < 30; i++) {
    file.append(Buffer.from(JSON.stringify([i / 10, 'o', `line ${i}\r\n`]) + '\n'));
    appends.push({ at: performance.now(), end: file.size });
    await new Promise((r) => setTimeout(r, 30));
  }
  await file.flush();
  await file.close();
  assert.deepEqual(overstated, [], 'durable never exceeded what a completed sync covered');
  for (const append of appends) {
    const covered = durable.find((d) => d.value >= append.end);
    assert.ok(covered, `bytes up to ${append.end} became durable`);
    const delay = covered.at - append.at;
    assert.ok(delay <= SYNC_INTERVAL_MS + 100, `bytes up to ${append.end} became durable ${delay.toFixed(0)} ms after they were appended`);
  }
});

test(`once ${SYNC_BYTES} bytes wait, a sync starts without waiting for the interval`, async () => {
  const { file, syncs, overstated } = await observedFile();
  const line = Buffer.from(JSON.stringify([0, 'o', 'z'.repeat(64 * 1024)]) + '\n');
  const burstAt = performance.now();
  for (let written = 0; written < 3 * SYNC_BYTES; written += line.byteLength) file.append(line);
  await new Promise((r) => setTimeout(r, 20));
  await file.flush();
  const first = syncs[0];
  assert.ok(first, 'a sync ran');
  assert.ok(first.backlog >= SYNC_BYTES, `the first sync covered the burst (${first.backlog} bytes)`);
  assert.ok(first.startedAt - burstAt < SYNC_INTERVAL_MS * 0.6, `the first sync started ${(first.startedAt - burstAt).toFixed(0)} ms after the burst`);
  assert.equal(file.durable, file.size);
  assert.deepEqual(overstated, []);
  await file.close();
});
