// Integrity of closed recordings: the SHA-256 of each file, recorded when it closes as a line of
// DATA/manifest.jsonl signed with an Ed25519 key kept in DATA/keys (0600). `verify` recomputes the
// digest and compares it with the latest entry for that recording whose signature holds.
// The index keeps a copy of the digest for listing, but only the signed manifest is trusted.
//
// A file shorter than sealed is "truncated" only when what is left is what was sealed: each seal
// also covers (by its SHA-256, field `sums`) a checkpoints file DATA/seals/ID.sums listing the
// digest of the file's prefix at line ends about every 1 MiB (closer in small files). The
// kept part is checked up to the last checkpoint it reaches; a mismatch there is "modified". Seals
// written before checkpoints existed (no `sums`) still verify; for them a shorter file is
// "truncated" unchecked, as before.
//
// Manifest lines are chained: chain(0) = 64 zeros, chain(n) = SHA-256(chain(n-1) "\n" line n) over
// every non-empty line, and each new line signs `prev` = the chain before it. A line removed,
// inserted or edited anywhere before a chained line breaks the chain there (its signature cannot
// be redone without the key). A recording whose seal line was removed is then "modified", not
// "unsigned". Not covered: lines cut off the end of the manifest (nothing after them to notice).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify as verifySignature, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isRecordingId } from '../util/ids';

export const MANIFEST_FILE = 'manifest.jsonl';
export const PRIVATE_KEY_FILE = join('keys', 'manifest-ed25519.pem');
export const PUBLIC_KEY_FILE = join('keys', 'manifest-ed25519.pub.pem');
export const SUMS_DIR = 'seals';
/** Manifest lines are short; anything longer was not written by us and is skipped. */
const MAX_MANIFEST_LINE = 4096;
/** Checkpoints are this far apart (to the next line end)… */
const MAX_CHECKPOINT_INTERVAL = 1024 * 1024;
/** …and about this many per file when it is smaller (every line end of a file of few lines), so
 * the unchecked tail of a cut file is at most about 1/64 of it. */
const CHECKPOINTS_PER_FILE = 64;
/** A checkpoints file larger than this was not written by us (1 TiB of recording is ~80 MiB). */
const MAX_SUMS_BYTES = 128 * 1024 * 1024;

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
  /** SHA-256 of the recording's checkpoints file (absent in seals made before checkpoints). */
  sums?: string;
  /** The manifest's chain value before this line (absent in lines made before chaining). */
  prev?: string;
}

/** The SHA-256 of a file's first `size` bytes (`size` is just after a line end). */
export interface Checkpoint {
  size: number;
  sha256: string;
}

/** What the checkpoints say about the part of a shorter file that was kept. */
export type PrefixCheck =
  /** The first `checked` bytes are exactly what was sealed (the rest, if any, had no checkpoint). */
  | { state: 'match'; checked: number }
  /** They are not: the kept part was edited too. */
  | { state: 'mismatch'; checked: number }
  /** The checkpoints file is missing or does not match its signed digest. */
  | { state: 'unavailable'; reason: string };

/** A signed note that recording `id` was deleted (by a person through the API, or by retention). */
export interface DeleteEntry {
  id: string;
  deleted: true;
  time: string;
  reason: string;
  prev?: string;
}

export interface ManifestRecord {
  /** The latest seal whose signature holds. */
  seal?: SealEntry;
  /** The latest deletion note whose signature holds, when it is newer than the seal. */
  deleted?: DeleteEntry;
  /** Entries for this id whose signature does not hold (edited or forged lines). */
  badSignatures: number;
  /** The manifest's chain of lines is broken (a line removed or edited): what was found. */
  manifestProblem?: string;
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

/** Spacing of checkpoints in a file of `size` bytes: about 64 of them, at most about 1 MiB apart. */
export function checkpointInterval(size: number): number {
  return Math.min(MAX_CHECKPOINT_INTERVAL, Math.max(1, Math.ceil(size / CHECKPOINTS_PER_FILE)));
}

/**
 * SHA-256 of a stream of chunks that also notes checkpoints: the digest of the prefix ending with
 * the first line (the header), then at the first line end at least `interval` bytes after the last.
 */
export class CheckpointHasher {
  private readonly hash = createHash('sha256');
  private offset = 0;
  /** Offset of the first byte after which a line end makes a checkpoint. */
  private due = 0;
  readonly checkpoints: Checkpoint[] = [];

  constructor(private readonly interval: number) {}

  update(buf: Buffer): void {
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, Math.max(pos, this.due - this.offset));
      if (nl < 0) break;
      this.hash.update(buf.subarray(pos, nl + 1));
      pos = nl + 1;
      const size = this.offset + pos;
      this.checkpoints.push({ size, sha256: this.hash.copy().digest('hex') });
      this.due = size + this.interval - 1;
    }
    this.hash.update(buf.subarray(pos));
    this.offset += buf.byteLength;
  }

  digest(): FileDigest {
    return { sha256: this.hash.digest('hex'), size: this.offset };
  }
}

/** SHA-256 of a file's first `size` bytes. */
async function prefixDigest(path: string, size: number): Promise<FileDigest> {
  const hash = createHash('sha256');
  let read = 0;
  if (size > 0) {
    for await (const chunk of createReadStream(path, { start: 0, end: size - 1, highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).byteLength;
    }
  }
  return { sha256: hash.digest('hex'), size: read };
}

/** The exact bytes signed for an entry: fixed key order, so the verifier rebuilds the same text. */
function payload(entry: SealEntry | DeleteEntry, keyId: string): string {
  // `sums` and `prev` only when present: lines made before they existed rebuild their signed text unchanged.
  const prev = entry.prev === undefined ? {} : { prev: entry.prev };
  if ('deleted' in entry) return JSON.stringify({ id: entry.id, deleted: true, time: entry.time, reason: entry.reason, ...prev, kid: keyId });
  const sums = entry.sums === undefined ? {} : { sums: entry.sums };
  return JSON.stringify({ id: entry.id, sha256: entry.sha256, size: entry.size, time: entry.time, complete: entry.complete, ...sums, ...prev, kid: keyId });
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

  /**
   * Appends a signed seal for a closed recording; with `checkpoints` (from a CheckpointHasher over
   * the same bytes), first writes its checkpoints file, which the seal covers by digest.
   */
  async seal(entry: Omit<SealEntry, 'time' | 'sums'>, time = new Date(), checkpoints?: Checkpoint[]): Promise<SealEntry> {
    const full: SealEntry = { ...entry, time: time.toISOString() };
    if (checkpoints) full.sums = await this.writeSums(entry.id, entry, checkpoints);
    await this.append(full);
    return full;
  }

  private sumsPath(id: string): string {
    // Ids come from our own files and seals, but this is a path: only UUIDs become one.
    if (!isRecordingId(id)) throw new Error(`not a recording id: ${JSON.stringify(id)}`);
    return join(this.dataDir, SUMS_DIR, `${id}.sums`);
  }

  /** Writes DATA/seals/ID.sums (whole or not at all); returns the SHA-256 of its bytes. */
  private async writeSums(id: string, digest: FileDigest, checkpoints: Checkpoint[]): Promise<string> {
    const text = JSON.stringify({ format: 'kubecast-sums', version: 1, id, size: digest.size, sha256: digest.sha256, checkpoints: checkpoints.map((c) => [c.size, c.sha256]) }) + '\n';
    const path = this.sumsPath(id);
    await mkdir(join(this.dataDir, SUMS_DIR), { recursive: true, mode: 0o750 });
    const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    return createHash('sha256').update(text).digest('hex');
  }

  /** Removes a recording's checkpoints file (with the recording). */
  async removeSums(id: string): Promise<void> {
    await unlink(this.sumsPath(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Checks the kept part of `path`, shorter than sealed, against the seal's checkpoints. */
  async checkPrefix(path: string, actual: FileDigest, seal: SealEntry): Promise<PrefixCheck> {
    if (seal.sums === undefined) return { state: 'unavailable', reason: 'sealed without checkpoints' };
    let bytes: Buffer;
    try {
      const file = this.sumsPath(seal.id);
      if ((await stat(file)).size > MAX_SUMS_BYTES) return { state: 'unavailable', reason: 'its checkpoints file is too large to be ours' };
      bytes = await readFile(file);
    } catch {
      return { state: 'unavailable', reason: `its checkpoints file ${join(SUMS_DIR, `${seal.id}.sums`)} is missing` };
    }
    if (createHash('sha256').update(bytes).digest('hex') !== seal.sums) {
      return { state: 'unavailable', reason: 'its checkpoints file does not match the digest signed with the seal' };
    }
    const checkpoints = parseSums(bytes);
    if (!checkpoints) return { state: 'unavailable', reason: 'its checkpoints file cannot be read' };
    let last: Checkpoint | undefined;
    for (const c of checkpoints) if (c.size <= actual.size && (!last || c.size > last.size)) last = c;
    if (!last) return { state: 'match', checked: 0 };
    const kept = last.size === actual.size ? actual : await prefixDigest(path, last.size);
    return kept.sha256 === last.sha256 && kept.size === last.size ? { state: 'match', checked: last.size } : { state: 'mismatch', checked: last.size };
  }

  /** judge(), with the checkpoints consulted when the file is shorter than sealed. */
  async judgeFile(id: string, path: string, actual: FileDigest, record: ManifestRecord | undefined): Promise<VerifyResult> {
    const seal = record?.seal;
    const prefix = seal && actual.size < seal.size ? await this.checkPrefix(path, actual, seal) : undefined;
    return judge(id, actual, record, prefix);
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
    // One append at a time, each synced: the manifest is the evidence, it must not lose lines.
    const next = this.appending.then(async () => {
      const handle = await open(this.path, 'a+', 0o644);
      try {
        const { chain, newline } = await chainHead(handle);
        const text = payload({ ...entry, prev: chain }, kid);
        const sig = sign(null, Buffer.from(text), privateKey).toString('base64');
        // A line cut by a crash is ended first, so this one is not glued to it.
        await handle.appendFile((newline ? '' : '\n') + text.slice(0, -1) + `,"sig":${JSON.stringify(sig)}}\n`);
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
    const problem = await this.scan((id, entry, valid) => {
      let record = records.get(id);
      if (!record) records.set(id, (record = { badSignatures: 0 }));
      apply(record, entry, valid);
    });
    if (problem) for (const record of records.values()) record.manifestProblem = problem;
    return records;
  }

  /** The manifest record of one id (reads the file; fine for one-off verification). */
  async lookup(id: string): Promise<ManifestRecord> {
    const record: ManifestRecord = { badSignatures: 0 };
    const problem = await this.scan((entryId, entry, valid) => {
      if (entryId === id) apply(record, entry, valid);
    }, id);
    if (problem) record.manifestProblem = problem;
    return record;
  }

  /**
   * Hands every entry (only those mentioning `only`, when given) to `onEntry` with whether its
   * signature holds, and checks the chain; returns what breaks it, if anything. The chain costs
   * one hash per line and one signature: every `prev` is compared with the chain recomputed from
   * the lines, and the last chained line's signature vouches for the lines before it.
   */
  private async scan(onEntry: (id: string, entry: SealEntry | DeleteEntry, valid: boolean) => void, only?: string): Promise<string | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch {
      return undefined;
    }
    const kid = this.publicKey ? keyIdOf(this.publicKey) : undefined;
    const isValid = (parsed: ParsedEntry) =>
      this.publicKey !== undefined && parsed.kid === kid && verifySignature(null, Buffer.from(payload(parsed.entry, parsed.kid)), this.publicKey, parsed.sig);
    let problem: string | undefined;
    let chain = CHAIN_START;
    let head: { parsed: ParsedEntry; valid?: boolean; lineNo: number } | undefined;
    let lineNo = 0;
    for (let start = 0; start < bytes.length; ) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      const line = bytes.subarray(start, end);
      start = end + 1;
      lineNo++;
      if (line.length === 0) continue;
      const parsed = line.length <= MAX_MANIFEST_LINE ? parseEntry(line.toString('utf8')) : undefined;
      if (parsed) {
        if (parsed.entry.prev !== undefined && parsed.entry.prev !== chain) {
          problem ??= `line ${lineNo} does not follow the line before it: a line was removed or edited there`;
        }
        let valid: boolean | undefined;
        if (only === undefined || line.includes(only)) {
          valid = isValid(parsed);
          onEntry(parsed.entry.id, parsed.entry, valid);
        }
        if (parsed.entry.prev !== undefined) head = { parsed, valid, lineNo };
      }
      // Every line counts for the chain, also ones we cannot read (a line cut by a crash is ended and chained over).
      chain = chainStep(chain, line);
    }
    if (!problem && head && !(head.valid ?? isValid(head.parsed))) problem = `its last chained line (${head.lineNo}) is not validly signed`;
    return problem;
  }
}

const CHAIN_START = '0'.repeat(64);

function chainStep(chain: string, line: Buffer): string {
  return createHash('sha256').update(chain).update('\n').update(line).digest('hex');
}

/**
 * The chain value after the last line of an open manifest, and whether the file ends with a
 * newline. From the last line alone when it is a chained entry of ours (its `prev` plus itself);
 * otherwise (an older manifest, a line cut by a crash) from the whole file.
 */
async function chainHead(handle: FileHandle): Promise<{ chain: string; newline: boolean }> {
  const { size } = await handle.stat();
  if (size === 0) return { chain: CHAIN_START, newline: true };
  const window = Math.min(size, MAX_MANIFEST_LINE + 2);
  const tail = Buffer.alloc(window);
  await handle.read(tail, 0, window, size - window);
  const newline = tail[window - 1] === 0x0a;
  let end = window;
  while (end > 0 && tail[end - 1] === 0x0a) end--;
  const start = end === 0 ? -1 : tail.lastIndexOf(0x0a, end - 1) + 1;
  if (start > 0 || (start === 0 && window === size)) {
    const last = tail.subarray(start, end);
    const prev = parseEntry(last.toString('utf8'))?.entry.prev;
    if (prev !== undefined) return { chain: chainStep(prev, last), newline };
  }
  const all = Buffer.alloc(size);
  await handle.read(all, 0, size, 0);
  let chain = CHAIN_START;
  for (let from = 0; from < size; ) {
    const nl = all.indexOf(0x0a, from);
    const to = nl < 0 ? size : nl;
    if (to > from) chain = chainStep(chain, all.subarray(from, to));
    from = to + 1;
  }
  return { chain, newline };
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

interface ParsedEntry {
  entry: SealEntry | DeleteEntry;
  kid: string;
  sig: Buffer;
}

function parseEntry(line: string): ParsedEntry | undefined {
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
  if (v.prev !== undefined && typeof v.prev !== 'string') return undefined;
  const prev = typeof v.prev === 'string' ? { prev: v.prev } : {};
  if (v.deleted === true && typeof v.reason === 'string') {
    return { entry: { id: v.id, deleted: true, time: v.time, reason: v.reason, ...prev }, kid: v.kid, sig };
  }
  if (typeof v.sha256 === 'string' && typeof v.size === 'number' && typeof v.complete === 'boolean' && (v.sums === undefined || typeof v.sums === 'string')) {
    const entry: SealEntry = { id: v.id, sha256: v.sha256, size: v.size, time: v.time, complete: v.complete, ...prev };
    if (typeof v.sums === 'string') entry.sums = v.sums;
    return { entry, kid: v.kid, sig };
  }
  return undefined;
}

function parseSums(bytes: Buffer): Checkpoint[] | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as { format?: unknown; checkpoints?: unknown };
    if (value.format !== 'kubecast-sums' || !Array.isArray(value.checkpoints)) return undefined;
    const out: Checkpoint[] = [];
    for (const c of value.checkpoints as unknown[]) {
      if (!Array.isArray(c) || !Number.isSafeInteger(c[0]) || typeof c[1] !== 'string') return undefined;
      out.push({ size: c[0] as number, sha256: c[1] });
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Compares a file's digest with its manifest record. `prefix`: what the checkpoints say about a
 * file shorter than sealed (Manifest.judgeFile finds out); without it such a file is not vouched
 * for as truncated unless its seal predates checkpoints.
 */
export function judge(id: string | undefined, actual: FileDigest, record: ManifestRecord | undefined, prefix?: PrefixCheck): VerifyResult {
  const seal = record?.seal;
  const base = { id, digest: actual.sha256, size: actual.size };
  const manifestNote = record?.manifestProblem ? ` (but the manifest was edited: ${record.manifestProblem})` : '';
  if (!seal) {
    if (record && record.badSignatures > 0) {
      return { ...base, state: 'modified', message: 'the manifest entry for this recording does not carry a valid signature (edited or forged)' };
    }
    if (record?.manifestProblem) {
      return { ...base, state: 'modified', message: `no signed digest for this recording, and the manifest was edited (${record.manifestProblem}): its seal may have been removed` };
    }
    const deleted = record?.deleted ? ` (it was deleted ${record.deleted.time}: ${record.deleted.reason})` : '';
    return { ...base, state: 'unsigned', message: `no signed digest for this recording${deleted}` };
  }
  const expected = { expectedDigest: seal.sha256, expectedSize: seal.size, sealedAt: seal.time };
  if (actual.sha256 === seal.sha256 && actual.size === seal.size) {
    return { ...base, ...expected, state: 'intact', message: `intact: SHA-256 matches the entry signed ${seal.time}${manifestNote}` };
  }
  if (actual.size < seal.size) {
    const missing = `${actual.size} of ${seal.size} bytes (${seal.size - actual.size} missing) compared with the entry signed ${seal.time}`;
    if (seal.sums === undefined) {
      return { ...base, ...expected, state: 'truncated', message: `truncated: ${missing}; sealed without checkpoints, so the kept part was not checked` };
    }
    if (prefix?.state === 'match') {
      const unchecked = actual.size - prefix.checked;
      const how = unchecked === 0 ? 'what is left is exactly the start of the sealed recording' : `the first ${prefix.checked} bytes are exactly what was sealed; the last ${unchecked} before the cut fall between checkpoints and were not checked`;
      return { ...base, ...expected, state: 'truncated', message: `truncated: ${missing}; ${how}` };
    }
    if (prefix?.state === 'mismatch') {
      return { ...base, ...expected, state: 'modified', message: `modified: shorter than sealed (${missing}), and its first ${prefix.checked} bytes differ from what was sealed` };
    }
    const why = prefix?.state === 'unavailable' ? prefix.reason : 'its checkpoints were not consulted';
    return { ...base, ...expected, state: 'modified', message: `modified: shorter than sealed (${missing}), and the kept part cannot be checked: ${why}` };
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
