// An append-only cast file with batched fsync. Only whole lines are appended, so the file is valid
// asciicast up to its last line at every moment, including after a crash. `durable` counts bytes
// known to be on disk; the recorder acks exactly that.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** At most this long between a write and the fsync that makes it durable. */
export const SYNC_INTERVAL_MS = 100;
/** Or sooner, once this much is waiting. */
export const SYNC_BYTES = 1024 * 1024;

export class CastFile {
  private written: number;
  /** Where the next write lands: explicit positions, because a reopened file's handle starts at 0. */
  private writePosition: number;
  private durableBytes: number;
  private pending: Buffer[] = [];
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** Called whenever `durable` grows. */
  onDurable: ((durable: number) => void) | undefined;
  /** Called once when a write or sync fails; the file then refuses further appends. */
  onError: ((error: Error) => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    size: number,
  ) {
    this.written = size;
    this.durableBytes = size;
    this.writePosition = size;
  }

  /**
   * Creates a new file; fails if it exists (ids are unique, so that would be a bug or an attack).
   * Its folder is synced before this returns, so no ack can count bytes of a file whose directory
   * entry a power loss could still take away.
   */
  static async create(path: string): Promise<CastFile> {
    const handle = await open(path, 'wx', 0o640);
    try {
      await syncDirectory(dirname(path));
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new CastFile(path, handle, 0);
  }

  /**
   * Reopens a file to continue it. A partial last line (a crash mid-write) is cut off, so appends
   * start on a line boundary; returns the file with its size = bytes of whole lines.
   */
  static async reopen(path: string): Promise<CastFile> {
    const handle = await open(path, 'r+');
    try {
      const { size } = await handle.stat();
      const keep = await lastLineBoundary(handle, size);
      if (keep < size) await handle.truncate(keep);
      await handle.datasync();
      return new CastFile(path, handle, keep);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get size(): number {
    return this.written;
  }

  get durable(): number {
    return this.durableBytes;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /** Appends whole lines (the caller guarantees `data` ends with "\n"). */
  append(data: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('cast file is closed');
    if (data.byteLength === 0) return;
    this.pending.push(data);
    this.written += data.byteLength;
    this.kick();
  }

  /** Writes and syncs everything appended so far. */
  async flush(): Promise<void> {
    while (!this.failure && (this.pending.length > 0 || this.writing || this.syncing || this.durableBytes < this.written)) {
      if (this.writing) await this.writing;
      else if (this.syncing) await this.syncing;
      else if (this.pending.length > 0) this.kick();
      else this.startSync();
    }
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.failure) await this.flush();
    } finally {
      this.closed = true;
      if (this.syncTimer) clearTimeout(this.syncTimer);
      await this.handle.close().catch(() => {});
    }
  }

  // Writing and syncing run side by side: an fdatasync covers what was written before it started,
  // and writes go on meanwhile, so a slow sync does not stall the stream.
  private writing: Promise<void> | undefined;
  private syncing: Promise<void> | undefined;

  private kick(): void {
    if (this.writing || this.closed || this.failure) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      if (!this.failure && this.pending.length > 0) this.kick();
    });
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
        this.pending = [];
        const batchStart = this.writePosition;
        let offset = 0;
        try {
          while (offset < batch.byteLength) {
            const { bytesWritten } = await this.handle.write(batch, offset, batch.byteLength - offset, this.writePosition);
            offset += bytesWritten;
            this.writePosition += bytesWritten;
          }
        } catch (err) {
          // A failed write (disk full, file too large) may have put part of a line down: cut back to
          // the batch start, a line boundary, so the file stays whole lines.
          await this.handle.truncate(batchStart).catch(() => {});
          this.writePosition = batchStart;
          throw err;
        }
        this.planSync();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** Syncs now when a lot is waiting, otherwise within SYNC_INTERVAL_MS. */
  private planSync(): void {
    if (this.writePosition - this.durableBytes >= SYNC_BYTES) this.startSync();
    else if (this.durableBytes < this.writePosition && !this.syncTimer && !this.syncing) {
      this.syncTimer = setTimeout(() => {
        this.syncTimer = undefined;
        this.startSync();
      }, SYNC_INTERVAL_MS);
    }
  }

  private startSync(): void {
    if (this.syncing || this.failure || this.closed) return;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    const target = this.writePosition;
    if (target <= this.durableBytes) return;
    this.syncing = this.handle
      .datasync()
      .then(() => {
        this.durableBytes = Math.max(this.durableBytes, target);
        this.onDurable?.(this.durableBytes);
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.syncing = undefined;
        if (!this.failure) this.planSync();
      });
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.onError?.(this.failure);
  }
}

/** Makes a folder's entries (files or folders just created in it) durable. */
export async function syncDirectory(path: string): Promise<void> {
  // Windows cannot open a folder to sync it; NTFS journals the entry itself.
  if (process.platform === 'win32') return;
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Offset just after the last "\n" in the file (0 if none). */
async function lastLineBoundary(handle: FileHandle, size: number): Promise<number> {
  const block = Buffer.allocUnsafe(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - block.byteLength);
    const { bytesRead } = await handle.read(block, 0, end - start, start);
    const nl = block.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}
