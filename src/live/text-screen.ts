// The "screen" of a session without a terminal: the last N KiB of its output, as it came. Used for
// non-TTY sessions (whose output is a stream, not a screen) and for TTY sessions beyond the hub's
// terminal budget (written into a fresh terminal, a tail of output redraws most screens).
// Output is kept as events and decoded only when a viewer joins.
import { OutputEvent } from './output';
import type { Screen, ScreenSnapshot, ScreenStats } from './screen';

/** A cast line holds at least 1/6 of its size as text (the longest JSON escape, \u0000, is 6 bytes). */
const MAX_ESCAPE_RATIO = 6;
/** Events kept before they are merged into one (keystroke echoes come a character at a time). */
const MAX_EVENTS = 4096;
/** Bytes per cell a screenful of output is taken to need (colours and UTF-8 included). */
const SCREENFUL_BYTES_PER_CELL = 4;

export class TextScreen implements Screen {
  private events: OutputEvent[] = [];
  private size = 0;
  private seq = 0;
  private time = 0;
  private dropped = 0;
  private snapshotMs = 0;

  constructor(
    private cols: number,
    private rows: number,
    /** Bytes of UTF-8 output a snapshot carries. */
    private readonly capBytes: number,
  ) {}

  output(event: OutputEvent): void {
    this.seq = event.seq;
    this.time = event.time;
    this.events.push(event);
    this.size += event.size;
    let drop = 0;
    while (drop < this.events.length - 1 && this.size - this.events[drop].size >= this.capBytes * MAX_ESCAPE_RATIO) {
      this.size -= this.events[drop].size;
      this.dropped += this.events[drop].size;
      drop++;
    }
    if (drop > 0) this.events.splice(0, drop);
    if (this.events.length > MAX_EVENTS) {
      const text = this.text();
      this.events = [OutputEvent.fromText(event.seq, event.time, text)];
      this.size = text.length;
    }
  }

  resize(seq: number, time: number, cols: number, rows: number): void {
    this.seq = seq;
    this.time = time;
    this.cols = cols;
    this.rows = rows;
  }

  snapshot(callback: (snapshot: ScreenSnapshot) => void, scrollback = true): void {
    const started = performance.now();
    // Without scrollback (a flood's frequent screens) about a screenful is enough, and far smaller.
    const cap = scrollback ? this.capBytes : Math.min(this.capBytes, this.cols * this.rows * SCREENFUL_BYTES_PER_CELL);
    const data = this.text(cap);
    this.snapshotMs = performance.now() - started;
    callback({ seq: this.seq, time: this.time, cols: this.cols, rows: this.rows, data });
  }

  /** The last `cap` bytes of output, cut on a character boundary. */
  text(cap = this.capBytes): string {
    const parts: string[] = [];
    let bytes = 0;
    for (let i = this.events.length - 1; i >= 0 && bytes < cap; i--) {
      const text = this.events[i].text();
      parts.push(text);
      bytes += Buffer.byteLength(text);
    }
    const all = parts.reverse().join('');
    if (bytes <= cap) return all;
    const utf8 = Buffer.from(all);
    let start = utf8.byteLength - cap;
    while (start < utf8.byteLength && (utf8[start] & 0xc0) === 0x80) start++; // not inside a character
    return utf8.subarray(start).toString();
  }

  stats(): ScreenStats {
    return { backlog: 0, dropped: this.dropped, rebuilds: 0, snapshotMs: this.snapshotMs };
  }

  dispose(): void {
    this.events = [];
    this.size = 0;
  }
}
