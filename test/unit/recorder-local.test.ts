// The in-process upload (kubecast serve's embedded recorder) has the same ack window as a network
// upload: a disk whose fsync never returns must fail the upload, so fail-closed can end the session.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalUpload, type LocalRecorder } from '../../src/recorder/local';
import { Ingest } from '../../src/recorder/ingest';
import { RecordingStore, type OpenRecording } from '../../src/store/store';
import { newRecordingId } from '../../src/util/ids';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A real store whose cast files' fsync never completes: nothing ever becomes durable. */
class StalledStore extends RecordingStore {
  override async create(startedAt?: Date, id?: string): Promise<OpenRecording> {
    const open = await super.create(startedAt, id);
    const handle = (open.file as unknown as { handle: FileHandle }).handle;
    handle.datasync = () => new Promise<void>(() => {});
    return open;
  }
}

async function recorderOn(store: RecordingStore): Promise<LocalRecorder> {
  return {
    address: 'in-process-test',
    openLocal: async () => ({ ingest: Ingest.fresh(store, newRecordingId()), release: () => {} }),
  };
}

const cast = Buffer.from(['{"version":2,"width":80,"height":24,"timestamp":1700000000}', '[0.1,"o","hello\\r\\n"]', ''].join('\n'));

test('in-process upload whose durable count never advances fails within the ack window', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-local-'));
  dirs.push(dir);
  const upload = await openLocalUpload(await recorderOn(new StalledStore(dir)), { ackTimeoutMs: 400 });
  const failed = new Promise<{ error: Error; at: number }>((resolve) => (upload.onFailure = (error) => resolve({ error, at: Date.now() })));
  const started = Date.now();
  upload.write(cast);
  const { error, at } = await failed;
  assert.match(error.message, /stopped acknowledging/);
  assert.ok(at - started >= 390 && at - started < 700, `failed after ${at - started} ms`);
  assert.equal(upload.acked, 0);
  await assert.rejects(upload.end(), /stopped acknowledging/);
});

test('ending an in-process upload on a stalled disk settles with the failure instead of hanging', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-local-'));
  dirs.push(dir);
  const upload = await openLocalUpload(await recorderOn(new StalledStore(dir)), { ackTimeoutMs: 300 });
  upload.onFailure = () => {};
  upload.write(cast);
  await assert.rejects(upload.end(), /stopped acknowledging/);
});

test('an in-process upload on a working disk outlives the window: acks advance, idle is fine', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-local-'));
  dirs.push(dir);
  const upload = await openLocalUpload(await recorderOn(new RecordingStore(dir)), { ackTimeoutMs: 300 });
  const failures: Error[] = [];
  upload.onFailure = (err) => failures.push(err);
  upload.write(cast);
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(upload.acked, cast.byteLength);
  upload.write(Buffer.from('[0.2,"o","more\\r\\n"]\n'));
  await upload.end();
  assert.deepEqual(failures, []);
});
