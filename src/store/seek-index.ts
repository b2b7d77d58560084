// The seek index of a long recording: keyframes (the screen serialised by a headless xterm) at
// byte offsets of its cast file, so a player can start anywhere by loading one keyframe and the
// cast lines up to the next one instead of the whole file. The cast itself stays a plain
// asciicast: the index only points into it, lives beside it as ID.seek, and can always be
// rebuilt from it (seek-builder.ts).
//
// The file is the keyframes' text, one after another, then a JSON description (SeekMeta), then a
// fixed-size footer that says where the description is. Written to a temporary name and renamed,
// so a reader sees a whole index or none; checked against the cast's size and mtime when loaded,
// so an index of an older version of the file is never used.
//
// Served to asciinema-player as its "segmented" recording format (3.17+, see
// playerIndex/writeSegment): the index lists segment start times, and segment N is keyframe N
// plus the cast's events from its offset to the next keyframe's, converted on request.
import { createReadStream } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { CastLineParser, type CastEvent, type CastTheme } from '../cast';

export const SEEK_FORMAT = 'kubecast-seek';
export const SEEK_VERSION = 1;
/** Recordings at least this big get a seek index (8 MiB). */
export const DEFAULT_SEEK_THRESHOLD = 8 * 1024 * 1024;
/** The footer: magic, 16 hex digits of the description's offset, 8 of its length. */
const FOOTER_MAGIC = 'KCSEEK01';
const FOOTER_BYTES = FOOTER_MAGIC.length + 16 + 8;
/** Largest description accepted when loading (the builder's bounds keep it far below). */
const MAX_META_BYTES = 16 * 1024 * 1024;
/** Longest cast line turned into a player event; longer ones are skipped, by builder and server alike. */
export const MAX_SEGMENT_LINE_BYTES = 128 * 1024 * 1024;
/** Segments the API serves at most (the builder's keyframe cap is lower). */
export const MAX_SEGMENTS = 100_000;

export interface Keyframe {
  /** Seconds: time of the segment's first event (0 for the first segment). */
  t: number;
  /** Byte offset in the cast of the segment's first line. */
  offset: number;
  /** The reader's clock before that line: asciicast v3 times are intervals counted from it. */
  clock: number;
  /** Terminal size the keyframe was taken at. */
  cols: number;
  rows: number;
  /** [position, length] in bytes of the serialised screen in the seek file ([0, 0]: a blank terminal). */
  init: [number, number];
}

export interface SeekActivity {
  /** Seconds per bucket. */
  bucket: number;
  /** Characters of output per bucket, from time 0. */
  volume: number[];
}

/** The description stored in the seek file. */
export interface SeekMeta {
  format: typeof SEEK_FORMAT;
  version: typeof SEEK_VERSION;
  /** Size and mtime (ms, floored) of the cast file the index was built from. */
  cast: { size: number; mtimeMs: number };
  /** asciicast version of the cast. */
  castVersion: 2 | 3;
  /** Bytes of the header line, newline included (segment readers re-read it to prime their parser). */
  headerBytes: number;
  /** Byte offset where the last segment ends. */
  end: number;
  /** Time of the last event the player gets, seconds. */
  duration: number;
  /** Terminal of the header (the first segment's size). */
  term: { cols: number; rows: number; theme?: CastTheme };
  keyframes: Keyframe[];
  /** Markers (`m` events) of the recording, [seconds, label], at most MAX_MARKERS. */
  markers: Array<[number, string]>;
  activity: SeekActivity;
  /** Characters of output in the whole recording. */
  outputChars: number;
  /** Event lines in the cast. */
  events: number;
  exitCode: number | null;
  /** The cast's last line was cut short (left out, as the reader does). */
  truncated: boolean;
  /** What the builder was asked for: a keyframe every `bytes` of cast or `seconds` of recording. */
  interval: { bytes: number; seconds: number };
}

/** A seek index read from disk, checked against its cast. */
export interface LoadedSeekIndex {
  path: string;
  meta: SeekMeta;
  /** The cast's header line (primes the parser of every segment). */
  headerLine: string;
  /** The seek file's size and mtime when loaded (cached copies are reloaded when it changes). */
  stamp: { size: number; mtimeMs: number };
}

/** asciinema-player's segmented index (its `{ url, format: 'segmented' }` source), plus kubecast's own facts. */
export interface PlayerIndex {
  version: 1;
  duration: number;
  term: { cols: number; rows: number; theme?: CastTheme };
  segments: Array<{ start: number; url: string }>;
  markers: Array<[number, string]>;
  /** Ignored by the player; the console's timeline and notices use it. */
  kubecast: {
    castVersion: 2 | 3;
    activity: SeekActivity;
    outputChars: number;
    events: number;
    exitCode: number | null;
    truncated: boolean;
    /** The recording's own markers (the player's list may also hold search hits). */
    markers: Array<[number, string]>;
  };
}

/** DATA/recordings/…/ID.seek beside DATA/recordings/…/ID.cast. */
export function seekPathFor(castPath: string): string {
  if (!castPath.endsWith('.cast')) throw new Error(`not a cast file path: ${castPath}`);
  return castPath.slice(0, -'.cast'.length) + '.seek';
}

export function encodeFooter(metaOffset: number, metaLength: number): Buffer {
  const text = FOOTER_MAGIC + metaOffset.toString(16).padStart(16, '0') + metaLength.toString(16).padStart(8, '0');
  return Buffer.from(text, 'latin1');
}

/**
 * Loads the seek index beside `castPath`; undefined when there is none, or it is damaged, of
 * another format version, or was built from another version of the cast (size or mtime differ).
 */
export async function loadSeekIndex(castPath: string): Promise<LoadedSeekIndex | undefined> {
  const path = seekPathFor(castPath);
  let castInfo;
  try {
    castInfo = await stat(castPath);
  } catch {
    return undefined;
  }
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    if (info.size < FOOTER_BYTES) return undefined;
    const footer = Buffer.alloc(FOOTER_BYTES);
    await handle.read(footer, 0, FOOTER_BYTES, info.size - FOOTER_BYTES);
    const text = footer.toString('latin1');
    if (!text.startsWith(FOOTER_MAGIC)) return undefined;
    const metaOffset = Number.parseInt(text.slice(FOOTER_MAGIC.length, FOOTER_MAGIC.length + 16), 16);
    const metaLength = Number.parseInt(text.slice(FOOTER_MAGIC.length + 16), 16);
    if (!Number.isSafeInteger(metaOffset) || !Number.isSafeInteger(metaLength) || metaLength > MAX_META_BYTES) return undefined;
    if (metaOffset + metaLength + FOOTER_BYTES !== info.size) return undefined;
    const raw = Buffer.alloc(metaLength);
    await handle.read(raw, 0, metaLength, metaOffset);
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      return undefined;
    }
    const meta = checkMeta(value, metaOffset);
    if (!meta) return undefined;
    if (meta.cast.size !== castInfo.size || meta.cast.mtimeMs !== Math.floor(castInfo.mtimeMs)) return undefined;
    const headerLine = await readRange(castPath, 0, meta.headerBytes);
    return { path, meta, headerLine: headerLine.toString('utf8'), stamp: { size: info.size, mtimeMs: Math.floor(info.mtimeMs) } };
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Removes the seek index beside `castPath` (and does not mind when there is none). */
export async function removeSeekIndex(castPath: string): Promise<void> {
  try {
    await unlink(seekPathFor(castPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The index asciinema-player loads; segment URLs are relative to the index's own URL. */
export function playerIndex(index: LoadedSeekIndex, segmentUrl: (n: number) => string, extraMarkers: Array<[number, string]> = []): PlayerIndex {
  const { meta } = index;
  // The player requires markers in time order and within the duration.
  const markers = [...meta.markers, ...extraMarkers]
    .map(([time, label]): [number, string] => [Math.min(Math.max(0, time), meta.duration), label])
    .sort((a, b) => a[0] - b[0]);
  return {
    version: 1,
    duration: meta.duration,
    term: meta.term,
    segments: meta.keyframes.map((k, n) => ({ start: k.t, url: segmentUrl(n) })),
    markers,
    kubecast: {
      castVersion: meta.castVersion,
      activity: meta.activity,
      outputChars: meta.outputChars,
      events: meta.events,
      exitCode: meta.exitCode,
      truncated: meta.truncated,
      markers: meta.markers,
    },
  };
}

/** Events a player gets: output and resizes. Input may hold secrets; markers travel in the index. */
export function isPlayerEvent(event: CastEvent): boolean {
  return event.code === 'o' || event.code === 'r';
}

/**
 * A cast line parser positioned just before a segment's first line: it has read the header and
 * its clock stands where the builder's stood at that line. The clock is set by one line with an
 * unknown event code at the keyframe's clock: for v3 (intervals) it moves the clock there from 0,
 * for v2 (absolute times, never going backwards) it makes the clock that maximum, exactly the
 * state the builder's single pass had.
 */
export function segmentParser(headerLine: string, clock: number): CastLineParser {
  const parser = new CastLineParser();
  parser.line(headerLine);
  if (clock > 0) parser.line(`[${clock},"-",""]`);
  return parser;
}

/**
 * Writes segment `n` in asciinema-player's segment format — `{"snapshot": {cols, rows, init},
 * "events": [[t, code, data], …]}` — to `sink`, a piece at a time (awaiting what it returns, for
 * backpressure): the keyframe's screen, then the cast's events from the keyframe's offset to the
 * next one's, converted as the builder read them.
 */
export async function writeSegment(index: LoadedSeekIndex, castPath: string, n: number, sink: (text: string) => void | Promise<void>): Promise<void> {
  const { meta } = index;
  const keyframe = meta.keyframes[n];
  if (!keyframe) throw new RangeError(`no segment ${n}`);
  const end = n + 1 < meta.keyframes.length ? meta.keyframes[n + 1].offset : meta.end;
  const [position, length] = keyframe.init;
  const init = length > 0 ? (await readRange(index.path, position, length)).toString('utf8') : '';
  await sink(`{"snapshot":${JSON.stringify({ cols: keyframe.cols, rows: keyframe.rows, init })},"events":[`);
  const parser = segmentParser(index.headerLine, keyframe.clock);
  let first = true;
  let batch: string[] = [];
  let batchChars = 0;
  await readLines(castPath, keyframe.offset, end, (buf, start, stop, _offset, last) => {
    const event = parseEventLine(parser, buf, start, stop, last);
    if (!event || !isPlayerEvent(event)) return;
    const text = JSON.stringify([event.time, event.code, event.data]);
    batch.push(first ? text : ',' + text);
    first = false;
    batchChars += text.length;
    if (batchChars >= 256 * 1024) {
      const out = batch.join('');
      batch = [];
      batchChars = 0;
      return sink(out);
    }
  });
  batch.push(']}');
  await sink(batch.join(''));
}

/** One cast line through the parser; malformed and over-long lines are skipped (the builder does the same). */
export function parseEventLine(parser: CastLineParser, buf: Buffer, start: number, end: number, last: boolean): CastEvent | null {
  if (end - start > MAX_SEGMENT_LINE_BYTES) return null;
  try {
    return parser.line(buf.toString('utf8', start, end), { unterminated: last });
  } catch {
    return null;
  }
}

export type LineHandler = (buf: Buffer, start: number, end: number, offset: number, last: boolean) => void | Promise<void>;

/**
 * Reads the lines of [from, to) of a file, calling `onLine` with each line's bytes (without its
 * newline) and the file offset where it starts; a promise it returns is awaited before the next
 * line (backpressure). `last` marks a final line without a newline. A line longer than
 * MAX_SEGMENT_LINE_BYTES is passed on as an empty range (its offset still counts), never held.
 */
export async function readLines(path: string, from: number, to: number, onLine: LineHandler, shouldStop?: () => boolean): Promise<void> {
  if (to <= from) return;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let carryStart = from;
  let skipping = false;
  let position = from;
  const stream = createReadStream(path, { start: from, end: to - 1, highWaterMark: 1024 * 1024 });
  try {
    for await (const chunk of stream) {
      if (shouldStop?.()) return;
      const buf = chunk as Buffer;
      const base = position;
      position += buf.byteLength;
      let start = 0;
      let nl = buf.indexOf(0x0a);
      while (nl >= 0) {
        let wait: void | Promise<void>;
        if (carryBytes > 0 || skipping) {
          if (skipping) wait = onLine(buf, nl, nl, carryStart, false);
          else {
            const line = Buffer.concat([...carry, buf.subarray(0, nl)]);
            wait = onLine(line, 0, line.byteLength, carryStart, false);
          }
          carry = [];
          carryBytes = 0;
          skipping = false;
        } else wait = onLine(buf, start, nl, base + start, false);
        if (wait) await wait;
        start = nl + 1;
        nl = buf.indexOf(0x0a, start);
      }
      if (start < buf.byteLength) {
        if (carryBytes === 0 && !skipping) carryStart = base + start;
        if (!skipping) {
          carry.push(buf.subarray(start));
          carryBytes += buf.byteLength - start;
          if (carryBytes > MAX_SEGMENT_LINE_BYTES) {
            carry = [];
            carryBytes = 0;
            skipping = true;
          }
        }
      }
    }
    if (skipping) await onLine(Buffer.alloc(0), 0, 0, carryStart, true);
    else if (carryBytes > 0) {
      const line = Buffer.concat(carry);
      await onLine(line, 0, line.byteLength, carryStart, true);
    }
  } finally {
    stream.destroy();
  }
}

async function readRange(path: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) throw new Error(`${path} is shorter than expected`);
      done += bytesRead;
    }
    return buf;
  } finally {
    await handle.close();
  }
}

// --- checking a description read from disk -------------------------------------------------------

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isDimension = (value: unknown): value is number => isCount(value) && value >= 1 && value <= 10_000;

/** The description when it is well-formed and consistent (keyframes in order, within the files), else undefined. */
function checkMeta(value: unknown, keyframeBytes: number): SeekMeta | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const meta = value as Partial<SeekMeta>;
  if (meta.format !== SEEK_FORMAT || meta.version !== SEEK_VERSION) return undefined;
  if (!meta.cast || !isCount(meta.cast.size) || !isCount(meta.cast.mtimeMs)) return undefined;
  if (meta.castVersion !== 2 && meta.castVersion !== 3) return undefined;
  if (!isCount(meta.headerBytes) || !isCount(meta.end) || meta.end > meta.cast.size || meta.headerBytes > meta.end) return undefined;
  if (!isTime(meta.duration) || !meta.term || !isDimension(meta.term.cols) || !isDimension(meta.term.rows)) return undefined;
  const keyframes = meta.keyframes;
  if (!Array.isArray(keyframes) || keyframes.length === 0 || keyframes.length > MAX_SEGMENTS) return undefined;
  let previous: Keyframe | undefined;
  for (const k of keyframes) {
    if (typeof k !== 'object' || k === null) return undefined;
    if (!isTime(k.t) || !isCount(k.offset) || !isTime(k.clock) || !isDimension(k.cols) || !isDimension(k.rows)) return undefined;
    if (!Array.isArray(k.init) || k.init.length !== 2 || !isCount(k.init[0]) || !isCount(k.init[1]) || k.init[0] + k.init[1] > keyframeBytes) return undefined;
    if (k.offset < meta.headerBytes || k.offset >= meta.end) return undefined;
    // What the player requires: the first segment starts at 0, starts increase strictly and stay below the duration.
    if (previous ? k.t <= previous.t || k.offset <= previous.offset || k.t >= meta.duration : k.t !== 0) return undefined;
    previous = k;
  }
  if (!Array.isArray(meta.markers) || !meta.markers.every((m) => Array.isArray(m) && m.length === 2 && isTime(m[0]) && typeof m[1] === 'string')) return undefined;
  const activity = meta.activity;
  if (!activity || !isTime(activity.bucket) || activity.bucket <= 0 || !Array.isArray(activity.volume) || !activity.volume.every(isTime)) return undefined;
  if (!isCount(meta.outputChars) || !isCount(meta.events) || typeof meta.truncated !== 'boolean') return undefined;
  if (meta.exitCode !== null && typeof meta.exitCode !== 'number') return undefined;
  if (!meta.interval || !isCount(meta.interval.bytes) || !isTime(meta.interval.seconds)) return undefined;
  return meta as SeekMeta;
}
