// The library's seek indexes (seek-index.ts): which recordings get one, building them one at a
// time in the background (never while a recording is being written: only closed recordings are
// queued), loading them for the console API with a small cache, and removing them with their
// recording.
import { stat } from 'node:fs/promises';
import type { Logger } from '../util/log';
import { buildSeekIndex, SeekBuildAborted, type SeekBuildOptions } from './seek-builder';
import { DEFAULT_SEEK_THRESHOLD, loadSeekIndex, removeSeekIndex, seekPathFor, writeSegment, type LoadedSeekIndex } from './seek-index';

export interface SeekIndexOptions extends Omit<SeekBuildOptions, 'shouldStop'> {
  /** Recordings of at least this many bytes get a seek index (default 8 MiB); 0 turns indexing off. */
  thresholdBytes?: number;
}

export type SeekState =
  | { state: 'ready'; index: LoadedSeekIndex }
  /** Queued or being built: ask again shortly. */
  | { state: 'building' }
  /** There is none and none is coming (below the threshold, not buildable, or this process does not build). */
  | { state: 'none'; reason: string };

interface Job {
  id: string;
  castPath: string;
  stop: boolean;
}

/** Loaded indexes kept in memory (each is its description only: keyframes stay on disk). */
const CACHE_SIZE = 16;

export class SeekIndexes {
  private readonly queue: Job[] = [];
  private current: { job: Job; done: Promise<void> } | undefined;
  private running: Promise<void> | undefined;
  private readonly cache = new Map<string, LoadedSeekIndex>();
  /** Casts no index could be built for, by id, with the stamp of the file that failed. */
  private readonly failed = new Map<string, { size: number; mtimeMs: number; reason: string }>();
  private stopped = false;

  constructor(
    private readonly options: SeekIndexOptions & {
      logger: Logger;
      /** Only the process that owns the library builds (readers only use what is there). */
      build: boolean;
      /** Hands background work to the library, so settled() and close() wait for it. */
      track: (task: Promise<void>) => void;
    },
  ) {}

  get threshold(): number {
    return this.options.thresholdBytes ?? DEFAULT_SEEK_THRESHOLD;
  }

  /** Does a recording of this size get a seek index? */
  wants(bytes: number): boolean {
    return this.threshold > 0 && bytes >= this.threshold;
  }

  /** Queues a build of the index of a closed recording (once; a newer request replaces a queued one). */
  schedule(id: string, castPath: string): void {
    if (!this.options.build || this.stopped) return;
    if (this.current?.job.id === id && this.current.job.castPath === castPath && !this.current.job.stop) return;
    const queued = this.queue.findIndex((job) => job.id === id);
    if (queued >= 0) this.queue.splice(queued, 1);
    this.failed.delete(id);
    this.queue.push({ id, castPath, stop: false });
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
      this.options.track(this.running);
    }
  }

  /**
   * Queues a build when the recording should have an index and has no current one (at start, for
   * recordings closed while no writer ran or whose file changed). Cheap when the index is there.
   */
  async ensure(id: string, castPath: string, bytes: number): Promise<void> {
    if (!this.wants(bytes) || !this.options.build || this.stopped) return;
    if (this.isQueued(id)) return;
    if (!(await loadSeekIndex(castPath))) this.schedule(id, castPath);
  }

  /** The index of a closed recording, or why there is none; a missing one is queued (built lazily). */
  async state(id: string, castPath: string, bytes: number): Promise<SeekState> {
    if (!this.wants(bytes)) return { state: 'none', reason: 'the recording is small enough to load whole' };
    const cached = this.cache.get(id);
    if (cached && (await this.stillCurrent(cached, castPath))) return { state: 'ready', index: cached };
    this.cache.delete(id);
    if (this.isQueued(id)) return { state: 'building' };
    const loaded = await loadSeekIndex(castPath);
    if (loaded) {
      this.remember(id, loaded);
      return { state: 'ready', index: loaded };
    }
    const failure = this.failed.get(id);
    if (failure) {
      const info = await stat(castPath).catch(() => undefined);
      if (info && info.size === failure.size && Math.floor(info.mtimeMs) === failure.mtimeMs) return { state: 'none', reason: failure.reason };
    }
    if (!this.options.build || this.stopped) return { state: 'none', reason: 'no seek index has been built for this recording' };
    this.schedule(id, castPath);
    return { state: 'building' };
  }

  /** Writes segment `n` of a ready index; RangeError for a segment that does not exist. */
  async writeSegment(index: LoadedSeekIndex, castPath: string, n: number, sink: (text: string) => void | Promise<void>): Promise<void> {
    if (!Number.isSafeInteger(n) || n < 0 || n >= index.meta.keyframes.length) throw new RangeError(`no segment ${n}`);
    await writeSegment(index, castPath, n, sink);
  }

  /** Forgets and deletes a recording's index, stopping its build first. */
  async remove(id: string, castPath: string): Promise<void> {
    const queued = this.queue.findIndex((job) => job.id === id);
    if (queued >= 0) this.queue.splice(queued, 1);
    const current = this.current;
    if (current && current.job.id === id) {
      current.job.stop = true;
      await current.done;
    }
    this.cache.delete(id);
    this.failed.delete(id);
    await removeSeekIndex(castPath);
  }

  /** Stops building: the build in progress is abandoned at its next step (the library waits for it). */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    if (this.current) this.current.job.stop = true;
  }

  private isQueued(id: string): boolean {
    return (this.current?.job.id === id && !this.current.job.stop) || this.queue.some((job) => job.id === id);
  }

  private async run(): Promise<void> {
    for (let job = this.queue.shift(); job && !this.stopped; job = this.queue.shift()) {
      const done = this.buildOne(job);
      this.current = { job, done };
      await done;
      this.current = undefined;
    }
  }

  private async buildOne(job: Job): Promise<void> {
    const started = performance.now();
    const info = await stat(job.castPath).catch(() => undefined);
    if (!info) return;
    try {
      const meta = await buildSeekIndex(job.castPath, {
        keyframeBytes: this.options.keyframeBytes,
        keyframeSeconds: this.options.keyframeSeconds,
        share: this.options.share,
        shouldStop: () => job.stop || this.stopped,
      });
      this.cache.delete(job.id);
      if (meta) {
        this.options.logger.info('seek index built', { id: job.id, keyframes: meta.keyframes.length, bytes: meta.cast.size, ms: Math.round(performance.now() - started) });
      } else {
        this.failed.set(job.id, { size: info.size, mtimeMs: Math.floor(info.mtimeMs), reason: 'the recording has no terminal output to index' });
        await removeSeekIndex(job.castPath).catch(() => {});
      }
    } catch (err) {
      if (err instanceof SeekBuildAborted) return;
      this.options.logger.warn('cannot build a seek index', { id: job.id, path: seekPathFor(job.castPath), error: err as Error });
      this.failed.set(job.id, { size: info.size, mtimeMs: Math.floor(info.mtimeMs), reason: 'building the seek index failed' });
    }
  }

  private remember(id: string, index: LoadedSeekIndex): void {
    this.cache.delete(id);
    this.cache.set(id, index);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** The cached index still describes the files on disk (neither the cast nor the index changed since). */
  private async stillCurrent(index: LoadedSeekIndex, castPath: string): Promise<boolean> {
    const [seek, cast] = await Promise.all([stat(index.path).catch(() => undefined), stat(castPath).catch(() => undefined)]);
    return (
      !!seek &&
      !!cast &&
      seek.size === index.stamp.size &&
      Math.floor(seek.mtimeMs) === index.stamp.mtimeMs &&
      cast.size === index.meta.cast.size &&
      Math.floor(cast.mtimeMs) === index.meta.cast.mtimeMs
    );
  }
}
