// The recordings index: SQLite (better-sqlite3) at DATA/index.sqlite in WAL mode, so the serving
// process writes while `kubecast ls`/`verify` read. It is a cache of what the cast files and the
// signed manifest say: any schema change, or a damaged file, means "drop it and rebuild from the
// files" rather than a migration.
//
// Search: rendered screen lines live in the table `lines` (text, time in the recording), indexed by
// the external-content FTS5 table `screen`. A line's id is rid·2^24 + n (n = its number within the
// recording), so one recording's lines are an id range of a real table (FTS5 itself does not use
// rowid ranges without MATCH: a range delete there scans everything).
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { isRecordingId } from '../util/ids';
import type { Logger } from '../util/log';

export type DatabaseHandle = Database.Database;

/** Bump on any change to the tables below: an index of another version is dropped and rebuilt. */
export const SCHEMA_VERSION = 1;
export const LINE_BITS = 24;
/** Lines one recording can have in the search index (the rowid space of one recording). */
export const MAX_LINES_PER_RECORDING = 2 ** LINE_BITS - 1;
const LINE_SPAN = 2 ** LINE_BITS;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recordings (
  rid INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  user TEXT NOT NULL DEFAULT '',
  cluster TEXT NOT NULL DEFAULT '',
  context TEXT,
  namespace TEXT NOT NULL DEFAULT '',
  pod TEXT NOT NULL DEFAULT '',
  container TEXT NOT NULL DEFAULT '',
  command TEXT NOT NULL DEFAULT '',
  argv TEXT,
  session_type TEXT,
  protocol TEXT,
  tty INTEGER NOT NULL DEFAULT 0,
  cols INTEGER,
  rows INTEGER,
  exit_code INTEGER,
  bytes INTEGER NOT NULL DEFAULT 0,
  complete INTEGER NOT NULL DEFAULT 0,
  live INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  integrity TEXT NOT NULL DEFAULT 'pending',
  kubectl_version TEXT,
  client_address TEXT,
  search_state TEXT NOT NULL DEFAULT 'pending',
  indexed_chars INTEGER NOT NULL DEFAULT 0,
  file_size INTEGER,
  file_mtime_ms INTEGER
);
CREATE INDEX IF NOT EXISTS recordings_started ON recordings (started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS recordings_user ON recordings (user, started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS recordings_namespace ON recordings (namespace, started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS recordings_pod ON recordings (pod, started_ms DESC, id DESC);
CREATE INDEX IF NOT EXISTS recordings_search ON recordings (search_state) WHERE search_state <> 'done';
CREATE TABLE IF NOT EXISTS lines (id INTEGER PRIMARY KEY, text TEXT NOT NULL, t REAL NOT NULL);
-- columnsize = 0: no per-row token counts, which only BM25 ranking would use (hits are in time order).
CREATE VIRTUAL TABLE IF NOT EXISTS screen USING fts5(text, content = 'lines', content_rowid = 'id', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2');
`;

export type IntegrityColumn = 'intact' | 'modified' | 'truncated' | 'unsigned' | 'pending';
/** pending: not indexed yet; indexing: claimed by a process; done / capped (first N of output only) / failed. */
export type SearchState = 'pending' | 'indexing' | 'done' | 'capped' | 'failed';

export interface RecordingRow {
  rid: number;
  id: string;
  path: string;
  version: number;
  started_ms: number;
  ended_ms: number | null;
  duration_ms: number;
  user: string;
  cluster: string;
  context: string | null;
  namespace: string;
  pod: string;
  container: string;
  command: string;
  argv: string | null;
  session_type: string | null;
  protocol: string | null;
  tty: number;
  cols: number | null;
  rows: number | null;
  exit_code: number | null;
  bytes: number;
  complete: number;
  live: number;
  sha256: string | null;
  integrity: IntegrityColumn;
  kubectl_version: string | null;
  client_address: string | null;
  search_state: SearchState;
  indexed_chars: number;
  file_size: number | null;
  file_mtime_ms: number | null;
}

export type RecordingFields = Omit<RecordingRow, 'rid'>;

export interface OpenedIndex {
  db: DatabaseHandle;
  /** True when the index was created empty (missing, damaged, or of another schema version). */
  fresh: boolean;
}

export function lineRowid(rid: number, n: number): number {
  return rid * LINE_SPAN + n;
}

export function lineRange(rid: number): [number, number] {
  return [rid * LINE_SPAN, rid * LINE_SPAN + LINE_SPAN - 1];
}

/**
 * Relative path of a recording's file as the index may hold it: exactly
 * recordings/YYYY/MM/DD/ID.cast. Anything else in a row (a tampered index) is refused before it
 * becomes a file path.
 */
export function isIndexPath(path: string, id: string): boolean {
  return isRecordingId(id) && /^recordings\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\.cast$/.test(path) && path.endsWith(`/${id}.cast`);
}

function configure(db: DatabaseHandle): void {
  // WAL: readers (the CLI) never block the writer (the server) and see committed data.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A CLI writing (rebuild, verify) while the server writes waits for its turn instead of failing.
  db.pragma('busy_timeout = 5000');
}

/** Does this database look like our index, undamaged? Throws on a file that is not a database. */
function healthy(db: DatabaseHandle, deepCheck: boolean): string | undefined {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version !== SCHEMA_VERSION) return `schema version ${version}, expected ${SCHEMA_VERSION}`;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table') AND name IN ('meta', 'recordings', 'lines', 'screen')").all();
  if (tables.length !== 4) return 'tables missing';
  if (deepCheck) {
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    if (rows.length !== 1 || rows[0].quick_check !== 'ok') return `quick_check: ${rows.map((r) => r.quick_check).slice(0, 3).join('; ')}`;
    // FTS5's own consistency check of its index against the lines it indexes.
    db.prepare("INSERT INTO screen(screen, rank) VALUES ('integrity-check', 1)").run();
  }
  return undefined;
}

/**
 * Opens (or creates) the index. A file that cannot be opened, fails its checks, or has another
 * schema version is moved aside (damaged) or removed (old version) and a new, empty one is made.
 */
export async function openIndex(path: string, options: { logger: Logger; deepCheck: boolean; knownDamaged?: string }): Promise<OpenedIndex> {
  const log = options.logger;
  if (existsSync(path)) {
    let db: DatabaseHandle | undefined;
    // knownDamaged: a query already failed on it (damage the light check cannot see).
    let problem: string | undefined = options.knownDamaged;
    let damaged = true;
    if (problem === undefined) {
      try {
        db = new Database(path, { timeout: 5000 });
        configure(db);
        problem = healthy(db, options.deepCheck);
        if (problem?.startsWith('schema version')) damaged = false;
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
    }
    if (db && problem === undefined) return { db, fresh: false };
    db?.close();
    if (damaged) {
      const aside = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      log.warn('the recordings index is damaged; moving it aside and rebuilding it from the cast files', { problem, movedTo: aside });
      await rename(path, aside);
    } else {
      log.info('the recordings index has another schema version; rebuilding it from the cast files', { problem });
      await rm(path, { force: true });
    }
    // The WAL and shared-memory files belong to the old database; replaying them into a new one would corrupt it.
    await rm(`${path}-wal`, { force: true });
    await rm(`${path}-shm`, { force: true });
  }
  const db = new Database(path, { timeout: 5000 });
  configure(db);
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  return { db, fresh: true };
}

/** An SQLite error saying the index file is damaged (as opposed to busy, full, or a bad query). */
export function isIndexDamage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/**
 * Opens the index of a folder another process (the writer) maintains: no repair, no schema
 * creation — if it is unreadable, only its owner may replace it.
 */
export function openIndexAsReader(path: string): OpenedIndex {
  let db: DatabaseHandle | undefined;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 5000 });
    db.pragma('busy_timeout = 5000');
    const problem = healthy(db, false);
    if (problem) throw new Error(problem);
    return { db, fresh: false };
  } catch (err) {
    db?.close();
    throw new Error(
      `the recordings index ${path} cannot be read (${err instanceof Error ? err.message : String(err)}); ` +
        'the kubecast process serving this folder rebuilds it when restarted',
    );
  }
}

const COLUMNS: Array<keyof RecordingFields> = [
  'id', 'path', 'version', 'started_ms', 'ended_ms', 'duration_ms', 'user', 'cluster', 'context', 'namespace', 'pod', 'container',
  'command', 'argv', 'session_type', 'protocol', 'tty', 'cols', 'rows', 'exit_code', 'bytes', 'complete', 'live', 'sha256',
  'integrity', 'kubectl_version', 'client_address', 'search_state', 'indexed_chars', 'file_size', 'file_mtime_ms',
];

/** Prepared statements over an open index. */
export class IndexStatements {
  readonly insert;
  readonly update;
  readonly byId;
  readonly byRid;
  readonly deleteRow;
  private readonly unindexLines;
  private readonly deleteLineRows;
  private readonly insertLineRow;
  private readonly indexLine;
  readonly allPaths;
  readonly setMeta;
  readonly getMeta;
  readonly setSearchState;
  readonly claimSearch;

  constructor(readonly db: DatabaseHandle) {
    this.insert = db.prepare<RecordingFields, never>(
      `INSERT INTO recordings (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => '@' + c).join(', ')})`,
    );
    this.update = db.prepare<RecordingFields, never>(
      `UPDATE recordings SET ${COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`,
    );
    this.byId = db.prepare<[string], RecordingRow>('SELECT * FROM recordings WHERE id = ?');
    this.byRid = db.prepare<[number], RecordingRow>('SELECT * FROM recordings WHERE rid = ?');
    this.deleteRow = db.prepare<[number], never>('DELETE FROM recordings WHERE rid = ?');
    // External content: FTS5 is told what to forget (the old text), then the rows go.
    this.unindexLines = db.prepare<[number, number], never>("INSERT INTO screen (screen, rowid, text) SELECT 'delete', id, text FROM lines WHERE id BETWEEN ? AND ?");
    this.deleteLineRows = db.prepare<[number, number], never>('DELETE FROM lines WHERE id BETWEEN ? AND ?');
    this.insertLineRow = db.prepare<[number, string, number], never>('INSERT INTO lines (id, text, t) VALUES (?, ?, ?)');
    this.indexLine = db.prepare<[number, string], never>('INSERT INTO screen (rowid, text) VALUES (?, ?)');
    this.allPaths = db.prepare<[], Pick<RecordingRow, 'rid' | 'id' | 'path' | 'live' | 'search_state' | 'file_size' | 'file_mtime_ms'>>(
      'SELECT rid, id, path, live, search_state, file_size, file_mtime_ms FROM recordings',
    );
    this.setMeta = db.prepare<[string, string], never>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.getMeta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.setSearchState = db.prepare<[SearchState, number, number], never>('UPDATE recordings SET search_state = ?, indexed_chars = ? WHERE rid = ?');
    this.claimSearch = db.prepare<[number], never>("UPDATE recordings SET search_state = 'indexing' WHERE rid = ? AND search_state = 'pending' AND live = 0");
  }

  /** Inserts or replaces the row of `fields.id`; returns its rid. */
  upsert(fields: RecordingFields): number {
    const existing = this.byId.get(fields.id);
    if (existing) {
      this.update.run(fields);
      return existing.rid;
    }
    return Number(this.insert.run(fields).lastInsertRowid);
  }

  /** Adds a search line (call inside a transaction). */
  insertLine(id: number, text: string, time: number): void {
    this.insertLineRow.run(id, text, time);
    this.indexLine.run(id, text);
  }

  /** Removes all search lines of a recording. */
  deleteLines(rid: number): void {
    const [lo, hi] = lineRange(rid);
    this.unindexLines.run(lo, hi);
    this.deleteLineRows.run(lo, hi);
  }

  /** Removes a recording's row and its search lines. */
  remove(rid: number): void {
    this.deleteLines(rid);
    this.deleteRow.run(rid);
  }
}

/**
 * Turns a person's search text into an FTS5 query that cannot be a syntax error: each
 * whitespace-separated word becomes a quoted phrase (quotes doubled), so FTS operators (OR, NEAR,
 * *, parentheses, column filters) are only ever searched for as text; all words must match (on
 * one line). Words of 3+ characters match as prefixes ("kubec" finds "kubecast"); shorter ones
 * exactly ("ls" is not "lsof", and a 1–2 letter prefix would expand to much of the vocabulary).
 * Words with no letters or digits are dropped (they would be empty phrases). Null when nothing is left.
 */
export function ftsQuery(text: string): string | null {
  const words = text
    .slice(0, 1024)
    // Control characters (NUL ends an FTS5 string early) are separators, as the tokenizer treats them.
    // eslint-disable-next-line no-control-regex -- control characters are what this removes
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .split(/\s+/)
    .filter((w) => /[\p{L}\p{N}]/u.test(w))
    .slice(0, 16)
    .map((w) => w.slice(0, 128));
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replaceAll('"', '""')}"${[...w].length >= 3 ? '*' : ''}`).join(' ');
}
