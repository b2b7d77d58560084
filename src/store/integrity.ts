// Integrity of closed recordings: the SHA-256 of each file, recorded when it closes as a line of
// DATA/manifest.jsonl signed with an Ed25519 key kept in DATA/keys (0600). `verify` recomputes the
// digest and compares it with the latest entry for that recording whose signature holds.
// The index keeps a copy of the digest for listing, but only the signed manifest is trusted.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const MANIFEST_FILE = 'manifest.jsonl';
export const PRIVATE_KEY_FILE = join('keys', 'manifest-ed25519.pem');
export const PUBLIC_KEY_FILE = join('keys', 'manifest-ed25519.pub.pem');
/** Manifest lines are short; anything longer was not written by us and is skipped. */
const MAX_MANIFEST_LINE = 4096;

export type IntegrityState = 'intact' | 'modified' | 'truncated' | 'unsigned' | 'in-progress';

export interface VerifyResult {
  state: IntegrityState;
  id?: string;
  /** SHA-256 (hex) of the file as it is now. */
  digest?: string;
  /** Digest the signed manifest holds. */
  expectedDigest?: string;
  size?: number;
  expectedSize?: number;
  /** When the manifest entry was signed (ISO). */
  sealedAt?: string;
  message: string;
}

/** A signed statement that recording `id` closed with this digest and size. */
export interface SealEntry {
  id: string;
  sha256: string;
  size: number;
  /** ISO time of signing. */
  time: string;
  /** Whether the upload ended normally (false: cut off; what was kept is what is sealed). */
  complete: boolean;
}

/** A signed note that recording `id` was deleted (by a person through the API, or by retention). */
export interface DeleteEntry {
  id: string;
  deleted: true;
  time: string;
  reason: string;
}

export interface ManifestRecord {
  /** The latest seal whose signature holds. */
  seal?: SealEntry;
  /** The latest deletion note whose signature holds, when it is newer than the seal. */
  deleted?: DeleteEntry;
  /** Entries for this id whose signature does not hold (edited or forged lines). */
  badSignatures: number;
}

export interface FileDigest {
  sha256: string;
  size: number;
}

/** SHA-256 of a file, streamed (recordings can be gigabytes). */
export async function hashFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}

/** The exact bytes signed for an entry: fixed key order, so the verifier rebuilds the same text. */
function payload(entry: SealEntry | DeleteEntry, keyId: string): string {
  if ('deleted' in entry) return JSON.stringify({ id: entry.id, deleted: true, time: entry.time, reason: entry.reason, kid: keyId });
  return JSON.stringify({ id: entry.id, sha256: entry.sha256, size: entry.size, time: entry.time, complete: entry.complete, kid: keyId });
}

/** First 16 hex digits of the SHA-256 of the public key (DER): names the key an entry was signed with. */
function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export class Manifest {
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dataDir: string,
    private readonly privateKey: KeyObject | undefined,
    private readonly publicKey: KeyObject | undefined,
  ) {}

  /**
   * Loads the key pair; `create` makes one when there is none (the serving process). Without
   * `create` a missing key means nothing can be verified (every recording is "unsigned").
   */
  static async open(dataDir: string, options: { create: boolean }): Promise<Manifest> {
    const privatePath = join(dataDir, PRIVATE_KEY_FILE);
    const publicPath = join(dataDir, PUBLIC_KEY_FILE);
    let privatePem = await readFile(privatePath, 'utf8').catch(() => undefined);
    if (privatePem === undefined && options.create) {
      await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
      const pair = generateKeyPairSync('ed25519');
      const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      try {
        // 'wx': two processes starting at once must not both write a key; the loser reads the winner's.
        await writeFile(privatePath, pem, { mode: 0o600, flag: 'wx' });
        await writeFile(publicPath, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o644 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      privatePem = await readFile(privatePath, 'utf8');
    }
    if (privatePem !== undefined) {
      await chmod(privatePath, 0o600).catch(() => {});
      const privateKey = createPrivateKey(privatePem);
      // The public key is derived from the private one when we can read it, so a swapped
      // .pub file cannot make forged entries verify.
      return new Manifest(dataDir, privateKey, createPublicKey(privateKey));
    }
    const publicPem = await readFile(publicPath, 'utf8').catch(() => undefined);
    return new Manifest(dataDir, undefined, publicPem ? createPublicKey(publicPem) : undefined);
  }

  get path(): string {
    return join(this.dataDir, MANIFEST_FILE);
  }

  get canSign(): boolean {
    return this.privateKey !== undefined;
  }

  get canVerify(): boolean {
    return this.publicKey !== undefined;
  }

  /** Appends a signed seal for a closed recording. */
  seal(entry: Omit<SealEntry, 'time'>, time = new Date()): Promise<SealEntry> {
    const full: SealEntry = { ...entry, time: time.toISOString() };
    return this.append(full).then(() => full);
  }

  /** Appends a signed deletion note. */
  noteDeleted(id: string, reason: string, time = new Date()): Promise<void> {
    return this.append({ id, deleted: true, time: time.toISOString(), reason: reason.slice(0, 200) });
  }

  private append(entry: SealEntry | DeleteEntry): Promise<void> {
    const privateKey = this.privateKey;
    const publicKey = this.publicKey;
    if (!privateKey || !publicKey) return Promise.reject(new Error('no manifest signing key in this data folder'));
    const kid = keyIdOf(publicKey);
    const text = payload(entry, kid);
    const sig = sign(null, Buffer.from(text), privateKey).toString('base64');
    const line = text.slice(0, -1) + `,"sig":${JSON.stringify(sig)}}\n`;
    // One append at a time, each synced: the manifest is the evidence, it must not lose lines.
    const next = this.appending.then(async () => {
      const handle = await open(this.path, 'a', 0o644);
      try {
        await handle.appendFile(line);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    });
    this.appending = next.catch(() => {});
    return next;
  }

  /** Reads the whole manifest: the latest valid seal (and deletion) per id. */
  async readAll(): Promise<Map<string, ManifestRecord>> {
    const records = new Map<string, ManifestRecord>();
    await this.scan((id, entry, valid) => {
      let record = records.get(id);
      if (!record) records.set(id, (record = { badSignatures: 0 }));
      apply(record, entry, valid);
    });
    return records;
  }

  /** The manifest record of one id (reads the file; fine for one-off verification). */
  async lookup(id: string): Promise<ManifestRecord> {
    const record: ManifestRecord = { badSignatures: 0 };
    await this.scan((entryId, entry, valid) => {
      if (entryId === id) apply(record, entry, valid);
    }, id);
    return record;
  }

  private async scan(onEntry: (id: string, entry: SealEntry | DeleteEntry, valid: boolean) => void, only?: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return;
    }
    const kid = this.publicKey ? keyIdOf(this.publicKey) : undefined;
    for (const line of text.split('\n')) {
      if (line.length === 0 || line.length > MAX_MANIFEST_LINE) continue;
      if (only !== undefined && !line.includes(only)) continue;
      const parsed = parseEntry(line);
      if (!parsed) continue;
      const valid =
        this.publicKey !== undefined &&
        parsed.kid === kid &&
        verifySignature(null, Buffer.from(payload(parsed.entry, parsed.kid)), this.publicKey, parsed.sig);
      onEntry(parsed.entry.id, parsed.entry, valid);
    }
  }
}

function apply(record: ManifestRecord, entry: SealEntry | DeleteEntry, valid: boolean): void {
  if (!valid) {
    record.badSignatures++;
    return;
  }
  if ('deleted' in entry) record.deleted = entry;
  else {
    record.seal = entry;
    record.deleted = undefined;
  }
}

function parseEntry(line: string): { entry: SealEntry | DeleteEntry; kid: string; sig: Buffer } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || typeof v.time !== 'string' || typeof v.kid !== 'string' || typeof v.sig !== 'string') return undefined;
  const sig = Buffer.from(v.sig, 'base64');
  if (v.deleted === true && typeof v.reason === 'string') {
    return { entry: { id: v.id, deleted: true, time: v.time, reason: v.reason }, kid: v.kid, sig };
  }
  if (typeof v.sha256 === 'string' && typeof v.size === 'number' && typeof v.complete === 'boolean') {
    return { entry: { id: v.id, sha256: v.sha256, size: v.size, time: v.time, complete: v.complete }, kid: v.kid, sig };
  }
  return undefined;
}

/** Compares a file's digest with its manifest record. */
export function judge(id: string | undefined, actual: FileDigest, record: ManifestRecord | undefined): VerifyResult {
  const seal = record?.seal;
  const base = { id, digest: actual.sha256, size: actual.size };
  if (!seal) {
    if (record && record.badSignatures > 0) {
      return { ...base, state: 'modified', message: 'the manifest entry for this recording does not carry a valid signature (edited or forged)' };
    }
    const deleted = record?.deleted ? ` (it was deleted ${record.deleted.time}: ${record.deleted.reason})` : '';
    return { ...base, state: 'unsigned', message: `no signed digest for this recording${deleted}` };
  }
  const expected = { expectedDigest: seal.sha256, expectedSize: seal.size, sealedAt: seal.time };
  if (actual.sha256 === seal.sha256 && actual.size === seal.size) {
    return { ...base, ...expected, state: 'intact', message: `intact: SHA-256 matches the entry signed ${seal.time}` };
  }
  if (actual.size < seal.size) {
    return {
      ...base,
      ...expected,
      state: 'truncated',
      message: `truncated: ${actual.size} of ${seal.size} bytes (${seal.size - actual.size} missing) compared with the entry signed ${seal.time}`,
    };
  }
  const grew = actual.size > seal.size ? `, ${actual.size - seal.size} bytes longer` : '';
  return { ...base, ...expected, state: 'modified', message: `modified: SHA-256 differs from the entry signed ${seal.time}${grew}` };
}

/** Size and modification time, for spotting files changed behind the index's back. */
export async function fileStamp(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(path);
    return { size: s.size, mtimeMs: Math.floor(s.mtimeMs) };
  } catch {
    return undefined;
  }
}
