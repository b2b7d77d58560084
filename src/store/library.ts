// The recordings library: the index of every recording (SQLite, see index-db.ts), full-text search
// over what was on screen, integrity seals, retention, and the Recording objects the console API
// and `kubecast ls` return.
//
// One process owns the index (the one ingesting: `serve`, `recorder`), holding DATA/index.lock;
// others (the CLI) open it as readers. The cast files are the truth: the index is rebuilt from them
// whenever it is missing, damaged or of another schema version, and reconciled with them at every
// start by the owner (files added or changed behind its back, files gone, sessions a crash left
// "live").
//
// Ingest (the recorder's hot path) never waits for the disk or for rendering: lines update an
// in-memory summary and rows are written in one transaction every FLUSH_MS. After the upload ends,
// the file is hashed and sealed, and rendered for search in a worker thread (search-worker.ts), so
// the headless terminal and the FTS inserts never compete with the sessions this process relays.
import { mkdir, readdir, rmdir, unlink } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { IngestedRecording, IngestObserver, IngestOutcome } from '../recorder/ingest';
import { isRecordingId } from '../util/ids';
import { silentLogger, type Logger } from '../util/log';
import { scanCastFile, type ScannedCast } from './cast-scan';
import {
  ftsQuery,
  IndexStatements,
  isIndexPath,
  LINE_BITS,
  lineRange,
  openIndex,
  openIndexAsReader,
  type DatabaseHandle,
  type IntegrityColumn,
  type RecordingFields,
  type RecordingRow,
  type SearchState,
} from './index-db';
import { hashFile, Manifest, type ManifestRecord, type VerifyResult } from './integrity';
import { recordingsDir } from './paths';
import { EventTracker, identityFromHeader, type EventSummary, type RecordingIdentity } from './recording-meta';
import { DEFAULT_SEARCH_CAP_CHARS } from './search-feed';
import { SearchWorker } from './search-worker-client';
import { removeSeekIndex } from './seek-index';
import { SeekIndexes, type SeekIndexOptions, type SeekState } from './seek-indexes';
import { transcriptText, writeTranscript, type TranscriptSink } from './transcript';
import { WriterLock } from './writer-lock';

export type { VerifyResult } from './integrity';
export type { TranscriptSink } from './transcript';
export type { SeekIndexOptions, SeekState } from './seek-indexes';

export const INDEX_FILE = 'index.sqlite';
export const LOCK_FILE = 'index.lock';
const FLUSH_MS = 250;
/** Search lines waiting for the next flush beyond which it happens at once. */
const FLUSH_LINES = 5000;
const HOUR_MS = 3600_000;
/** Files read, or recordings rendered for search, at once while (re)building. */
const REBUILD_CONCURRENCY = 4;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const HITS_PER_RECORDING = 20;
/** How long a reader trusts its answer to "is the serving process alive?". */
const WRITER_CHECK_MS = 1000;

export type LibraryIntegrity = IntegrityColumn;

export interface SearchHit {
  /** Seconds from the start of the recording (seek the player here). */
  time: number;
  /** The screen line, as rendered. */
  text: string;
}

/** The console API's `Recording` (DESIGN.md). */
export interface RecordingView {
  id: string;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601; null while live. */
  endedAt: string | null;
  durationMs: number;
  user: string;
  cluster: string;
  context: string | null;
  namespace: string;
  pod: string;
  container: string;
  /** The command as one string (the peer's form). */
  command: string;
  /** The command as argv, when the recorder knew it. */
  argv: string[] | null;
  /** 'exec' | 'attach' (null when the header does not say). */
  sessionType: string | null;
  /** 'spdy' | 'websocket' (null for recordings from other writers). */
  protocol: string | null;
  tty: boolean;
  /** Last known terminal size; null when unknown (non-TTY). */
  cols: number | null;
  rows: number | null;
  exitCode: number | null;
  bytes: number;
  /** The upload ended normally. Never true while live. */
  complete: boolean;
  /** Still being written. */
  live: boolean;
  /** From the last check (at close, at index rebuild, or by verify); 'pending' while live or until sealed. */
  integrity: LibraryIntegrity;
  /** SHA-256 (hex) of the file when it was last hashed; null while live. */
  sha256: string | null;
  kubectlVersion: string | null;
  clientAddress: string | null;
  /** Search coverage: done, capped (only the first part of a huge output), pending (not rendered yet), failed. */
  searchIndex: 'done' | 'capped' | 'pending' | 'failed';
  /** With a `q` query: matching screen lines, in time order, at most 20. */
  hits?: SearchHit[];
}

export interface ListQuery {
  /** Full-text search over what was on screen. */
  q?: string;
  user?: string;
  namespace?: string;
  pod?: string;
  /** Started at or after. */
  from?: Date;
  /** Started at or before. */
  to?: Date;
  /** Default 50, at most 500. */
  limit?: number;
  /** `next` of the previous page. */
  cursor?: string;
}

export interface ListResult {
  items: RecordingView[];
  next: string | null;
}

export type ProgressPhase = 'files' | 'search';

export interface LibraryOptions {
  logger?: Logger;
  /** Progress of long index work: files read when (re)building, recordings rendered for search. */
  onProgress?: (done: number, total: number, phase: ProgressPhase) => void;
  /** Delete recordings that started more than this many days ago (at start, then hourly). */
  retainDays?: number;
  /**
   * writer (default): the process that ingests recordings; takes DATA/index.lock, fails if another
   * process holds it. reader: the CLI; never ingests, may repair the index only while no writer runs.
   */
  role?: 'writer' | 'reader';
  /** Characters of output per recording rendered for search (default 32 Mi). */
  searchCapChars?: number;
  /** Seek indexes of long recordings (seek-index.ts): size threshold, keyframe interval. */
  seekIndex?: SeekIndexOptions;
  /**
   * A query found the index damaged (SQLITE_CORRUPT): move it aside and rebuild it from the cast
   * files. Refused while another process owns the index.
   */
  rebuildDamaged?: string;
}

/** A query the caller got wrong (bad cursor, bad date): the API answers 400. */
export class LibraryQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LibraryQueryError';
  }
}

/** Deleting a recording that is still being written: the API answers 409. */
export class RecordingLiveError extends Error {
  constructor(readonly id: string) {
    super(`recording ${id} is still being written`);
    this.name = 'RecordingLiveError';
  }
}

/** No recording with that id, or no such file: the API answers 404, `verify` exits 2. */
export class RecordingNotFoundError extends Error {
  constructor(what: string) {
    super(`no such recording: ${what}`);
    this.name = 'RecordingNotFoundError';
  }
}

/** One recording being ingested by this process. */
interface LiveState {
  id: string;
  rel: string;
  abs: string;
  identity: RecordingIdentity;
  startedMs: number;
  tracker: EventTracker;
  bytes: number;
  rid: number | undefined;
  ending: boolean;
  complete: boolean;
  /** Set once the upload has ended: sealing and indexing, after which the recording leaves `live`. */
  finishing?: Promise<void>;
}

export class Library implements IngestObserver {
  private readonly log: Logger;
  private readonly st: IndexStatements;
  private readonly seek: SeekIndexes;
  private readonly live = new Map<string, LiveState>();
  private readonly dirty = new Set<LiveState>();
  /** Index writes of rebuild work, run in order in the next flush's transaction. */
  private pendingWrites: Array<() => void> = [];
  private pendingWeight = 0;
  private readonly tasks = new Set<Promise<void>>();
  private readonly searchQueue: number[] = [];
  private readonly abandoned = new Set<number>();
  private searchWorker: SearchWorker | undefined;
  private searchLoop: Promise<void> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private retentionTimer: ReturnType<typeof setInterval> | undefined;
  /** close() was called: background work stops at its next step. */
  private stopping = false;
  /** The database is closed. */
  private closed = false;
  private writerSeen: { at: number; alive: boolean } | undefined;

  private constructor(
    readonly dataDir: string,
    private readonly db: DatabaseHandle,
    private readonly manifest: Manifest,
    private readonly lock: WriterLock | undefined,
    private readonly options: LibraryOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'library' });
    this.st = new IndexStatements(db);
    this.seek = new SeekIndexes({ ...options.seekIndex, logger: this.log, build: lock !== undefined, track: (task) => this.track(task) });
  }

  /**
   * Opens the library of `dataDir`: the index (created, repaired or rebuilt from the cast files as
   * needed, with progress), the manifest keys, and for the writer retention and background search
   * indexing of recordings that need it.
   */
  static async open(dataDir: string, options: LibraryOptions = {}): Promise<Library> {
    const role = options.role ?? 'writer';
    const logger = (options.logger ?? silentLogger).child({ component: 'library' });
    const lockPath = join(dataDir, LOCK_FILE);
    let lock: WriterLock | undefined;
    if (role === 'writer') {
      await mkdir(dataDir, { recursive: true, mode: 0o750 });
      lock = WriterLock.acquire(lockPath);
      if (!lock) throw new Error(`another kubecast process is already serving the data folder ${dataDir}`);
    }
    let db: DatabaseHandle | undefined;
    let library: Library | undefined;
    try {
      const ownerAlive = role === 'reader' && Library.serverRunningIn(dataDir);
      if (ownerAlive && options.rebuildDamaged !== undefined) {
        throw new Error(`the recordings index of ${dataDir} is damaged (${options.rebuildDamaged}); the kubecast process serving this folder rebuilds it when restarted`);
      }
      // A reader must not move the index aside under a live writer: it only repairs an ownerless one.
      // Readers skip the deep check (it reads the whole file on every `ls`); damage it would have
      // found shows up as SQLITE_CORRUPT on a query instead, and the CLI reopens with rebuildDamaged.
      let fresh: boolean;
      ({ db, fresh } = ownerAlive
        ? openIndexAsReader(join(dataDir, INDEX_FILE))
        : await openIndex(join(dataDir, INDEX_FILE), { logger, deepCheck: role === 'writer', knownDamaged: options.rebuildDamaged }));
      const manifest = await Manifest.open(dataDir, { create: role === 'writer' });
      library = new Library(dataDir, db, manifest, lock, options);
      if (fresh) logger.info('building the recordings index from the cast files', { dataDir });
      if (!ownerAlive) await library.reconcile();
      if (role === 'writer') {
        library.startSearchIndexing();
        library.startSeekIndexing();
        if (options.retainDays !== undefined) library.startRetention(options.retainDays);
      }
      return library;
    } catch (err) {
      if (library) {
        // Nothing may touch the database after this (a queued flush would log errors forever).
        library.stopping = library.closed = true;
        clearTimeout(library.flushTimer);
      }
      db?.close();
      lock?.release();
      throw err;
    }
  }

  /** Does a process own (serve) the library of `dataDir` right now? */
  static serverRunningIn(dataDir: string): boolean {
    const path = join(dataDir, LOCK_FILE);
    return existsSync(path) && WriterLock.isHeld(path);
  }

  get role(): 'writer' | 'reader' {
    return this.lock ? 'writer' : 'reader';
  }

  // --- queries ---------------------------------------------------------------------------------

  /** Recordings newest first, filtered, one page at a time; with `q` only those whose screen matched. */
  list(query: ListQuery = {}): ListResult {
    this.flush();
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(query.limit ?? DEFAULT_LIMIT) || DEFAULT_LIMIT));
    const where: string[] = [];
    const params: Record<string, string | number> = { limit: limit + 1 };
    for (const key of ['user', 'namespace', 'pod'] as const) {
      const value = query[key];
      if (value !== undefined && value !== '') {
        where.push(`r.${key} = @${key}`);
        params[key] = String(value).slice(0, 512);
      }
    }
    if (query.from !== undefined) {
      where.push('r.started_ms >= @from');
      params.from = dateMs(query.from, 'from');
    }
    if (query.to !== undefined) {
      where.push('r.started_ms <= @to');
      params.to = dateMs(query.to, 'to');
    }
    if (query.cursor) {
      const [ms, id] = decodeCursor(query.cursor);
      where.push('(r.started_ms < @cursorMs OR (r.started_ms = @cursorMs AND r.id < @cursorId))');
      params.cursorMs = ms;
      params.cursorId = id;
    }
    let fts: string | null = null;
    if (query.q !== undefined && query.q.trim() !== '') {
      fts = ftsQuery(query.q);
      if (fts === null) return { items: [], next: null };
      where.push(`r.rid IN (SELECT DISTINCT rowid >> ${LINE_BITS} FROM screen WHERE screen MATCH @fts)`);
      params.fts = fts;
    }
    const sql = `SELECT * FROM recordings r ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY r.started_ms DESC, r.id DESC LIMIT @limit`;
    const rows = this.db.prepare<Record<string, string | number>, RecordingRow>(sql).all(params);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const items = page.map((row) => this.view(row));
    if (fts !== null && page.length > 0) {
      const hits = this.hits(fts, page.map((row) => row.rid));
      page.forEach((row, i) => (items[i].hits = hits.get(row.rid) ?? []));
    }
    const last = page[page.length - 1];
    return { items, next: more && last ? encodeCursor(last.started_ms, last.id) : null };
  }

  /** One recording, or undefined (also for anything that is not a recording id). */
  get(id: string): RecordingView | undefined {
    if (!isRecordingId(id)) return undefined;
    this.flush();
    const row = this.st.byId.get(id);
    return row ? this.view(row) : undefined;
  }

  /** Recordings (not live) waiting to be rendered for search. */
  pendingSearch(): number {
    const row = this.db.prepare<[], { n: number }>("SELECT count(*) AS n FROM recordings WHERE search_state IN ('pending', 'indexing') AND live = 0").get();
    return row?.n ?? 0;
  }

  /** Is the process that owns the index (a server ingesting recordings) running? True in that process. */
  serverRunning(): boolean {
    return this.writerAlive();
  }

  /** Absolute path of a recording's cast file; only for valid ids the index holds. */
  castPath(id: string): string | undefined {
    if (!isRecordingId(id)) return undefined;
    const row = this.st.byId.get(id);
    return row ? this.pathOf(row) : undefined;
  }

  /** The rendered text of a whole recording (what a person saw, scrollback included). */
  async transcript(id: string): Promise<string> {
    const path = this.castPath(id);
    if (!path) throw new RecordingNotFoundError(id);
    return transcriptText(path);
  }

  /** Streams the transcript to `sink` (for big recordings). */
  async writeTranscript(id: string, sink: TranscriptSink): Promise<void> {
    const path = this.castPath(id);
    if (!path) throw new RecordingNotFoundError(id);
    await writeTranscript(path, sink);
  }

  // --- seek indexes -----------------------------------------------------------------------------

  /**
   * The seek index of a closed recording: ready, being built (a missing one is queued now), or
   * none and why. RecordingNotFoundError for unknown ids, RecordingLiveError while it is written.
   */
  async seekIndex(id: string): Promise<SeekState> {
    if (!isRecordingId(id)) throw new RecordingNotFoundError(JSON.stringify(String(id).slice(0, 64)));
    this.flush();
    const row = this.st.byId.get(id);
    const path = row ? this.pathOf(row) : undefined;
    if (!row || !path) throw new RecordingNotFoundError(id);
    if (this.live.has(id) || (row.live === 1 && this.writerAlive())) throw new RecordingLiveError(id);
    return this.seek.state(id, path, row.bytes);
  }

  /**
   * Streams segment `n` of a recording's seek index (asciinema-player's segment JSON) to `sink`.
   * False when the recording has no ready index; RangeError when it has no such segment.
   */
  async writeSeekSegment(id: string, n: number, sink: (text: string) => void | Promise<void>): Promise<boolean> {
    const found = await this.seekIndex(id);
    const path = this.castPath(id);
    if (found.state !== 'ready' || !path) return false;
    await this.seek.writeSegment(found.index, path, n, sink);
    return true;
  }

  /** Where `q` was on screen in one recording (the hits `list({ q })` gives it), at most 20. */
  searchHits(id: string, q: string): SearchHit[] {
    if (!isRecordingId(id) || q.trim() === '') return [];
    const fts = ftsQuery(q);
    const row = this.st.byId.get(id);
    if (fts === null || !row) return [];
    this.flush();
    return this.hits(fts, [row.rid]).get(row.rid) ?? [];
  }

  /** Queues seek indexes that are missing or stale (recordings closed while no writer ran, files changed). */
  private startSeekIndexing(): void {
    if (this.seek.threshold <= 0) return;
    const rows = this.db
      .prepare<[number], Pick<RecordingRow, 'id' | 'path' | 'bytes'>>('SELECT id, path, bytes FROM recordings WHERE live = 0 AND bytes >= ? ORDER BY started_ms DESC')
      .all(this.seek.threshold);
    const task = (async () => {
      for (const row of rows) {
        if (this.stopping) return;
        const path = this.pathOf(row);
        if (path) await this.seek.ensure(row.id, path, row.bytes);
      }
    })().catch((err: unknown) => this.log.warn('cannot check seek indexes', { error: err as Error }));
    this.track(task);
  }

  // --- integrity -------------------------------------------------------------------------------

  /**
   * Checks a recording against the signed manifest. Only ids: anything else is "not found"
   * without touching the disk (request data never becomes a path). Throws RecordingNotFoundError.
   */
  async verify(id: string): Promise<VerifyResult> {
    if (!isRecordingId(id)) throw new RecordingNotFoundError(JSON.stringify(String(id).slice(0, 64)));
    let path = this.castPath(id);
    if (!path || !existsSync(path)) path = await this.findFile(id);
    if (!path) {
      const record = await this.manifest.lookup(id);
      if (record.seal && !record.deleted) {
        return { state: 'truncated', id, size: 0, expectedSize: record.seal.size, expectedDigest: record.seal.sha256, message: 'the recording file is missing' };
      }
      throw new RecordingNotFoundError(id);
    }
    return this.check(id, path);
  }

  /**
   * Checks any cast file (`kubecast verify FILE`, e.g. a copy handed to someone): its recording id
   * comes from the header's kubecast.id, else from its name (ID.cast). For the CLI, not for requests.
   */
  async verifyFile(path: string): Promise<VerifyResult> {
    if (!existsSync(path)) throw new RecordingNotFoundError(path);
    return this.check(await idOfFile(path), path);
  }

  private async check(id: string | undefined, path: string): Promise<VerifyResult> {
    if (id !== undefined && this.isInProgress(id)) {
      return { state: 'in-progress', id, message: 'the recording is still being written; it is sealed when it ends' };
    }
    const digest = await hashFile(path);
    if (id === undefined) {
      return { state: 'unsigned', digest: digest.sha256, size: digest.size, message: 'cannot tell which recording this file is (no kubecast.id in its header, no recording id as its name)' };
    }
    if (!this.manifest.canVerify) {
      return { state: 'unsigned', id, digest: digest.sha256, size: digest.size, message: 'this data folder has no manifest key: nothing was signed here' };
    }
    const result = await this.manifest.judgeFile(id, path, digest, await this.manifest.lookup(id));
    // Keep the listing's badge in step with what was just found, when this is the indexed file.
    const row = this.st.byId.get(id);
    if (row && !row.live && this.pathOf(row) === path && row.integrity !== result.state && result.state !== 'in-progress') {
      try {
        this.db.prepare('UPDATE recordings SET integrity = ?, sha256 = ? WHERE rid = ?').run(result.state, digest.sha256, row.rid);
      } catch (err) {
        this.log.warn('cannot update the integrity state in the index', { id, error: err as Error });
      }
    }
    return result;
  }

  // --- deletion and retention -------------------------------------------------------------------

  /** Deletes a recording (file, index rows, a signed note in the manifest). False when unknown. */
  async delete(id: string, reason = 'deleted through the API'): Promise<boolean> {
    if (!isRecordingId(id)) return false;
    const live = this.live.get(id);
    // Listed as finished once its upload ended; it is being sealed, so wait for that rather than refuse.
    if (live?.finishing) await live.finishing;
    else if (live) throw new RecordingLiveError(id);
    const row = this.st.byId.get(id);
    if (!row) return false;
    if (row.live && this.writerAlive()) throw new RecordingLiveError(id);
    const path = this.pathOf(row);
    if (path) {
      // The index goes first (its build stopped), so no index outlives its cast.
      await this.seek.remove(id, path);
      try {
        await unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.abandoned.add(row.rid);
    this.searchWorker?.cancel(row.rid);
    this.db.transaction(() => this.st.remove(row.rid))();
    if (this.manifest.canSign) {
      await this.manifest.noteDeleted(id, reason).catch((err: unknown) => this.log.warn('cannot note the deletion in the manifest', { id, error: err as Error }));
      // The checkpoints go with the file; the seal line stays (a copy kept elsewhere still verifies whole).
      await this.manifest.removeSums(id).catch((err: unknown) => this.log.warn('cannot remove the checkpoints of a deleted recording', { id, error: err as Error }));
    }
    if (path) await removeEmptyDirs(dirname(path), recordingsDir(this.dataDir));
    this.log.info('recording deleted', { id, reason });
    return true;
  }

  /** Deletes recordings that started before `cutoff`, never one being written. Returns how many. */
  async purgeOlderThan(cutoff: Date): Promise<number> {
    const rows = this.db
      .prepare<[number], Pick<RecordingRow, 'id'>>('SELECT id FROM recordings WHERE started_ms < ? AND live = 0 ORDER BY started_ms')
      .all(cutoff.getTime());
    let deleted = 0;
    for (const { id } of rows) {
      if (this.stopping) break;
      if (this.live.has(id)) continue;
      try {
        if (await this.delete(id, `retention: started before ${cutoff.toISOString()}`)) deleted++;
      } catch (err) {
        this.log.warn('retention could not delete a recording', { id, error: err as Error });
      }
    }
    return deleted;
  }

  /**
   * Changes retention while running (writer only): delete recordings older than `days` now and
   * then hourly; null, undefined or 0 turns it off.
   */
  setRetention(days: number | null | undefined): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.retentionTimer = undefined;
    if (!this.lock || this.stopping || days === null || days === undefined) return;
    this.startRetention(days);
  }

  private startRetention(days: number): void {
    if (!(days > 0) || !Number.isFinite(days)) return;
    const run = () => {
      const task = this.purgeOlderThan(new Date(Date.now() - days * 24 * HOUR_MS))
        .then((n) => {
          if (n > 0) this.log.info('retention deleted old recordings', { count: n, retainDays: days });
        })
        .catch((err: unknown) => this.log.warn('retention failed', { error: err as Error }));
      this.track(task);
    };
    run();
    this.retentionTimer = setInterval(run, HOUR_MS);
    this.retentionTimer.unref();
  }

  // --- ingest (IngestObserver) ------------------------------------------------------------------

  started(recording: IngestedRecording): void {
    try {
      this.onStarted(recording);
    } catch (err) {
      this.log.error('cannot index a new recording', { id: recording.id, error: err as Error });
    }
  }

  lines(id: string, lines: Buffer): void {
    const state = this.live.get(id);
    if (!state || state.ending) return;
    state.tracker.lines(lines);
    state.bytes += lines.byteLength;
    this.dirty.add(state);
    this.scheduleFlush();
  }

  ended(id: string, outcome: IngestOutcome): void {
    const state = this.live.get(id);
    if (!state || state.ending) return;
    state.ending = true;
    state.complete = outcome.complete;
    state.bytes = outcome.bytes;
    this.dirty.add(state);
    this.scheduleFlush();
    state.finishing = this.finish(state, outcome)
      .catch((err: unknown) => this.log.error('cannot finish indexing a recording', { id, error: err as Error }))
      .finally(() => {
        if (this.live.get(id) === state) this.live.delete(id);
      });
    this.track(state.finishing);
  }

  private onStarted(recording: IngestedRecording): void {
    if (this.stopping || !this.lock) return;
    const { id } = recording;
    const rel = relative(this.dataDir, recording.path).split(sep).join('/');
    if (!isIndexPath(rel, id)) {
      this.log.warn('recording outside the recordings folder; not indexed', { id, path: recording.path });
      return;
    }
    const identity = identityFromHeader(recording.header);
    const existing = this.st.byId.get(id);
    const version = recording.header.version === 3 ? 3 : 2;
    let start: Pick<EventSummary, 'cols' | 'rows'> & Partial<EventSummary> = { cols: identity.cols, rows: identity.rows };
    let bytes = 0;
    if (recording.resumed) {
      // The summary so far is what the index last saw; exact values come from the file at the end.
      if (existing) start = { duration: existing.duration_ms / 1000, cols: existing.cols, rows: existing.rows, exitCode: existing.exit_code };
      try {
        bytes = statSync(recording.path).size;
      } catch {
        bytes = existing?.bytes ?? 0;
      }
    }
    const state: LiveState = {
      id,
      rel,
      abs: recording.path,
      identity,
      startedMs: existing?.started_ms ?? identity.startedMs ?? Date.now(),
      tracker: new EventTracker(version, identity.swapResize, start),
      bytes,
      rid: existing?.rid,
      ending: false,
      complete: false,
    };

    this.live.set(id, state);
    this.dirty.add(state);
    // New sessions show up at once (the console lists live sessions from here too).
    this.flush();
  }

  private get searchCap(): number {
    return this.options.searchCapChars ?? DEFAULT_SEARCH_CAP_CHARS;
  }

  /** After the upload ended: finish rendering, hash, seal, final row. */
  private async finish(state: LiveState, outcome: IngestOutcome): Promise<void> {
    // Hash and summary from the file itself: the same pass a rebuild makes, so both agree.
    const scan = await scanCastFile(state.abs, { checkpoints: true });
    let sealed = false;
    if (this.manifest.canSign) {
      try {
        await this.manifest.seal({ id: state.id, sha256: scan.digest.sha256, size: scan.digest.size, complete: outcome.complete }, new Date(), scan.checkpoints);
        sealed = true;
      } catch (err) {
        this.log.error('cannot sign the recording into the manifest', { id: state.id, error: err as Error });
      }
    }
    // A resumed upload of the same recording replaced this state: the newer upload owns the row.
    if (this.live.get(state.id) !== state || this.closed) return;
    this.flush();
    // Search rendering happens now, from the file, in the search worker: on the ingest path it
    // would compete with the sessions this process relays.
    const searchState: SearchState = 'pending';
    const fields = this.fieldsFrom(state.id, state.rel, scan.identity, scan.summary, {
      startedMs: state.startedMs,
      complete: outcome.complete,
      live: false,
      sha256: scan.digest.sha256,
      integrity: sealed ? 'intact' : 'unsigned',
      searchState,
      indexedChars: 0,
      bytes: scan.digest.size,
      stamp: scan,
    });
    const rid = this.db.transaction(() => {
      const rid = this.st.upsert(fields);
      this.st.deleteLines(rid);
      return rid;
    })();
    this.log.info('recording indexed', { id: state.id, bytes: scan.digest.size, complete: outcome.complete, sealed });
    this.queueSearch(rid);
    // Long recordings get their seek index now, in the background, one at a time.
    if (this.seek.wants(scan.digest.size)) this.seek.schedule(state.id, state.abs);
  }

  // --- batched writes ---------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Writes every changed live row and every queued write in one transaction. */
  private flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if ((this.dirty.size === 0 && this.pendingWrites.length === 0) || this.closed) return;
    const states = [...this.dirty];
    this.dirty.clear();
    const writes = this.pendingWrites;
    this.pendingWrites = [];
    this.pendingWeight = 0;
    try {
      this.db.transaction(() => {
        for (const state of states) {
          if (this.live.get(state.id) !== state) continue;
          state.rid = this.st.upsert(this.liveFields(state));
        }
        for (const write of writes) write();
      })();
    } catch (err) {
      this.log.error('cannot write to the recordings index', { error: err as Error });
      for (const state of states) this.dirty.add(state);
      this.scheduleFlush();
    }
  }

  /** Queues an index write for the next flush; flushes at once past FLUSH_LINES of weight. */
  private queueWrite(weight: number, write: () => void): void {
    this.pendingWrites.push(write);
    this.pendingWeight += weight;
    if (this.pendingWeight >= FLUSH_LINES) this.flush();
    else this.scheduleFlush();
  }

  private liveFields(state: LiveState): RecordingFields {
    const summary = state.tracker.current;
    return this.fieldsFrom(state.id, state.rel, state.identity, summary, {
      startedMs: state.startedMs,
      complete: state.ending ? state.complete : false,
      live: !state.ending,
      sha256: null,
      integrity: 'pending',
      searchState: 'indexing',
      indexedChars: 0,
      bytes: state.bytes,
      ended: state.ending,
    });
  }

  private fieldsFrom(
    id: string,
    rel: string,
    identity: RecordingIdentity,
    summary: EventSummary,
    extra: {
      startedMs: number;
      complete: boolean;
      live: boolean;
      sha256: string | null;
      integrity: IntegrityColumn;
      searchState: SearchState;
      indexedChars: number;
      bytes: number;
      ended?: boolean;
      stamp?: { mtimeMs: number; digest: { size: number } };
    },
  ): RecordingFields {
    const durationMs = Math.round(summary.duration * 1000);
    return {
      id,
      path: rel,
      version: identity.version,
      started_ms: extra.startedMs,
      // Derived, not the wall clock at upload end, so a rebuild from the file gives the same value.
      ended_ms: extra.live && !extra.ended ? null : extra.startedMs + durationMs,
      duration_ms: durationMs,
      user: identity.user,
      cluster: identity.cluster,
      context: identity.context,
      namespace: identity.namespace,
      pod: identity.pod,
      container: identity.container,
      command: identity.command,
      argv: identity.argv ? JSON.stringify(identity.argv) : null,
      session_type: identity.sessionType,
      protocol: identity.protocol,
      tty: identity.tty ? 1 : 0,
      cols: summary.cols,
      rows: summary.rows,
      exit_code: summary.exitCode,
      bytes: extra.bytes,
      complete: extra.complete ? 1 : 0,
      live: extra.live ? 1 : 0,
      sha256: extra.sha256,
      integrity: extra.integrity,
      kubectl_version: identity.kubectlVersion,
      client_address: identity.clientAddress,
      search_state: extra.searchState,
      indexed_chars: extra.indexedChars,
      file_size: extra.stamp ? extra.stamp.digest.size : null,
      file_mtime_ms: extra.stamp ? extra.stamp.mtimeMs : null,
    };
  }

  // --- rebuild and reconcile ---------------------------------------------------------------------

  /**
   * Brings the index in line with the cast files: indexes files it does not know or that changed
   * since, drops rows whose file is gone, and finishes rows a dead writer left live. Search
   * rendering of those recordings is queued (see indexPending).
   */
  private async reconcile(): Promise<void> {
    const files = await listCastFiles(this.dataDir, this.log);
    const rows = this.st.allPaths.all();
    const known = new Map(rows.map((row) => [row.id, row]));
    const gone = rows.filter((row) => !files.has(row.id) && !this.live.has(row.id));
    if (gone.length > 0) {
      this.db.transaction(() => {
        for (const row of gone) this.st.remove(row.rid);
      })();
      this.log.info('removed index entries whose cast file is gone', { count: gone.length });
      if (this.lock) {
        for (const row of gone) {
          const path = this.pathOf(row);
          if (path) await removeSeekIndex(path).catch((err: unknown) => this.log.warn('cannot remove a seek index', { id: row.id, error: err as Error }));
        }
      }
    }
    const todo: Array<[string, string]> = [];
    for (const [id, rel] of files) {
      const row = known.get(id);
      if (!row || row.live) {
        todo.push([id, rel]);
        continue;
      }
      if (row.path !== rel) {
        todo.push([id, rel]);
        continue;
      }
      const stat = statStamp(join(this.dataDir, rel));
      if (!stat || stat.size !== row.file_size || stat.mtimeMs !== row.file_mtime_ms) todo.push([id, rel]);
    }
    // Claims of a process that died while rendering are void.
    this.db.prepare("UPDATE recordings SET search_state = 'pending' WHERE search_state = 'indexing' AND live = 0").run();
    if (todo.length === 0) return;
    const records = await this.manifest.readAll();
    const progress = this.progress('files', todo.length);
    let done = 0;
    // Reading and hashing files is I/O: a few at a time keeps the disk busy.
    await eachLimited(todo, REBUILD_CONCURRENCY, async ([id, rel]) => {
      if (this.stopping) return;
      try {
        await this.indexFile(id, rel, records.get(id));
      } catch (err) {
        this.log.warn('cannot index a cast file', { id, path: rel, error: err as Error });
      }
      progress(++done);
    });
    this.flush();
  }

  /** (Re)indexes one file's row from its bytes and the manifest; search is left pending. */
  private async indexFile(id: string, rel: string, record: ManifestRecord | undefined): Promise<void> {
    const abs = join(this.dataDir, rel);
    const scan = await scanCastFile(abs);
    const verdict = this.manifest.canVerify ? await this.manifest.judgeFile(id, abs, scan.digest, record) : undefined;
    const integrity: IntegrityColumn = verdict && verdict.state !== 'in-progress' ? verdict.state : 'unsigned';
    const fields = this.fieldsFrom(id, rel, scan.identity, scan.summary, {
      startedMs: scan.identity.startedMs ?? Math.round(scan.mtimeMs - scan.summary.duration * 1000),
      complete: completeFrom(scan, record),
      live: false,
      sha256: scan.digest.sha256,
      integrity,
      searchState: 'pending',
      indexedChars: 0,
      bytes: scan.digest.size,
      stamp: scan,
    });
    this.queueWrite(100, () => this.st.deleteLines(this.st.upsert(fields)));
  }

  /**
   * Renders for search every recording that is waiting for it (after a rebuild, a crash, or an
   * upload whose live indexing was dropped). The writer runs this in the background; a reader (the
   * CLI) may call it to search an index no server maintains. Resolves when nothing is pending.
   */
  async indexPending(): Promise<void> {
    const pending = this.db
      .prepare<[], { rid: number }>("SELECT rid FROM recordings WHERE search_state = 'pending' AND live = 0 ORDER BY started_ms DESC")
      .all();
    for (const { rid } of pending) if (!this.searchQueue.includes(rid)) this.searchQueue.push(rid);
    await this.runSearchQueue();
  }

  private startSearchIndexing(): void {
    this.track(this.indexPending().catch((err: unknown) => this.log.warn('search indexing failed', { error: err as Error })));
  }

  private queueSearch(rid: number): void {
    this.searchQueue.push(rid);
    this.track(this.runSearchQueue().catch((err: unknown) => this.log.warn('search indexing failed', { error: err as Error })));
  }

  private runSearchQueue(): Promise<void> {
    this.searchLoop ??= (async () => {
      const total = this.searchQueue.length;
      const progress = this.progress('search', total);
      let done = 0;
      // A few recordings at once: the terminal paces its parsing with timers, so one at a time
      // leaves the CPU idle between small recordings.
      const worker = async () => {
        while (this.searchQueue.length > 0 && !this.stopping) {
          const rid = this.searchQueue.shift() as number;
          try {
            await this.renderForSearch(rid);
          } catch (err) {
            this.log.warn('cannot index a recording for search', { rid, error: err as Error });
            this.setSearchState(rid, 'failed', 0);
          }
          if (done < total) progress(++done);
        }
      };
      await Promise.all(Array.from({ length: REBUILD_CONCURRENCY }, worker));
      this.flush();
    })().finally(() => {
      this.searchLoop = undefined;
    });
    return this.searchLoop;
  }

  private setSearchState(rid: number, state: SearchState, chars: number): void {
    try {
      this.st.setSearchState.run(state, chars, rid);
    } catch {
      // the row may be gone; nothing to record
    }
  }

  /** Renders one recording's file into search lines (claimed, so two processes never both do it). */
  private async renderForSearch(rid: number): Promise<void> {
    const claimed = this.st.claimSearch.run(rid);
    if (claimed.changes !== 1) return;
    const row = this.st.byRid.get(rid);
    const path = row ? this.pathOf(row) : undefined;
    if (!row || !path) return;
    // The worker thread renders and writes the lines with its own connection.
    this.searchWorker ??= new SearchWorker(join(this.dataDir, INDEX_FILE));
    const result = await this.searchWorker.render({ rid, path, cap: this.searchCap });
    if (this.abandoned.has(rid) || !this.st.byRid.get(rid)) {
      // Deleted while it was being rendered: drop whatever the worker wrote meanwhile.
      this.queueWrite(100, () => this.st.deleteLines(rid));
      return;
    }
    if ('error' in result) {
      if (this.stopping) {
        this.queueWrite(1, () => this.setSearchState(rid, 'pending', 0));
        return;
      }
      throw new Error(result.error);
    }
    const interrupted = this.stopping || result.cancelled;
    const state: SearchState = interrupted ? 'pending' : result.capped ? 'capped' : 'done';
    this.queueWrite(1, () => this.setSearchState(rid, state, interrupted ? 0 : result.chars));
  }

  private progress(phase: ProgressPhase, total: number): (done: number) => void {
    const report = this.options.onProgress;
    if (!report || total === 0) return () => {};
    let last = 0;
    return (done) => {
      const now = Date.now();
      if (done === total || done % 100 === 0 || now - last >= 1000) {
        last = now;
        report(done, total, phase);
      }
    };
  }

  // --- helpers -----------------------------------------------------------------------------------

  private view(row: RecordingRow): RecordingView {
    const live = row.live === 1 && this.writerAlive();
    // A row left live by a writer that died is an interrupted recording, not a live one.
    const integrity: IntegrityColumn = live ? 'pending' : row.live === 1 ? 'unsigned' : row.integrity;
    const search: RecordingView['searchIndex'] =
      row.search_state === 'done' || row.search_state === 'capped' || row.search_state === 'failed' ? row.search_state : 'pending';
    return {
      id: row.id,
      startedAt: new Date(row.started_ms).toISOString(),
      endedAt: row.ended_ms === null || live ? null : new Date(row.ended_ms).toISOString(),
      durationMs: row.duration_ms,
      user: row.user,
      cluster: row.cluster,
      context: row.context,
      namespace: row.namespace,
      pod: row.pod,
      container: row.container,
      command: row.command,
      argv: parseArgv(row.argv),
      sessionType: row.session_type,
      protocol: row.protocol,
      tty: row.tty === 1,
      cols: row.cols,
      rows: row.rows,
      exitCode: row.exit_code,
      bytes: row.bytes,
      complete: row.complete === 1 && !live,
      live,
      integrity,
      sha256: row.sha256,
      kubectlVersion: row.kubectl_version,
      clientAddress: row.client_address,
      searchIndex: search,
    };
  }

  private hits(fts: string, rids: number[]): Map<number, SearchHit[]> {
    const lo = lineRange(Math.min(...rids))[0];
    const hi = lineRange(Math.max(...rids))[1];
    // One pass over the matches of the page's rowid range, at most HITS_PER_RECORDING per recording.
    const rows = this.db
      .prepare<{ fts: string; lo: number; hi: number; rids: string }, { k: number; t: number; text: string }>(
        `SELECT id AS k, t, text FROM lines WHERE id IN (
           SELECT k FROM (
             SELECT rowid AS k, row_number() OVER (PARTITION BY rowid >> ${LINE_BITS} ORDER BY rowid) AS n
             FROM screen WHERE screen MATCH @fts AND rowid BETWEEN @lo AND @hi
               AND (rowid >> ${LINE_BITS}) IN (SELECT value FROM json_each(@rids))
           ) WHERE n <= ${HITS_PER_RECORDING}
         ) ORDER BY id`,
      )
      .all({ fts, lo, hi, rids: JSON.stringify(rids) });
    const out = new Map<number, SearchHit[]>();
    for (const row of rows) {
      const rid = Math.floor(row.k / 2 ** LINE_BITS);
      let list = out.get(rid);
      if (!list) out.set(rid, (list = []));
      list.push({ time: row.t, text: row.text });
    }
    return out;
  }

  private pathOf(row: Pick<RecordingRow, 'id' | 'path'>): string | undefined {
    // The row's path is ours, but the index is a file on disk: check it before it becomes a path.
    return isIndexPath(row.path, row.id) ? join(this.dataDir, ...row.path.split('/')) : undefined;
  }

  private async findFile(id: string): Promise<string | undefined> {
    const files = await listCastFiles(this.dataDir, this.log);
    const rel = files.get(id);
    return rel ? join(this.dataDir, rel) : undefined;
  }

  private isInProgress(id: string): boolean {
    if (this.live.has(id)) return true;
    const row = this.st.byId.get(id);
    // Live, or ended and not sealed yet, while its writer runs.
    return !!row && (row.live === 1 || row.integrity === 'pending') && this.writerAlive();
  }

  /** Is a writer (this library, or a serving process) maintaining the index right now? */
  private writerAlive(): boolean {
    if (this.lock) return true;
    const now = Date.now();
    if (this.writerSeen && now - this.writerSeen.at < WRITER_CHECK_MS) return this.writerSeen.alive;
    const alive = Library.serverRunningIn(this.dataDir);
    this.writerSeen = { at: now, alive };
    return alive;
  }

  /** Resolves once ended uploads are sealed and queued search indexing is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    this.flush();
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  /**
   * Stops background work, waits for recordings that ended to be sealed, writes what is pending
   * and closes the index. Recordings still live stay marked live; the next start finishes them.
   */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.seek.stop();
    // Search rendering and retention stop at their next step; sealing of ended uploads finishes.
    this.searchQueue.length = 0;
    await this.searchWorker?.close();
    this.flush();
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    this.flush();
    this.closed = true;
    this.live.clear();
    this.db.close();
    this.lock?.release();
  }
}

// --- module helpers -------------------------------------------------------------------------------

/** Every DATA/recordings/YYYY/MM/DD/ID.cast, by id (relative paths with "/"). */
export async function listCastFiles(dataDir: string, log: Logger = silentLogger): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const root = recordingsDir(dataDir);
  for (const year of await numberedDirs(root, 4)) {
    for (const month of await numberedDirs(join(root, year), 2)) {
      for (const day of await numberedDirs(join(root, year, month), 2)) {
        let names: string[];
        try {
          names = await readdir(join(root, year, month, day));
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (!name.endsWith('.cast')) continue;
          const id = name.slice(0, -'.cast'.length);
          if (!isRecordingId(id)) continue;
          const rel = `recordings/${year}/${month}/${day}/${name}`;
          if (files.has(id)) {
            log.warn('the same recording id is in two places; indexing the first', { id, first: files.get(id), second: rel });
            continue;
          }
          files.set(id, rel);
        }
      }
    }
  }
  return files;
}

async function numberedDirs(dir: string, digits: number): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    const pattern = new RegExp(`^\\d{${digits}}$`);
    return entries.filter((e) => e.isDirectory() && pattern.test(e.name)).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Runs `task` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function statStamp(path: string): { size: number; mtimeMs: number } | undefined {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: Math.floor(s.mtimeMs) };
  } catch {
    return undefined;
  }
}

/** Whether a file found on disk was a complete upload: the seal says; without one, guess from the file. */
function completeFrom(scan: ScannedCast, record: ManifestRecord | undefined): boolean {
  if (record?.seal) return record.seal.complete;
  // A kubecast recording without a seal was interrupted before it closed.
  if (scan.header && 'kubecast' in scan.header) return false;
  // Files from other writers: complete when readable and not cut mid-line.
  return scan.header !== null && !scan.unterminated;
}

async function removeEmptyDirs(dir: string, stopAt: string): Promise<void> {
  let current = dir;
  while (current.startsWith(stopAt + sep) && current !== stopAt) {
    try {
      await rmdir(current);
    } catch {
      return; // not empty (or gone): stop climbing
    }
    current = dirname(current);
  }
}

/** The recording id of a file: its header's kubecast.id, else its name (ID.cast). */
async function idOfFile(path: string): Promise<string | undefined> {
  let id: string | undefined;
  try {
    await scanCastFile(path, {
      noHash: true,
      onHeader: () => {},
      events: () => false,
    }).then((scan) => {
      const kc = scan.header?.kubecast;
      if (kc && typeof kc === 'object' && isRecordingId((kc as Record<string, unknown>).id)) id = (kc as Record<string, string>).id;
    });
  } catch {
    // unreadable: fall back to the name
  }
  if (id) return id;
  const base = path.split(/[\\/]/).pop() ?? '';
  const fromName = base.endsWith('.cast') ? base.slice(0, -'.cast'.length) : '';
  return isRecordingId(fromName) ? fromName : undefined;
}

function parseArgv(value: string | null): string[] | null {
  if (value === null) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : null;
  } catch {
    return null;
  }
}

function dateMs(value: Date, name: string): number {
  const ms = value instanceof Date ? value.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new LibraryQueryError(`${name} is not a valid date`);
  return ms;
}

function encodeCursor(startedMs: number, id: string): string {
  return Buffer.from(JSON.stringify([startedMs, id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    if (cursor.length > 200) throw new Error('too long');
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && isRecordingId(value[1])) {
      return [value[0] as number, value[1] as string];
    }
  } catch {
    // fall through
  }
  throw new LibraryQueryError('invalid cursor');
}

/** Prints "indexing recordings: 350/1200" on a terminal stream (stderr), for onProgress. */
export function progressPrinter(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): (done: number, total: number, phase: ProgressPhase) => void {
  return (done, total, phase) => {
    if (total < 100) return; // small folders index quietly
    const label = phase === 'files' ? 'indexing recordings' : 'indexing recordings for search';
    if (stream.isTTY) stream.write(`\r${label}: ${done}/${total}${done === total ? '\n' : ''}`);
    else if (done === total || done % 100 === 0) stream.write(`${label}: ${done}/${total}\n`);
  };
}
