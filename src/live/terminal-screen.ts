// The screen of a TTY session: a headless xterm fed with the session's output, serialised for
// viewers that join. xterm parses some 20–50 MiB/s, far below what a session can push, so the
// terminal is fed asynchronously from a bounded backlog: one slice in flight at a time, and when
// the backlog passes its cap the oldest output is skipped and the terminal is reset and rebuilt
// from the most recent tail, which redraws the visible screen of scrolling output.
import { Terminal } from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';
import type { OutputEvent } from './output';
import { charBoundary, clampSize, tailStart, type Screen, type ScreenSnapshot, type ScreenStats } from './screen';

export interface TerminalScreenOptions {
  /** Output waiting for the terminal above which the oldest is skipped (bytes of cast lines). Default 2 MiB. */
  backlogSize?: number;
  /** Output kept to rebuild the screen from after skipping (characters). Default 256 KiB. */
  tailChars?: number;
  /** Scrollback lines kept and sent in snapshots. Default 1000. */
  scrollback?: number;
  /** The event-loop time the hub's terminals may take together (shared by all of them). */
  budget?: TerminalBudget;
}

/**
 * The share of the event loop's time that headless terminals may take (decoding and parsing
 * output), across every session of a hub: they share the loop with the recorder. Past it, output
 * piles up in their backlogs and is skipped.
 */
export class TerminalBudget {
  /** performance.now() before which no terminal starts another chunk. */
  nextAt = 0;

  constructor(readonly share = 0.2) {
    if (!(share > 0 && share <= 1)) throw new RangeError(`terminal share must be in (0, 1], got ${share}`);
  }

  /**
   * A terminal spent `ms` on a chunk (decoding, then parsing on xterm's timer): others wait their
   * turn. An unwatched terminal counts `UNWATCHED_COST` times, so it gets a quarter of the share.
   */
  charge(ms: number, now: number, watched: boolean): void {
    const cost = watched ? ms : ms * UNWATCHED_COST;
    this.nextAt = Math.max(this.nextAt, now) + Math.min(MAX_PAUSE_MS, cost * (1 / this.share - 1));
  }
}

type Item =
  | {
      kind: 'output';
      event: OutputEvent;
      /** Characters of its text already written (or skipped). */
      offset: number;
      /** Its share of the backlog: the event's size, or the characters left once it has been cut into. */
      cost: number;
    }
  | { kind: 'resize' | 'reset'; seq: number; time: number; cols: number; rows: number; cost: number };

/** Characters handed to xterm per write: small enough that a snapshot waits at most a few ms. */
const WRITE_CHUNK = 64 * 1024;
/** What a queued item costs besides its text, so a flood of one-character outputs is bounded too. */
const ITEM_COST = 64;
/** Snapshot scrollback is cut so that cols × lines stays under this (a wide terminal's snapshot stays small). */
const SNAPSHOT_CELLS = 256 * 1024;
// Asked of the terminal right before serialising, for what serialize does not restore: cursor
// visibility (DECRQM ?25) and the scroll region (DECRQSS DECSTBM). The answers come back on onData.
const STATE_QUERY = '\x1b[?25$p\x1bP$qr\x1b\\';
const CURSOR_REPLY = '\x1b[?25;';
const REGION_REPLY = '\x1bP1$r';
const REGION_VALUE = /^(\d{1,5});(\d{1,5})r/;
const MAX_TITLE = 256;
const UNWATCHED_COST = 4;
/** Longest pause between chunks the time share imposes (a stalled loop must not starve the screen). */
const MAX_PAUSE_MS = 250;

export class TerminalScreen implements Screen {
  private readonly term: Terminal;
  private readonly serializer = new SerializeAddon();
  private readonly backlogSize: number;
  private readonly tailChars: number;
  private readonly scrollback: number;
  private readonly budget: TerminalBudget;
  private paceTimer: NodeJS.Timeout | undefined;
  // Items waiting for the terminal; those before `head` are done.
  private items: Item[] = [];
  private head = 0;
  private cost = 0;
  private inflight = false;
  /** Seq and time the terminal reaches when the write in flight completes, if it completes an item. */
  private inflightDone: { seq: number; time: number } | undefined;
  /** The front output item has been written in part: a snapshot now would cut it in two (only a flood's screens may). */
  private partial = false;
  /** A flood's screen is waiting: write the next chunk now, whatever the time share says (see snapshot()). */
  private stepFirst = false;
  /** Seq and time of the last item whose effect the terminal holds. */
  private seq = 0;
  private time = 0;
  private waiters: Array<{ callback: (snapshot: ScreenSnapshot) => void; scrollback: boolean }> = [];
  /** Chunks written while snapshot waiters were waiting (they wait for little output, not for a flood). */
  private waitedChunks = 0;
  // The latest snapshots, with and without scrollback, while the terminal has not changed since.
  private cached: { full?: ScreenSnapshot; screen?: ScreenSnapshot } = {};
  private dropped = 0;
  private rebuilds = 0;
  private snapshotMs = 0;
  private disposed = false;
  private isWatched = false;
  // State serialize leaves out, tracked from the output or queried (see STATE_QUERY).
  private cursorHidden = false;
  private region: [number, number] | undefined;
  private cursorStyle = 0;
  private title = '';

  constructor(cols: number, rows: number, options: TerminalScreenOptions = {}) {
    this.backlogSize = options.backlogSize ?? 2 * 1024 * 1024;
    this.tailChars = Math.min(options.tailChars ?? 256 * 1024, this.backlogSize);
    this.scrollback = options.scrollback ?? 1000;
    this.budget = options.budget ?? new TerminalBudget();
    const size = clampSize(cols, rows);
    this.term = new Terminal({ cols: size.cols, rows: size.rows, scrollback: this.scrollback, allowProposedApi: true, logLevel: 'off' });
    // The addon's typings name the browser package's Terminal; the headless one has the same API.
    this.term.loadAddon(this.serializer as unknown as Parameters<Terminal['loadAddon']>[0]);
    this.term.onData((reply) => this.stateReply(reply));
    this.term.onTitleChange((title) => {
      this.title = title.replace(/\p{Cc}/gu, '').slice(0, MAX_TITLE);
    });
    // DECSCUSR; returning false lets xterm handle the sequence as usual.
    this.term.parser.registerCsiHandler({ intermediates: ' ', final: 'q' }, (params) => {
      const style = params[0];
      this.cursorStyle = typeof style === 'number' && style >= 0 && style <= 6 ? style : 0;
      return false;
    });
    this.term.parser.registerEscHandler({ final: 'c' }, () => {
      this.cursorStyle = 0; // RIS
      return false;
    });
  }

  output(event: OutputEvent): void {
    if (this.disposed) return;
    const cost = event.size + ITEM_COST;
    this.items.push({ kind: 'output', event, offset: 0, cost });
    this.cost += cost;
    if (this.cost > this.backlogSize) this.trim();
    this.pump();
  }

  resize(seq: number, time: number, cols: number, rows: number): void {
    if (this.disposed) return;
    const size = clampSize(cols, rows);
    this.items.push({ kind: 'resize', seq, time, cols: size.cols, rows: size.rows, cost: ITEM_COST });
    this.cost += ITEM_COST;
    if (this.cost > this.backlogSize) this.trim();
    this.pump();
  }

  snapshot(callback: (snapshot: ScreenSnapshot) => void, scrollback = true): void {
    if (this.disposed) return;
    const pending = this.head < this.items.length;
    const cached = scrollback ? this.cached.full : this.cached.screen;
    if (cached && (scrollback || !pending)) {
      callback(cached);
      return;
    }
    this.waiters.push({ callback, scrollback });
    // A flood's screens (no scrollback) are asked for every few ms and should each show some more
    // of the output: one chunk goes into the terminal first even while the time share would pause
    // it. That is at most one chunk per screen asked for, and the chunk is charged to the share.
    if (!scrollback && pending && !this.inflight) {
      clearTimeout(this.paceTimer);
      this.paceTimer = undefined;
      this.stepFirst = true;
    }
    this.pump();
  }

  stats(): ScreenStats {
    return { backlog: this.cost, dropped: this.dropped, rebuilds: this.rebuilds, snapshotMs: this.snapshotMs };
  }

  watched(watched: boolean): void {
    this.isWatched = watched;
  }

  /** Whether the terminal holds every output given so far. */
  get idle(): boolean {
    return !this.inflight && this.head === this.items.length;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.paceTimer);
    this.items = [];
    this.head = 0;
    this.waiters = [];
    this.cached = {};
    this.term.dispose();
  }

  private pump(): void {
    if (this.inflight || this.disposed) return;
    // Nothing is in flight, so size changes applied now land exactly between the outputs around them.
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      if (item.kind === 'output') break;
      this.shift();
      this.cost -= item.cost;
      if (item.kind === 'reset') this.term.reset();
      if (item.cols !== this.term.cols || item.rows !== this.term.rows) this.term.resize(item.cols, item.rows);
      this.seq = item.seq;
      this.time = item.time;
      this.cached = {};
    }
    // A little pending output is written before serving waiters, so that a snapshot is current (the
    // final screen at the end of a session); the wait is bounded to a few chunks.
    const writeFirst = this.head < this.items.length && ((this.cost <= WRITE_CHUNK && this.waitedChunks < 4) || this.stepFirst);
    // A flood's screen may cut an output in two: the viewer gets a full snapshot after the flood anyway.
    const servable = this.waiters.some((w) => !this.partial || !w.scrollback);
    if (servable && !writeFirst) {
      this.waitedChunks = 0;
      this.cursorHidden = false;
      this.region = undefined;
      this.inflight = true;
      this.term.write(STATE_QUERY, () => {
        this.inflight = false;
        if (this.disposed) return;
        this.serve();
        this.pump();
      });
      return;
    }
    if (this.head === this.items.length || this.paceTimer) return;
    const wait = this.stepFirst ? 0 : this.budget.nextAt - performance.now();
    if (wait > 0) {
      // Not unref'd, like xterm's own write timer: the backlog is bounded, so this ends.
      this.paceTimer = setTimeout(() => {
        this.paceTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    if (this.waiters.length > 0) this.waitedChunks++;
    // A flood's screen waits: the state query goes in the same write, and the screen out right after it.
    const query = this.stepFirst;
    this.stepFirst = false;
    this.writeChunk(query);
  }

  private writeChunk(query: boolean): void {
    const started = performance.now();
    const pieces: string[] = [];
    let size = 0;
    let done: { seq: number; time: number } | undefined;
    while (this.head < this.items.length && size < WRITE_CHUNK) {
      const item = this.items[this.head];
      if (item.kind !== 'output') break;
      const text = item.event.text();
      let end = Math.min(text.length, item.offset + (WRITE_CHUNK - size));
      if (end < text.length) {
        // Cut after a line when there is one: a flood's screen may be taken at the cut, and a cut
        // inside an escape sequence would break it (the state query that precedes a snapshot).
        const line = text.lastIndexOf('\n', end - 1);
        end = line >= item.offset ? line + 1 : charBoundary(text, end);
      }
      if (end > item.offset) pieces.push(item.offset === 0 && end === text.length ? text : text.slice(item.offset, end));
      size += end - item.offset;
      item.offset = end;
      if (end < text.length) {
        // Cut into: from now on it costs what is left of it.
        this.cost += text.length - end - item.cost;
        item.cost = text.length - end;
        this.partial = true;
        break;
      }
      this.partial = false;
      this.shift();
      this.cost -= item.cost;
      done = { seq: item.event.seq, time: item.event.time };
    }
    if (query) {
      this.cursorHidden = false;
      this.region = undefined;
      pieces.push(STATE_QUERY);
    }
    this.inflight = true;
    this.inflightDone = done;
    this.cached = {};
    this.term.write(pieces.length === 1 ? pieces[0] : pieces.join(''), () => {
      // Decoding plus parsing took at most this long (xterm parses on a timer, so the time also
      // counts whatever else ran meanwhile: the terminal backs off more when the loop is busy).
      const now = performance.now();
      this.budget.charge(now - started, now, this.isWatched);
      this.inflight = false;
      this.inflightDone = undefined;
      if (this.disposed) return;
      if (done) {
        this.seq = done.seq;
        this.time = done.time;
      }
      if (query && this.waiters.some((w) => !this.partial || !w.scrollback)) {
        this.waitedChunks = 0;
        this.serve();
      }
      this.pump();
    });
  }

  private shift(): void {
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The backlog passed its cap: skip all but the last `tailChars` of output (starting at a line
   * when one is near), and rebuild the screen from there on a reset terminal of the size in effect.
   * Only the event the cut falls in is decoded; the skipped ones never are.
   */
  private trim(): void {
    let kept = 0;
    let cut = -1;
    for (let i = this.items.length - 1; i >= this.head; i--) {
      kept += this.items[i].cost;
      if (kept >= this.tailChars) {
        cut = i;
        break;
      }
    }
    if (cut < 0) return;
    let cols = this.term.cols;
    let rows = this.term.rows;
    let last = this.inflightDone ?? { seq: this.seq, time: this.time };
    for (let i = this.head; i < cut; i++) {
      const item = this.items[i];
      if (item.kind === 'output') {
        this.dropped += item.cost;
        last = { seq: item.event.seq, time: item.event.time };
      } else {
        ({ cols, rows } = item);
        last = { seq: item.seq, time: item.time };
      }
    }
    const rest = this.items.slice(cut);
    const first = rest[0];
    if (first.kind === 'output') {
      // Keep what of it fits in the tail, from a line start when one is near.
      const text = first.event.text();
      const want = Math.max(0, this.tailChars - (kept - first.cost));
      const from = Math.max(first.offset, tailStart(text, text.length - Math.min(want, text.length - first.offset)));
      if (cut === this.head && from === first.offset) return; // one event, already no more than the tail
      this.dropped += from - first.offset;
      rest[0] = { ...first, offset: from, cost: text.length - from };
    } else if (cut === this.head) {
      return;
    }
    this.items = [{ kind: 'reset', ...last, cols, rows, cost: ITEM_COST }, ...rest];
    this.head = 0;
    this.partial = false;
    this.cost = 0;
    for (const item of this.items) this.cost += item.cost;
    this.rebuilds++;
  }

  private serve(): void {
    const cols = this.term.cols;
    const state = this.unserialisedState();
    const make = (scrollback: number): ScreenSnapshot => ({
      seq: this.seq,
      time: this.time,
      cols,
      rows: this.term.rows,
      data: this.serializer.serialize({ scrollback }) + state,
    });
    // Mid-output, only the screens without scrollback are served (see pump()); the others wait.
    const waiters = this.partial ? this.waiters.filter((w) => !w.scrollback) : this.waiters;
    this.waiters = this.partial ? this.waiters.filter((w) => w.scrollback) : [];
    const started = performance.now();
    if (waiters.some((w) => w.scrollback)) this.cached.full = make(Math.min(this.scrollback, Math.floor(SNAPSHOT_CELLS / cols)));
    if (waiters.some((w) => !w.scrollback)) this.cached.screen = make(0);
    this.snapshotMs = performance.now() - started;
    for (const waiter of waiters) {
      const snapshot = waiter.scrollback ? this.cached.full : this.cached.screen;
      if (snapshot) waiter.callback(snapshot);
    }
  }

  /** Answers to STATE_QUERY: `CSI ? 25 ; Ps $ y` (2 = reset = hidden) and `DCS 1 $ r top ; bottom r ST`. */
  private stateReply(reply: string): void {
    const cursor = reply.indexOf(CURSOR_REPLY);
    if (cursor >= 0 && reply.startsWith('$y', cursor + CURSOR_REPLY.length + 1)) {
      this.cursorHidden = reply.charAt(cursor + CURSOR_REPLY.length) === '2';
    }
    const region = reply.indexOf(REGION_REPLY);
    if (region >= 0) {
      const value = REGION_VALUE.exec(reply.slice(region + REGION_REPLY.length));
      if (value) this.region = [Number(value[1]), Number(value[2])];
    }
  }

  /** Sequences for the state serialize leaves out, appended to its output. */
  private unserialisedState(): string {
    let extra = '';
    const buffer = this.term.buffer.active;
    const origin = this.term.modes.originMode;
    const [top, bottom] = this.region ?? [1, this.term.rows];
    const custom = top !== 1 || bottom !== this.term.rows;
    // DECSTBM homes the cursor, and serialize's own DECOM (?6h) does too: put it back.
    if (custom) extra += `\x1b[${top};${bottom}r`;
    if (custom || origin) extra += `\x1b[${origin ? buffer.cursorY - top + 2 : buffer.cursorY + 1};${buffer.cursorX + 1}H`;
    if (this.cursorHidden) extra += '\x1b[?25l';
    if (this.cursorStyle !== 0) extra += `\x1b[${this.cursorStyle} q`;
    if (this.title !== '') extra += `\x1b]2;${this.title}\x07`;
    return extra;
  }
}
