import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CastFile, SYNC_BYTES } from '../../src/store/cast-file';

test('appends in order, reports durable bytes monotonically, and flush makes everything durable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-castfile-'));
  try {
    const file = await CastFile.create(join(dir, 'a.cast'));
    const durable: number[] = [];
    file.onDurable = (n) => durable.push(n);
    const lines: Buffer[] = [];
    for (let i = 0; i < 4000; i++) {
      const line = Buffer.from(`[${i},"o","${'x'.repeat(i % 1000)}"]\n`);
      lines.push(line);
      file.append(line);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await file.flush();
    assert.equal(file.durable, file.size);
    assert.deepEqual(durable, [...durable].sort((a, b) => a - b), 'never goes back');
    assert.ok(durable.length >= Math.floor(file.size / SYNC_BYTES) / 2, 'synced in batches while writing');
    await file.close();
    assert.deepEqual(await readFile(join(dir, 'a.cast')), Buffer.concat(lines));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('reopen cuts a partial last line and appends after the whole ones', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-castfile-'));
  try {
    const path = join(dir, 'b.cast');
    const first = await CastFile.create(path);
    first.append(Buffer.from('{"version":2}\n[1,"o","a"]\n'));
    await first.close();
    await appendFile(path, '[2,"o","cut sho');
    const again = await CastFile.reopen(path);
    assert.equal(again.size, '{"version":2}\n[1,"o","a"]\n'.length);
    again.append(Buffer.from('[3,"o","b"]\n'));
    await again.close();
    assert.equal(await readFile(path, 'utf8'), '{"version":2}\n[1,"o","a"]\n[3,"o","b"]\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
