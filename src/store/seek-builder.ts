// Builds a recording's seek index (seek-index.ts) in one streamed pass over its cast file: the
// events go through the live view's headless terminal (TerminalScreen, so keyframes are the same
// snapshots a late live viewer gets), and every N bytes of cast or M seconds of recording the
// screen is serialised as a keyframe. Memory stays bounded: the file is read a MiB at a time,
// keyframes go straight to the index file, and sizes and counts are capped.
//
// The pass runs on the event loop the recorder shares, so the terminal gets only a share of the
// loop's time (TerminalBudget) and the reader waits for it (a bounded backlog).
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { CastLineParser, DEFAULT_COLS, DEFAULT_ROWS, type CastEvent } from '../cast';
import { OutputEvent } from '../live/output';
import { charBoundary, clampSize, type ScreenSnapshot } from '../live/screen';
import { TerminalBudget, TerminalScreen } from '../live/terminal-screen';
import {
  encodeFooter,
  isPlayerEvent,
  parseEventLine,
  readLines,
  SEEK_FORMAT,
  SEEK_VERSION,
  seekPathFor,
  type Keyframe,
  type SeekActivity,
  type SeekMeta,
} from './seek-index';

export interface SeekBuildOptions {
  /** A keyframe at least every this many bytes of cast lines (default 1 MiB; raised for huge files to respect MAX_KEYFRAMES). */
  keyframeBytes?: number;
  /** …or every this many seconds of recording, once MIN_KEYFRAME_BYTES have passed since the last (default 60). */
  keyframeSeconds?: number;
  /** The share of the event loop the terminal may take (default 0.5). */
  share?: number;
  /** Checked between chunks: true abandons the build (nothing is left behind). */
  shouldStop?: () => boolean;
}

export const DEFAULT_KEYFRAME_BYTES = 1024 * 1024;
/**
 * Half the event loop at most: xterm parses in slices of a few ms and yields between them, so
 * uploads and API requests keep being served while a long recording is indexed.
 */
export const DEFAULT_SHARE = 0.5;
export const DEFAULT_KEYFRAME_SECONDS = 60;
/** Keyframes per recording at most; the byte interval grows with the file to stay below. */
export const MAX_KEYFRAMES = 2048;
/** A time-based keyframe needs at least this much cast since the previous one (idle sessions get few). */
const MIN_KEYFRAME_BYTES = 64 * 1024;
/** A screen serialising to more than this is not kept as a keyframe (the next chance is taken). */
export const MAX_KEYFRAME_CHARS = 1024 * 1024;
/** All keyframes of one index together at most (bytes). */
const MAX_KEYFRAMES_TOTAL = 128 * 1024 * 1024;
const MAX_MARKERS = 1000;
const MAX_MARKER_LABEL = 256;
/** Activity buckets at most: the bucket width doubles when a recording outlasts them. */
const MAX_BUCKETS = 4096;
const FIRST_BUCKET_SECONDS = 1 / 16;
/** Output handed to the terminal at once (it is merged across events between keyframes). */
const FEED_CHARS = 32 * 1024;
/** The terminal's backlog above which the reader waits, and below which it goes on. */
const BACKLOG_HIGH = 1024 * 1024;
const BACKLOG_LOW = 256 * 1024;
const POLL_MS = 2;

export class SeekBuildAborted extends Error {
  constructor() {
    super('seek index build abandoned');
    this.name = 'SeekBuildAborted';
  }
}

/**
 * Builds the seek index beside `castPath` (ID.seek), replacing any older one. Resolves with its
 * description, or null when the file cannot have one (no asciicast v2/v3 header, no output).
 * Throws SeekBuildAborted when `shouldStop` said so.
 */
export async function buildSeekIndex(castPath: string, options: SeekBuildOptions = {}): Promise<SeekMeta | null> {
  const info = await stat(castPath);
  const cast = { size: info.size, mtimeMs: Math.floor(info.mtimeMs) };
  const target = seekPathFor(castPath);
  const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  const file = await open(temp, 'wx', 0o640);
  const pass = new BuildPass(file, cast.size, options);
  let done = false;
  try {
    await readLines(castPath, 0, cast.size, (buf, start, end, offset, last) => pass.line(buf, start, end, offset, last), options.shouldStop);
    if (options.shouldStop?.()) throw new SeekBuildAborted();
    const meta = await pass.finish(cast);
    if (!meta) return null;
    await file.close();
    if (options.shouldStop?.()) throw new SeekBuildAborted();
    await rename(temp, target);
    done = true;
    return meta;
  } finally {
    pass.dispose();
    if (!done) {
      await file.close().catch(() => {});
      await unlink(temp).catch(() => {});
    }
  }
}

class BuildPass {
  private parser: CastLineParser | undefined;
  private castVersion: 2 | 3 = 2;
  private headerBytes = 0;
  private screen: TerminalScreen | undefined;
  private readonly budget: TerminalBudget;
  private term: SeekMeta['term'] = { cols: DEFAULT_COLS, rows: DEFAULT_ROWS };
  private seq = 0;
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly keyframes: Keyframe[] = [];
  private keyframeBytesWritten = 0;
  private readonly markers: Array<[number, string]> = [];
  private activity: SeekActivity = { bucket: FIRST_BUCKET_SECONDS, volume: [] };
  private outputChars = 0;
  private events = 0;
  private exitCode: number | null = null;
  private duration = 0;
  /** Player events in the current segment, the last one's time, cast bytes since the last keyframe. */
  private segmentEvents = 0;
  private lastSent = -1;
  private bytesSince = 0;
  private readonly byteInterval: number;
  private readonly minBytes: number;
  private readonly seconds: number;
  private unusable = false;
  private disposed = false;

  constructor(
    private readonly file: FileHandle,
    castSize: number,
    private readonly options: SeekBuildOptions,
  ) {
    this.budget = new TerminalBudget(options.share ?? DEFAULT_SHARE);
    // A bigger file gets sparser keyframes, so that there are at most MAX_KEYFRAMES of them.
    const floor = Math.ceil(castSize / MAX_KEYFRAMES);
    this.byteInterval = Math.max(options.keyframeBytes ?? DEFAULT_KEYFRAME_BYTES, floor);
    this.minBytes = Math.min(this.byteInterval, Math.max(MIN_KEYFRAME_BYTES, floor));
    this.seconds = options.keyframeSeconds ?? DEFAULT_KEYFRAME_SECONDS;
  }

  line(buf: Buffer, start: number, end: number, offset: number, last: boolean): void | Promise<void> {
    if (this.unusable) return;
    if (!this.parser) return this.header(buf, start, end, offset);
    const clock = this.parser.duration;
    const event = parseEventLine(this.parser, buf, start, end, last);
    const lineBytes = end - start + (last ? 0 : 1);
    if (event === null) {
      this.bytesSince += lineBytes;
      return;
    }
    this.events++;
    if (isPlayerEvent(event)) {
      // A segment after the first must start with a player event later than every event before it.
      if (this.keyframeDue(event)) {
        return this.keyframe(event.time, offset, clock).then(() => {
          this.apply(event);
          this.bytesSince += lineBytes;
        });
      }
      this.apply(event);
    } else if (event.code === 'm') {
      if (this.markers.length < MAX_MARKERS) this.markers.push([event.time, event.data.slice(0, MAX_MARKER_LABEL)]);
    } else if (event.code === 'x') {
      const code = Number.parseInt(event.data, 10);
      if (Number.isFinite(code)) this.exitCode = code;
    }
    this.bytesSince += lineBytes;
    if (this.screen && this.screen.stats().backlog > BACKLOG_HIGH) return this.drain(BACKLOG_LOW);
  }

  private header(buf: Buffer, start: number, end: number, offset: number): void {
    const parser = new CastLineParser();
    try {
      parser.line(buf.toString('utf8', start, end));
    } catch {
      this.unusable = true; // v1, not JSON, absurd sizes: no index (small v1 files play whole)
      return;
    }
    if (!parser.header) return; // a blank line before the header
    this.parser = parser;
    this.castVersion = parser.version === 3 ? 3 : 2;
    this.headerBytes = offset + (end - start) + 1;
    const size = clampSize(parser.header.cols, parser.header.rows);
    this.term = { cols: size.cols, rows: size.rows };
    if (parser.header.theme) this.term.theme = parser.header.theme;
    this.screen = new TerminalScreen(size.cols, size.rows, {
      // Only the visible screen goes into keyframes (the player has no scrollback).
      scrollback: 0,
      // The reader keeps the backlog far below this, so the screen never skips output.
      backlogSize: 16 * BACKLOG_HIGH,
      budget: this.budget,
    });
    // The budget charges unwatched live screens extra, to favour the ones people look at; this one
    // is work someone will look at, and its share is set on its own.
    this.screen.watched(true);
    this.keyframes.push({ t: 0, offset: this.headerBytes, clock: 0, cols: size.cols, rows: size.rows, init: [0, 0] });
  }

  private keyframeDue(event: CastEvent): boolean {
    if (this.segmentEvents === 0 || event.time <= this.lastSent || this.keyframes.length >= MAX_KEYFRAMES) return false;
    if (this.keyframeBytesWritten >= MAX_KEYFRAMES_TOTAL) return false;
    if (this.bytesSince >= this.byteInterval) return true;
    const since = event.time - this.keyframes[this.keyframes.length - 1].t;
    return since >= this.seconds && this.bytesSince >= this.minBytes;
  }

  /** Serialises the screen as it stands before the event at `offset` and records the keyframe. */
  private async keyframe(time: number, offset: number, clock: number): Promise<void> {
    const snapshot = await this.snapshot();
    this.bytesSince = 0;
    if (snapshot.data.length > MAX_KEYFRAME_CHARS) return; // too big a screen: try again one interval later
    const bytes = Buffer.from(snapshot.data, 'utf8');
    const position = this.keyframeBytesWritten;
    await writeAll(this.file, bytes, position);
    this.keyframeBytesWritten += bytes.byteLength;
    this.keyframes.push({ t: time, offset, clock, cols: snapshot.cols, rows: snapshot.rows, init: [position, bytes.byteLength] });
    this.segmentEvents = 0;
  }

  private apply(event: CastEvent): void {
    this.segmentEvents++;
    this.lastSent = event.time;
    this.duration = event.time;
    if (event.code === 'o') {
      this.outputChars += event.data.length;
      this.count(event.time, event.data.length);
      this.pending.push(event.data);
      this.pendingChars += event.data.length;
      if (this.pendingChars >= FEED_CHARS) this.feed();
      return;
    }
    const size = /^(\d{1,5})x(\d{1,5})$/.exec(event.data);
    if (!size || !this.screen) return;
    const cols = Number(size[1]);
    const rows = Number(size[2]);
    if (cols < 1 || rows < 1) return;
    this.feed();
    this.screen.resize(++this.seq, event.time, cols, rows);
  }

  /** Hands the merged output to the terminal in pieces it can take without skipping any. */
  private feed(): void {
    if (this.pendingChars === 0 || !this.screen) return;
    const text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    for (let from = 0; from < text.length; ) {
      const to = from + FEED_CHARS >= text.length ? text.length : charBoundary(text, from + FEED_CHARS);
      this.screen.output(OutputEvent.fromText(++this.seq, this.duration, text.slice(from, to)));
      from = to;
    }
  }

  /** The screen once everything fed so far is in it (checked by sequence number, not assumed). */
  private async snapshot(): Promise<ScreenSnapshot> {
    const screen = this.screen;
    if (!screen) throw new Error('no terminal');
    this.feed();
    for (let attempt = 0; ; attempt++) {
      await this.drain(0);
      const snapshot = await new Promise<ScreenSnapshot>((resolve) => screen.snapshot(resolve, false));
      if (snapshot.seq === this.seq) return snapshot;
      if (attempt >= 100) throw new Error(`the terminal did not catch up (at ${snapshot.seq} of ${this.seq})`);
      await delay(POLL_MS);
    }
  }

  /** Waits until the terminal's backlog is at most `low` (0: until it has taken everything). */
  private async drain(low: number): Promise<void> {
    const screen = this.screen;
    if (!screen) return;
    while (low === 0 ? !screen.idle : screen.stats().backlog > low) {
      if (this.options.shouldStop?.()) throw new SeekBuildAborted();
      await delay(POLL_MS);
    }
  }

  private count(time: number, chars: number): void {
    let index = Math.floor(time / this.activity.bucket);
    while (index >= MAX_BUCKETS) {
      // Twice as wide buckets: pairs are merged.
      const merged: number[] = [];
      for (let i = 0; i < this.activity.volume.length; i += 2) merged.push((this.activity.volume[i] ?? 0) + (this.activity.volume[i + 1] ?? 0));
      this.activity = { bucket: this.activity.bucket * 2, volume: merged };
      index = Math.floor(time / this.activity.bucket);
    }
    const volume = this.activity.volume;
    while (volume.length <= index) volume.push(0);
    volume[index] += chars;
  }

  /** Writes the description and the footer; null when the cast gave nothing to play. */
  async finish(cast: SeekMeta['cast']): Promise<SeekMeta | null> {
    if (this.unusable || !this.parser || this.lastSent < 0) return null;
    // The player wants every segment to start before the end: drop keyframes at the very end.
    const keyframes = this.keyframes.filter((k, i) => i === 0 || k.t < this.duration);
    const meta: SeekMeta = {
      format: SEEK_FORMAT,
      version: SEEK_VERSION,
      cast,
      castVersion: this.castVersion,
      headerBytes: this.headerBytes,
      end: cast.size,
      duration: this.duration,
      term: this.term,
      keyframes,
      markers: this.markers.map(([t, label]): [number, string] => [Math.min(t, this.duration), label]),
      activity: this.activity,
      outputChars: this.outputChars,
      events: this.events,
      exitCode: this.exitCode,
      truncated: this.parser.truncated,
      interval: { bytes: this.byteInterval, seconds: this.seconds },
    };
    const description = Buffer.from(JSON.stringify(meta), 'utf8');
    await writeAll(this.file, description, this.keyframeBytesWritten);
    await writeAll(this.file, encodeFooter(this.keyframeBytesWritten, description.byteLength), this.keyframeBytesWritten + description.byteLength);
    return meta;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.screen?.dispose();
  }
}

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await file.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
