import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFile, judge, Manifest, PRIVATE_KEY_FILE } from '../../src/store/integrity';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tmp() {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-integrity-'));
  dirs.push(dir);
  return dir;
}
const ID = '0b6f0f8e-6a4e-4c1e-9a57-2a7f1f5b9c01';

describe('integrity: signed manifest and verification', () => {
  test('the key is created private (0600), seals verify, and the latest seal wins', async () => {
    const dir = await tmp();
    const manifest = await Manifest.open(dir, { create: true });
    assert.equal((await stat(join(dir, PRIVATE_KEY_FILE))).mode & 0o777, 0o600);
    await manifest.seal({ id: ID, sha256: 'a'.repeat(64), size: 10, complete: false });
    await manifest.seal({ id: ID, sha256: 'b'.repeat(64), size: 20, complete: true });
    const record = await manifest.lookup(ID);
    assert.equal(record.seal?.sha256, 'b'.repeat(64));
    assert.equal(record.seal?.complete, true);
    assert.equal(record.badSignatures, 0);
    // A reader (no create) verifies with the same key.
    const reader = await Manifest.open(dir, { create: false });
    assert.equal((await reader.lookup(ID)).seal?.size, 20);
  });

  test('an edited or forged manifest line does not verify', async () => {
    const dir = await tmp();
    const manifest = await Manifest.open(dir, { create: true });
    await manifest.seal({ id: ID, sha256: 'a'.repeat(64), size: 10, complete: true });
    const text = await readFile(manifest.path, 'utf8');
    await writeFile(manifest.path, text.replace('"size":10', '"size":11'));
    const record = await manifest.lookup(ID);
    assert.equal(record.seal, undefined);
    assert.equal(record.badSignatures, 1);
    assert.equal(judge(ID, { sha256: 'a'.repeat(64), size: 11 }, record).state, 'modified');
    // Lines signed by another data folder's key are not trusted either.
    const other = await Manifest.open(await tmp(), { create: true });
    await other.seal({ id: ID, sha256: 'c'.repeat(64), size: 5, complete: true });
    await appendFile(manifest.path, await readFile(other.path, 'utf8'));
    assert.equal((await manifest.lookup(ID)).seal, undefined);
  });

  test('judge: intact, modified (same size, longer), truncated (shorter, strict prefix), unsigned', async () => {
    const dir = await tmp();
    const file = join(dir, 'x.cast');
    const body = '{"version":2,"width":80,"height":24}\n[0.5,"o","hello"]\n[1,"o","world"]\n';
    await writeFile(file, body);
    const sealed = await hashFile(file);
    const record = { seal: { id: ID, ...sealed, time: new Date().toISOString(), complete: true }, badSignatures: 0 };
    assert.equal(judge(ID, sealed, record).state, 'intact');
    await writeFile(file, body.replace('hello', 'hellp'));
    assert.equal(judge(ID, await hashFile(file), record).state, 'modified');
    await writeFile(file, body + '[2,"o","more"]\n');
    assert.equal(judge(ID, await hashFile(file), record).state, 'modified');
    // Cut at a line boundary: still a valid cast, and still reported.
    await writeFile(file, body.slice(0, body.indexOf('[1,')));
    const cut = judge(ID, await hashFile(file), record);
    assert.equal(cut.state, 'truncated');
    assert.match(cut.message, /missing/);
    assert.equal(judge(ID, sealed, { badSignatures: 0 }).state, 'unsigned');
    assert.equal(judge(ID, sealed, { badSignatures: 0, deleted: { id: ID, deleted: true, time: 't', reason: 'retention' } }).state, 'unsigned');
  });

  test('deletion notes are signed and reported', async () => {
    const dir = await tmp();
    const manifest = await Manifest.open(dir, { create: true });
    await manifest.seal({ id: ID, sha256: 'a'.repeat(64), size: 10, complete: true });
    await manifest.noteDeleted(ID, 'retention');
    const record = await manifest.lookup(ID);
    assert.equal(record.deleted?.reason, 'retention');
    assert.equal(record.seal?.size, 10, 'the seal stays: a kept copy can still be verified');
  });

  test('a folder without keys verifies nothing and signs nothing', async () => {
    const manifest = await Manifest.open(await tmp(), { create: false });
    assert.equal(manifest.canVerify, false);
    await assert.rejects(manifest.seal({ id: ID, sha256: 'a', size: 1, complete: true }));
  });
});
