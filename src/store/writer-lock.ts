// Which process owns the index: the one ingesting recordings (`kubecast serve`/`recorder`). Other
// processes (the CLI) only read, and must know whether an owner is alive: a row marked live is in
// progress only while its writer runs, and only an ownerless index may be repaired by a reader.
//
// The lock is an SQLite database held in EXCLUSIVE locking mode: the OS drops the file lock when the
// process dies, however it dies, so there is no stale PID file to reason about (and no PID reuse).
import Database from 'better-sqlite3';

export class WriterLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock; undefined when another connection (process) holds it. */
  static acquire(path: string): WriterLock | undefined {
    const db = new Database(path, { timeout: 2000 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the EXCLUSIVE file lock, which this locking mode then keeps until close.
      db.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER, since TEXT)');
      db.prepare('DELETE FROM owner').run();
      db.prepare('INSERT INTO owner (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
      return new WriterLock(db);
    } catch (err) {
      db.close();
      if (isBusy(err)) return undefined;
      throw err;
    }
  }

  /** Is the lock held by a live process (this one included, through another connection)? */
  static isHeld(path: string): boolean {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0, fileMustExist: true });
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      return false;
    } catch (err) {
      return isBusy(err);
    } finally {
      db?.close();
    }
  }

  release(): void {
    this.db.close();
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
