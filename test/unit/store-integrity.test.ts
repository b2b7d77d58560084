import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { CheckpointHasher, checkpointInterval, hashFile, judge, Manifest, PRIVATE_KEY_FILE, SUMS_DIR } from '../../src/store/integrity';
import { scanCastFile } from '../../src/store/cast-scan';

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

  test('checkpoints: prefix digests at line ends, the header first, then about every interval bytes', () => {
    const lines = ['{"version":2,"width":80,"height":24}\n'];
    for (let i = 0; i < 1000; i++) lines.push(JSON.stringify([i / 10, 'o', `line ${i} ${'z'.repeat(i % 97)}`]) + '\n');
    const body = Buffer.from(lines.join(''));
    const interval = checkpointInterval(body.length);
    assert.equal(interval, Math.ceil(body.length / 64));
    assert.equal(checkpointInterval(10), 1, 'every line end of a tiny file');
    assert.equal(checkpointInterval(10 * 1024 ** 3), 1024 * 1024);
    const hasher = new CheckpointHasher(interval);
    // Odd chunk sizes: checkpoints must not depend on where reads split the file.
    for (let i = 0; i < body.length; i += 777) hasher.update(body.subarray(i, i + 777));
    assert.deepEqual(hasher.digest(), { sha256: sha256(body), size: body.length });
    const cps = hasher.checkpoints;
    assert.equal(cps[0].size, lines[0].length, 'the header line is the first checkpoint');
    for (const c of cps) {
      assert.equal(body[c.size - 1], 0x0a, `checkpoint ${c.size} is at a line end`);
      assert.equal(c.sha256, sha256(body.subarray(0, c.size)));
    }
    const gaps = cps.slice(1).map((c, i) => c.size - cps[i].size);
    assert.ok(gaps.every((g) => g >= interval && g < interval + 200), `gaps ${gaps.join(',')} for interval ${interval}`);
    assert.ok(cps.length >= 50 && cps.length <= 66, `${cps.length} checkpoints`);
  });

  test('a sealed file cut at a line boundary is truncated; cut and edited in the kept part it is modified', async () => {
    const dir = await tmp();
    const file = join(dir, 'x.cast');
    const lines = ['{"version":2,"width":80,"height":24}\n'];
    for (let i = 0; i < 200; i++) lines.push(JSON.stringify([i / 10, 'o', `output ${i}\r\n`]) + '\n');
    const body = lines.join('');
    await writeFile(file, body);
    const manifest = await Manifest.open(dir, { create: true });
    const scan = await scanCastFile(file, { checkpoints: true });
    assert.deepEqual(scan.digest, await hashFile(file), 'the sealing pass hashes the whole file as before');
    await manifest.seal({ id: ID, ...scan.digest, complete: true }, new Date(), scan.checkpoints);
    const record = await manifest.lookup(ID);
    assert.match(record.seal?.sums ?? '', /^[0-9a-f]{64}$/, 'the seal signs the checkpoints file digest');
    const check = async () => manifest.judgeFile(ID, file, await hashFile(file), await manifest.lookup(ID));
    assert.equal((await check()).state, 'intact');

    const cutAt = lines.slice(0, 120).join('').length;
    await writeFile(file, body.slice(0, cutAt));
    const cut = await check();
    assert.equal(cut.state, 'truncated', cut.message);
    assert.match(cut.message, /missing/);
    // Cut exactly at a checkpoint: all that is left was checked.
    const exact = scan.checkpoints![scan.checkpoints!.length - 10].size;
    await writeFile(file, body.slice(0, exact));
    const atCheckpoint = await check();
    assert.equal(atCheckpoint.state, 'truncated');
    assert.match(atCheckpoint.message, /exactly the start of the sealed recording/);

    for (const where of [body.indexOf('output 3'), body.indexOf('"height"'), lines.slice(0, 100).join('').length + 12]) {
      const edited = Buffer.from(body.slice(0, cutAt));
      edited[where] ^= 0x01;
      await writeFile(file, edited);
      const result = await check();
      assert.equal(result.state, 'modified', `a byte flipped at ${where} of ${cutAt}: ${result.message}`);
    }

    // The checkpoints file is covered by the signature: edited or gone, a shorter file is not vouched for.
    await writeFile(file, body.slice(0, cutAt));
    const sums = join(dir, SUMS_DIR, `${ID}.sums`);
    const original = await readFile(sums, 'utf8');
    await writeFile(sums, original.replace(/"[0-9a-f]{64}"\]\]/, `"${'0'.repeat(64)}"]]`));
    const forged = await check();
    assert.equal(forged.state, 'modified');
    assert.match(forged.message, /does not match the digest signed/);
    await rm(sums);
    assert.equal((await check()).state, 'modified');
    await writeFile(sums, original);
    assert.equal((await check()).state, 'truncated');
  });

  test('seals made before checkpoints still verify; a shorter file is truncated as before', async () => {
    const dir = await tmp();
    const file = join(dir, 'x.cast');
    const body = '{"version":2,"width":80,"height":24}\n[0.5,"o","hello"]\n[1,"o","world"]\n';
    await writeFile(file, body);
    const manifest = await Manifest.open(dir, { create: true });
    await writeFile(manifest.path, await legacyLine(dir, ID, await hashFile(file)));
    assert.equal((await manifest.judgeFile(ID, file, await hashFile(file), await manifest.lookup(ID))).state, 'intact');
    await writeFile(file, body.slice(0, body.indexOf('[1,')));
    const cut = await manifest.judgeFile(ID, file, await hashFile(file), await manifest.lookup(ID));
    assert.equal(cut.state, 'truncated');
    assert.match(cut.message, /sealed without checkpoints/);
  });

  test('manifest lines are chained: a removed or relinked line shows; old unchained lines and a crash-cut line do not break it', async () => {
    const dir = await tmp();
    const manifest = await Manifest.open(dir, { create: true });
    const [A, B, C, D] = ['a', 'b', 'c', 'd'].map((c) => ID.slice(0, -1) + c);
    const digest = (c: string) => ({ sha256: c.repeat(64), size: 10 });
    // Two lines as an older kubecast wrote them (no `prev`), then new ones.
    await writeFile(manifest.path, (await legacyLine(dir, A, digest('1'))) + (await legacyLine(dir, B, digest('1'))));
    assert.ok((await manifest.lookup(B)).seal, 'old lines verify');
    await manifest.seal({ id: C, ...digest('2'), complete: true });
    // A line cut by a crash, then the next seal.
    await appendFile(manifest.path, '{"id":"' + D.slice(0, 10));
    await manifest.seal({ id: D, ...digest('3'), complete: true });
    const lines = (await readFile(manifest.path, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 5);
    assert.equal(JSON.parse(lines[2]).prev, chainOf(lines.slice(0, 2)), 'the first new line chains over the old ones');
    assert.equal(JSON.parse(lines[4]).prev, chainOf(lines.slice(0, 4)), 'the cut line was ended and chained over');
    for (const id of [A, B, C, D]) {
      const record = await manifest.lookup(id);
      assert.equal(record.manifestProblem, undefined, id);
      assert.ok(record.seal, id);
    }

    // C's line removed: C has no seal, and the chain says why; the others stay intact, with a note.
    await writeFile(manifest.path, [lines[0], lines[1], lines[3], lines[4]].join('\n') + '\n');
    const removed = judge(C, digest('2'), await manifest.lookup(C));
    assert.equal(removed.state, 'modified', removed.message);
    assert.match(removed.message, /seal may have been removed/);
    const other = judge(A, digest('1'), await manifest.lookup(A));
    assert.equal(other.state, 'intact');
    assert.match(other.message, /manifest was edited/);
    assert.match((await manifest.readAll()).get(D)?.manifestProblem ?? '', /line 4 does not follow/);
    // The cut line removed instead: also noticed.
    await writeFile(manifest.path, [lines[0], lines[1], lines[2], lines[4]].join('\n') + '\n');
    assert.match((await manifest.lookup(A)).manifestProblem ?? '', /line 4 does not follow/);

    // Removed, and the next line relinked to hide it: that line's signature no longer holds.
    const relinked = lines[4].replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${chainOf(lines.slice(0, 2))}"`);
    await writeFile(manifest.path, [lines[0], lines[1], relinked].join('\n') + '\n');
    assert.equal(judge(C, digest('2'), await manifest.lookup(C)).state, 'modified');
    assert.match((await manifest.lookup(A)).manifestProblem ?? '', /last chained line \(3\) is not validly signed/);

    // An old manifest (no chained line) with a line removed: not detectable, still "unsigned".
    await writeFile(manifest.path, lines[0] + '\n');
    assert.equal(judge(B, digest('1'), await manifest.lookup(B)).state, 'unsigned');
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

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The manifest chain over these lines (integrity.ts: chain(n) = SHA-256(chain(n-1) "\\n" line n)). */
function chainOf(lines: string[]): string {
  return lines.reduce((chain, line) => createHash('sha256').update(`${chain}\n${line}`).digest('hex'), '0'.repeat(64));
}

/** A seal line in the form kubecast wrote before `sums` and `prev`, signed with the folder's key. */
async function legacyLine(dir: string, id: string, digest: { sha256: string; size: number }): Promise<string> {
  const key = createPrivateKey(await readFile(join(dir, PRIVATE_KEY_FILE), 'utf8'));
  const kid = createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  const text = JSON.stringify({ id, sha256: digest.sha256, size: digest.size, time: '2026-01-01T00:00:00.000Z', complete: true, kid });
  return text.slice(0, -1) + `,"sig":${JSON.stringify(sign(null, Buffer.from(text), key).toString('base64'))}}\n`;
}
