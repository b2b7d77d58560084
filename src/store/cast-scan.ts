// One streamed pass over a cast file on disk: its SHA-256, its header, the event summary the index
// keeps, and (on request) the parsed events for search or a transcript. Used to rebuild the index,
// to re-index a recording, and by `export`/`transcript` on any cast file (also peer, v1 and v3).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CastLineParser, parseCast, type CastEvent } from '../cast';
import { CheckpointHasher, checkpointInterval, type Checkpoint, type FileDigest } from './integrity';
import { EventTracker, identityFromHeader, type EventSummary, type RecordingIdentity } from './recording-meta';

/** Same limit as the recorder's: the header is parsed and indexed, so it stays small. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** asciicast v1 is one JSON document and must be parsed whole; larger ones are not rendered. */
const MAX_V1_BYTES = 64 * 1024 * 1024;
/** Longest event line parsed for events (the recorder's own cap). */
const MAX_EVENT_LINE_BYTES = 128 * 1024 * 1024;

export interface ScannedCast {
  digest: FileDigest;
  mtimeMs: number;
  /** The header object, or null when the file has no readable asciicast header. */
  header: Record<string, unknown> | null;
  identity: RecordingIdentity;
  summary: EventSummary;
  /** The last line has no newline (a writer was cut off mid-line). */
  unterminated: boolean;
  /** With the `checkpoints` option: prefix digests for the seal (integrity.ts). */
  checkpoints?: Checkpoint[];
}

export interface ScanOptions {
  /** Called once the header is read, before any event (for v1: after the whole document is read). */
  onHeader?: (identity: RecordingIdentity) => void;
  /** Receives parsed events in order; return false to stop receiving them (the file is still read). */
  events?: (event: CastEvent) => boolean;
  /** Called between chunks; a returned promise pauses reading (backpressure from a slow consumer). */
  pause?: () => Promise<void> | undefined;
  /** Skip hashing (transcripts do not need it). */
  noHash?: boolean;
  /** Also note checkpoints (for sealing), in the same pass. */
  checkpoints?: boolean;
}

type ParseState = 'header' | 'events' | 'v1' | 'opaque';

const EMPTY_IDENTITY = identityFromHeader({});

function isJson(buf: Buffer, start: number, end: number): boolean {
  if (end - start > MAX_HEADER_BYTES) return false;
  try {
    JSON.parse(buf.toString('utf8', start, end));
    return true;
  } catch {
    return false;
  }
}

export async function scanCastFile(path: string, options: ScanOptions = {}): Promise<ScannedCast> {
  const info = await stat(path);
  const checkpointer = options.checkpoints && !options.noHash ? new CheckpointHasher(checkpointInterval(info.size)) : undefined;
  const hash = options.noHash || checkpointer ? undefined : createHash('sha256');
  let size = 0;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let header: Record<string, unknown> | null = null;
  let identity = EMPTY_IDENTITY;
  let tracker: EventTracker | undefined;
  let parser: CastLineParser | undefined;
  let wantEvents = options.events !== undefined;
  let state = 'header' as ParseState;
  const v1: Buffer[] = [];
  let v1Bytes = 0;
  let unterminated = false;

  const eventLine = (buf: Buffer, start: number, end: number, last: boolean) => {
    // A last line without its newline counts only when it is whole JSON (a writer that does not
    // end its file with "\n"), not when it was cut off mid-write.
    if (!last || isJson(buf, start, end)) tracker?.line(buf, start, end);
    if (!wantEvents || !parser || end - start > MAX_EVENT_LINE_BYTES) return;
    let event;
    try {
      event = parser.line(buf.toString('utf8', start, end), { unterminated: last });
    } catch {
      return; // a malformed line is skipped, as the recorder stored it
    }
    if (event && options.events && !options.events(event)) wantEvents = false;
  };

  const headerLine = (line: Buffer, last: boolean) => {
    if (line.byteLength > MAX_HEADER_BYTES) {
      state = 'opaque';
      return;
    }
    const text = line.toString('utf8');
    if (text.trim() === '') return; // blank lines before the header are tolerated
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // A pretty-printed asciicast v1 document starts with "{" alone on its line.
      if (text.trim() === '{') {
        state = 'v1';
        v1.push(line, Buffer.from('\n'));
        v1Bytes += line.byteLength + 1;
      } else state = 'opaque';
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      state = 'opaque';
      return;
    }
    const raw = value as Record<string, unknown>;
    if (raw.version === 1) {
      state = 'v1';
      v1.push(line, Buffer.from('\n'));
      v1Bytes += line.byteLength + 1;
      return;
    }
    if (raw.version !== 2 && raw.version !== 3) {
      state = 'opaque';
      return;
    }
    header = raw;
    identity = identityFromHeader(raw);
    tracker = new EventTracker(raw.version, identity.swapResize, { cols: identity.cols, rows: identity.rows });
    options.onHeader?.(identity);
    if (wantEvents) {
      parser = new CastLineParser();
      try {
        parser.line(text, { unterminated: last });
      } catch {
        parser = undefined; // a header the reader refuses (absurd size…): summary only, no events
      }
    }
    state = 'events';
  };

  const onLine = (line: Buffer, start: number, end: number, last: boolean) => {
    if (state === 'events') eventLine(line, start, end, last);
    else if (state === 'header') headerLine(line.subarray(start, end), last);
    else if (state === 'v1') {
      if (v1Bytes <= MAX_V1_BYTES) v1.push(line.subarray(start, end), Buffer.from('\n'));
      v1Bytes += end - start + 1;
    }
  };

  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    hash?.update(buf);
    checkpointer?.update(buf);
    size += buf.byteLength;
    if (state === 'opaque') continue;
    let start = 0;
    let nl = buf.indexOf(0x0a);
    if (nl >= 0 && carryBytes > 0) {
      const line = Buffer.concat([...carry, buf.subarray(0, nl)]);
      carry = [];
      carryBytes = 0;
      onLine(line, 0, line.byteLength, false);
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    while (nl >= 0) {
      onLine(buf, start, nl, false);
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    if (start < buf.byteLength) {
      carry.push(buf.subarray(start));
      carryBytes += buf.byteLength - start;
      // An endless line is not a cast line we can use; stop looking at the rest of it.
      if (state === 'header' && carryBytes > MAX_HEADER_BYTES) state = 'opaque';
      if (carryBytes > MAX_EVENT_LINE_BYTES) {
        carry = [];
        carryBytes = 0;
      }
    }
    const wait = options.pause?.();
    if (wait) await wait;
  }
  if (carryBytes > 0) {
    unterminated = true;
    const line = Buffer.concat(carry);
    onLine(line, 0, line.byteLength, true);
  }

  let summary: EventSummary = tracker?.current ?? { duration: 0, cols: identity.cols, rows: identity.rows, exitCode: null, events: 0 };
  // (closures above change `state`; the cast stops TypeScript narrowing it to its last assignment)
  if ((state as ParseState) === 'v1' && v1Bytes <= MAX_V1_BYTES) {
    try {
      const parsed = parseCast(Buffer.concat(v1).toString('utf8'));
      header = parsed.header.raw;
      identity = identityFromHeader(parsed.header.raw);
      summary = { duration: parsed.duration, cols: identity.cols, rows: identity.rows, exitCode: null, events: parsed.events.length };
      options.onHeader?.(identity);
      if (options.events) {
        for (const event of parsed.events) if (!options.events(event)) break;
      }
    } catch {
      // not a readable v1 document after all: indexed by name and size only
    }
  }
  return {
    digest: checkpointer ? checkpointer.digest() : { sha256: hash ? hash.digest('hex') : '', size },
    checkpoints: checkpointer?.checkpoints,
    mtimeMs: Math.floor(info.mtimeMs),
    header,
    identity,
    summary,
    unterminated,
  };
}
