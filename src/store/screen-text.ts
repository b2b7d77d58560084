// What was on screen, as lines of text with the time they were last written: recorded output is
// replayed through a headless terminal (@xterm/headless) and every line is taken once it has
// settled, i.e. scrolled off the top of the screen, was pushed off by a clear, or was still on the
// screen at the end. Search indexes these lines and `export --format txt` prints them, so escape
// sequences never reach either, and a line redrawn ten times (a progress bar, readline editing)
// appears once, as it finally looked.
//
// Times: after each write the rows between the cursor's position before and after it are stamped
// with the event's time, so a line's time is that of the output event that completed it. Cursor
// addressing elsewhere on the screen (full-screen apps) is not tracked row by row; such rows keep
// the time they were first written.
//
// Full-screen apps draw on the alternate screen, which has no scrollback: it is read when the app
// leaves it, at the end, and (for search) at most once per ALT_CHECK_SECONDS of recording time.
import { Terminal, type IBuffer, type IMarker } from '@xterm/headless';
import type { CastEvent } from '../cast';

export interface ScreenLine {
  /** Seconds from the start of the recording. */
  time: number;
  text: string;
}

export interface ScreenTextOptions {
  cols: number | null;
  rows: number | null;
  /** Non-TTY output ends lines with LF only; the viewer's terminal driver added the CR. */
  convertEol: boolean;
  /**
   * index: non-blank lines, long lines split into pieces, alternate screens sampled and deduplicated.
   * transcript: every line including blank ones, alternate screens only when left and at the end.
   */
  mode: 'index' | 'transcript';
  onLines: (lines: ScreenLine[]) => void;
}

/** The headless terminal's size is clamped: memory is cols × (rows + scrollback) cells. */
const MAX_COLS = 500;
const MAX_ROWS = 200;
const FALLBACK_COLS = 120;
const FALLBACK_ROWS = 24;
/**
 * Lines are taken as soon as they leave the screen, so scrollback only has to hold what one write
 * can push (at most CHUNK_CHARS lines) plus a long wrapped line being held back.
 */
const SCROLLBACK = 4000;
const CHUNK_CHARS = 2048;
/** A wrapped line longer than this many rows is emitted in parts rather than held back. */
const HOLD_BACK_ROWS = 1000;
/** Characters handed to the terminal whose write callbacks have not run yet. */
const IN_FLIGHT_CHARS = 512 * 1024;
/** Search rows hold at most this many characters; longer lines become several rows. */
export const MAX_INDEX_LINE_CHARS = 2000;
const ALT_CHECK_SECONDS = 1;
const ALT_DEDUPE = 4096;

/**
 * Sequences that drop screen content we have not read yet (clear scrollback, full reset) or switch
 * screens: writes are cut just before them so the content can be read first.
 */
// eslint-disable-next-line no-control-regex -- escape sequences are what this matches
const BOUNDARY = /\x1b\[3J|\x1b\[\?(?:1049|1047|47)[hl]|\x1bc/g;

type Boundary = 'clear-scrollback' | 'alt-enter' | 'alt-leave' | 'reset';

type Op =
  | { kind: 'write'; data: string; time: number; reset?: boolean }
  | { kind: 'resize'; cols: number; rows: number; time: number }
  | { kind: 'boundary'; boundary: Boundary; time: number };

export class ScreenText {
  private readonly term: Terminal;
  private readonly mode: 'index' | 'transcript';
  private readonly onLines: (lines: ScreenLine[]) => void;
  private ops: Op[] = [];
  private opHead = 0;
  private queuedChars = 0;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private out: ScreenLine[] = [];
  /** First line of the normal buffer not emitted yet. */
  private anchor: IMarker;
  /** Times of normal-buffer lines from the anchor on: times[timesHead + k] is line anchor.line + k. */
  private times: number[] = [];
  private timesHead = 0;
  private lastAnchorLine = 0;
  private lastCursorLine = 0;
  private lastTime = 0;
  private lastAltCheck = -Infinity;
  private readonly altSeen = new Map<string, true>();
  private ended = false;
  private disposed = false;
  /** Lines lost because more scrolled by in one write than the scrollback holds (should not happen). */
  lostLines = 0;

  constructor(options: ScreenTextOptions) {
    this.mode = options.mode;
    this.onLines = options.onLines;
    this.term = new Terminal({
      cols: clamp(options.cols ?? FALLBACK_COLS, MAX_COLS),
      rows: clamp(options.rows ?? FALLBACK_ROWS, MAX_ROWS),
      scrollback: SCROLLBACK,
      convertEol: options.convertEol,
      // A clear (ED 2) pushes the screen into the scrollback, where it is read like scrolled lines.
      scrollOnEraseInDisplay: true,
      allowProposedApi: true, // the buffer API is "proposed" in the headless build
      logLevel: 'off',
    });
    this.anchor = this.newMarkerAt(0) as IMarker;
  }

  /** Characters accepted but not processed yet (for the caller's backpressure). */
  get pendingChars(): number {
    return this.queuedChars + this.inFlight;
  }

  /** Feeds one event; only `o` (output) and `r` (resize) matter. */
  event(event: CastEvent): void {
    if (this.ended) return;
    if (event.code === 'o') this.output(event.time, event.data);
    else if (event.code === 'r') {
      const match = /^(\d{1,5})x(\d{1,5})$/.exec(event.data);
      if (match && Number(match[1]) > 0 && Number(match[2]) > 0) {
        this.push({ kind: 'resize', cols: clamp(Number(match[1]), MAX_COLS), rows: clamp(Number(match[2]), MAX_ROWS), time: event.time });
      }
    }
    this.pump();
  }

  /** Resolves once everything fed so far has been processed. */
  idle(): Promise<void> {
    if (this.opHead >= this.ops.length && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Processes the rest, emits what is still on screen, and releases the terminal. */
  async end(): Promise<void> {
    if (this.ended) return;
    await this.idle();
    this.ended = true;
    this.flushNormal(this.lastTime, 'all');
    if (this.term.buffer.active.type === 'alternate') this.snapshotAlt(this.lastTime);
    this.deliver();
    this.dispose();
  }

  /** Drops everything without emitting (the caller gave up on this recording). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ended = true;
    this.ops = [];
    this.opHead = 0;
    this.queuedChars = 0;
    this.term.dispose();
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  // --- feeding ----------------------------------------------------------------------------------

  private output(time: number, data: string): void {
    BOUNDARY.lastIndex = 0;
    let from = 0;
    for (let match = BOUNDARY.exec(data); match !== null; match = BOUNDARY.exec(data)) {
      this.chunks(time, data, from, match.index);
      const kind = boundaryKind(match[0]);
      this.push({ kind: 'boundary', boundary: kind, time });
      from = match.index;
      if (kind === 'reset') {
        // A reset replaces the buffers (markers then point into the old one): written on its own
        // so the anchor can be placed on the new buffer right after it.
        this.push({ kind: 'write', data: match[0], time, reset: true });
        from += match[0].length;
      }
    }
    this.chunks(time, data, from, data.length);
  }

  /** Splits [from, to) into writes of at most CHUNK_CHARS, never between a surrogate pair. */
  private chunks(time: number, data: string, from: number, to: number): void {
    let start = from;
    while (start < to) {
      let end = Math.min(to, start + CHUNK_CHARS);
      if (end < to && isHighSurrogate(data.charCodeAt(end - 1))) end--;
      this.push({ kind: 'write', data: data.slice(start, end), time });
      start = end;
    }
  }

  private push(op: Op): void {
    this.ops.push(op);
    if (op.kind === 'write') this.queuedChars += op.data.length;
  }

  private pump(): void {
    while (!this.ended && this.opHead < this.ops.length) {
      const op = this.ops[this.opHead];
      if (op.kind === 'write') {
        if (this.inFlight > 0 && this.inFlight + op.data.length > IN_FLIGHT_CHARS) break;
        this.opHead++;
        const length = op.data.length;
        this.queuedChars -= length;
        this.inFlight += length;
        // xterm parses writes in order and runs each callback right after its data, before the
        // next write is parsed, so the buffer seen here is the state after exactly this write.
        this.term.write(op.data, () => {
          this.inFlight -= length;
          if (this.ended) return;
          if (op.reset) this.reanchorAfterReset();
          this.afterWrite(op.time);
          this.pump();
        });
      } else {
        // Resizes and boundaries act on the terminal directly: earlier writes must be parsed first.
        if (this.inFlight > 0) break;
        this.opHead++;
        if (op.kind === 'resize') this.resize(op.cols, op.rows, op.time);
        else this.boundary(op.boundary, op.time);
      }
    }
    if (this.opHead > 1024 && this.opHead * 2 > this.ops.length) {
      this.ops = this.ops.slice(this.opHead);
      this.opHead = 0;
    }
    if (this.opHead >= this.ops.length && this.inFlight === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  // --- reading the screen ----------------------------------------------------------------------

  private afterWrite(time: number): void {
    this.lastTime = time;
    if (this.term.buffer.active.type === 'alternate') {
      if (this.mode === 'index' && time - this.lastAltCheck >= ALT_CHECK_SECONDS) this.snapshotAlt(time);
    } else {
      this.stampCursorRows(time);
      this.flushNormal(time, 'scrolled');
    }
    this.deliver();
  }

  private resize(cols: number, rows: number, time: number): void {
    this.lastTime = time;
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows);
    if (this.term.buffer.active.type === 'normal') this.flushNormal(time, 'scrolled');
    this.deliver();
  }

  private boundary(kind: Boundary, time: number): void {
    this.lastTime = time;
    const alt = this.term.buffer.active.type === 'alternate';
    if (kind === 'alt-enter' && !alt) this.flushNormal(time, 'above-cursor');
    else if (kind === 'alt-leave' && alt) this.snapshotAlt(time);
    else if (kind === 'reset') {
      if (alt) this.snapshotAlt(time);
      else this.flushNormal(time, 'all');
    }
    this.deliver();
  }

  /** Stamps the rows the cursor moved over during the last write with its time. */
  private stampCursorRows(time: number): void {
    const buf = this.term.buffer.normal;
    if (this.anchor.isDisposed) this.reanchorAfterLoss(buf);
    const trimmed = this.lastAnchorLine - this.anchor.line;
    const before = this.lastCursorLine - trimmed;
    const now = buf.baseY + buf.cursorY;
    const from = Math.max(this.anchor.line, Math.min(before, now));
    const to = Math.max(before, now);
    for (let line = from; line <= to; line++) this.setTime(line - this.anchor.line, time);
    this.lastCursorLine = now;
    this.lastAnchorLine = this.anchor.line;
  }

  private setTime(k: number, time: number): void {
    const index = this.timesHead + k;
    while (this.times.length < index) this.times.push(time);
    this.times[index] = time;
  }

  private timeOf(k: number, fallback: number): number {
    return this.times[this.timesHead + k] ?? fallback;
  }

  /**
   * Emits normal-buffer lines from the anchor: those scrolled off the screen, those above the
   * cursor (before an app takes the alternate screen), or all (end, reset). A line wrapped onto
   * rows that are not being emitted is held back so it is emitted whole.
   */
  private flushNormal(time: number, upTo: 'scrolled' | 'above-cursor' | 'all'): void {
    const buf = this.term.buffer.normal;
    if (this.anchor.isDisposed) this.reanchorAfterLoss(buf);
    const start = this.anchor.line;
    let end: number;
    if (upTo === 'scrolled') end = buf.baseY;
    else if (upTo === 'above-cursor') end = buf.baseY + buf.cursorY;
    else end = lastNonBlankLine(buf) + 1;
    if (end <= start) return;
    if (upTo !== 'all') {
      let cut = end;
      while (cut > start && buf.getLine(cut)?.isWrapped) cut--;
      if (cut > start || end - start < HOLD_BACK_ROWS) end = cut;
      if (end <= start) return;
    }
    this.emitRange(buf, start, end, time);
    if (upTo === 'all' && this.ended) return;
    // Move the anchor to the first line not emitted; markers follow lines as the scrollback trims.
    const marker = this.newMarkerAt(end);
    if (!marker) return;
    this.anchor.dispose();
    this.anchor = marker;
    this.timesHead += end - start;
    if (this.timesHead > 4096 && this.timesHead * 2 > this.times.length) {
      this.times = this.times.slice(this.timesHead);
      this.timesHead = 0;
    }
    this.lastAnchorLine = this.anchor.line;
    this.lastCursorLine = buf.baseY + buf.cursorY;
  }

  private emitRange(buf: IBuffer, start: number, end: number, fallback: number): void {
    let parts: string[] = [];
    let time = -Infinity;
    for (let y = start; y < end; y++) {
      const line = buf.getLine(y);
      if (!line) continue;
      const continues = y + 1 < end && buf.getLine(y + 1)?.isWrapped === true;
      parts.push(line.translateToString(!continues));
      time = Math.max(time, this.timeOf(y - start, fallback));
      if (!continues) {
        this.emit(parts.join(''), time);
        parts = [];
        time = -Infinity;
      }
    }
  }

  /** Reads the alternate screen (full-screen apps), emitting lines not seen recently. */
  private snapshotAlt(time: number): void {
    this.lastAltCheck = time;
    const buf = this.term.buffer.alternate;
    let parts: string[] = [];
    const lines: string[] = [];
    for (let y = 0; y < buf.length; y++) {
      const line = buf.getLine(y);
      if (!line) continue;
      const continues = buf.getLine(y + 1)?.isWrapped === true;
      parts.push(line.translateToString(!continues));
      if (!continues) {
        lines.push(parts.join(''));
        parts = [];
      }
    }
    if (this.mode === 'transcript') {
      while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
      for (const text of lines) this.emit(text, time);
      return;
    }
    for (const text of lines) {
      if (text.trim() === '' || this.altSeen.has(text)) continue;
      this.altSeen.set(text, true);
      if (this.altSeen.size > ALT_DEDUPE) this.altSeen.delete(this.altSeen.keys().next().value as string);
      this.emit(text, time);
    }
  }

  private emit(text: string, time: number): void {
    const trimmed = text.trimEnd();
    if (this.mode === 'transcript') {
      this.out.push({ time, text: trimmed });
      return;
    }
    if (trimmed.trim() === '') return;
    for (let i = 0; i < trimmed.length; i += MAX_INDEX_LINE_CHARS) {
      this.out.push({ time, text: trimmed.slice(i, i + MAX_INDEX_LINE_CHARS) });
    }
  }

  private deliver(): void {
    if (this.out.length === 0) return;
    const lines = this.out;
    this.out = [];
    this.onLines(lines);
  }

  /** A marker on normal-buffer line `line` (markers are placed relative to the cursor). */
  private newMarkerAt(line: number): IMarker | undefined {
    const buf = this.term.buffer.normal;
    return this.term.registerMarker(line - (buf.baseY + buf.cursorY));
  }

  private reanchorAfterReset(): void {
    const marker = this.newMarkerAt(0);
    if (!marker) return;
    this.anchor.dispose();
    this.anchor = marker;
    this.times = [];
    this.timesHead = 0;
    this.lastAnchorLine = 0;
    const buf = this.term.buffer.normal;
    this.lastCursorLine = buf.baseY + buf.cursorY;
  }

  /** The anchor line was trimmed away before it was read (a reset, or a gigantic scroll). */
  private reanchorAfterLoss(buf: IBuffer): void {
    const marker = this.newMarkerAt(0);
    if (!marker) return;
    this.lostLines += Math.max(0, this.lastCursorLine - this.lastAnchorLine);
    this.anchor = marker;
    this.times = [];
    this.timesHead = 0;
    this.lastAnchorLine = 0;
    this.lastCursorLine = buf.baseY + buf.cursorY;
  }
}

function boundaryKind(sequence: string): Boundary {
  if (sequence === '\x1b[3J') return 'clear-scrollback';
  if (sequence === '\x1bc') return 'reset';
  return sequence.endsWith('h') ? 'alt-enter' : 'alt-leave';
}

function lastNonBlankLine(buf: IBuffer): number {
  for (let y = buf.length - 1; y >= 0; y--) {
    if (buf.getLine(y)?.translateToString(true).trim()) return y;
  }
  return -1;
}

function clamp(value: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(value)));
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
