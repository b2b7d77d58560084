// One live session: its cast lines parsed into events, the recent events (event-log.ts), its
// screen (for joining viewers) and its viewers, each at its own position in the log.
//
// Flow control is per viewer and never touches the session: events are appended to the log and
// sent to each viewer while that viewer's unsent bytes stay under a limit. A viewer past the limit
// gets nothing more until it drains; it then continues from the log if the gap is small and still
// held, and otherwise gets a fresh snapshot ("resync") and continues from there.
//
// A flood (output faster than anyone can watch, `cat` of a big file) is not fanned out event by
// event. What counts is the output times the number of viewers, since that is what fanning it out
// costs: 50 viewers of a modest `cat` would otherwise slow the session below the flood rate and
// never be switched to screens. While a flood lasts, viewers get a fresh screen (a "resync" snapshot without scrollback) every
// FLOOD_TICK_MS instead, one serialisation shared by all, and a full resync when it is over. The
// tick is short so that a flood's screen reaches viewers as promptly as events do; it stretches
// only when serialising the screen is slow (a huge terminal), so screens never take more than
// FLOOD_SNAPSHOT_SHARE of the event loop per session.
import type { CastLineParser } from '../cast';
import type { Logger } from '../util/log';
import { EventLog, MAX_OUTPUT_MESSAGE } from './event-log';
import type { LiveEndMessage, LiveMessage, LiveSession, LiveSnapshotMessage } from './messages';
import { OutputEvent, outputLineTimeSpan, timeAt } from './output';
import { clampSize, type Screen, type ScreenSnapshot } from './screen';

/** Whoever watches a live session: the WebSocket of socket.ts, or anything in-process. */
export interface LiveViewer {
  /**
   * One message. `json` is its JSON text as UTF-8, encoded once for every viewer that gets it.
   * May be called during subscribe(). Throwing drops the viewer.
   */
  send(message: LiveMessage, json: Buffer): void;
  /** Bytes sent but not yet written out (a WebSocket's bufferedAmount). Omitted: the viewer keeps up. */
  bufferedAmount?(): number;
  /** The hub dropped the viewer: it stayed behind too long, it threw, or the hub is closing. */
  drop?(reason: 'stalled' | 'error' | 'closing'): void;
}

export interface FlowLimits {
  /** Unsent bytes above which a viewer gets no more events until it drains. */
  viewerBufferLimit: number;
  /** Unsent bytes at or below which a stopped viewer counts as drained. */
  viewerResumeBelow: number;
  /** A drained viewer whose gap in the log is at most this size continues from the log; beyond, it gets a snapshot. */
  replayLimit: number;
  /** A viewer that has not drained for this long is dropped. */
  stallMs: number;
  /** Output per FLOOD_WINDOW_MS, times the number of viewers, above which the session is a flood (bytes of cast lines). */
  floodBytes: number;
}

/** How often viewers of a flood get a fresh screen (at most; see FLOOD_SNAPSHOT_SHARE). */
export const FLOOD_TICK_MS = 20;
/** Output is metered over windows this long to tell when a flood starts and ends. */
export const FLOOD_WINDOW_MS = 250;
/** Share of the event loop a flooding session's screens may take: a slower serialisation stretches the tick. */
const FLOOD_SNAPSHOT_SHARE = 0.1;

/** syncing: waiting for a snapshot; resting: between the screens of a flood; done: got the end or left. */
type SlotState = 'syncing' | 'live' | 'resting' | 'blocked' | 'done';

interface Slot {
  viewer: LiveViewer;
  state: SlotState;
  /** Seq of the last event the viewer has (through its snapshot or events). */
  cursor: number;
  reason: 'join' | 'resync';
  blockedAt: number;
  resyncs: number;
  /** The flood screen it got last (the same screen is not sent twice). */
  floodScreen: ScreenSnapshot | undefined;
}

export interface ViewerStats {
  state: SlotState;
  bufferedAmount: number;
  /** Events of the log the viewer has not been sent yet. */
  behind: number;
  resyncs: number;
}

const EVENT_LINE = /^\s*\[/;
const RESIZE = /^(\d{1,5})x(\d{1,5})$/;
const EXIT_CODE = /^-?\d{1,10}$/;
const MAX_LABEL = 4096;

export class LiveFeed {
  /** Uploads feeding this session right now (a resumed upload can start before the old one is reported ended). */
  uploads = 0;
  /** Set while the session is ended (it stays for a grace period). */
  endMessage: LiveEndMessage | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  holdTimer: NodeJS.Timeout | undefined;
  private readonly events: EventLog;
  private readonly slots = new Set<Slot>();
  private lastTime = 0;
  private lastOutputMs: number | undefined;
  private exitCode: number | null = null;
  private flushScheduled = false;
  private parseErrors = 0;
  private disposed = false;
  // Output metering for floods: bytes since windowStart (up to FLOOD_WINDOW_MS ago).
  private windowStart = 0;
  private windowBytes = 0;
  private isFlooding = false;
  private floodTimer: NodeJS.Timeout | undefined;
  /** A flood screen has been asked of the screen and not yet delivered: ticks meanwhile ask for none. */
  private floodSnapshotPending = false;
  /**
   * What the latest flood screens took to make (ms). The least of them paces the ticks: a slow one
   * may be a GC pause, several in a row are a big screen. Starts at zero: the first ones are not judged alone.
   */
  private floodSnapshotCosts = [0, 0, 0, 0];
  private lastFloodScreen: ScreenSnapshot | undefined;
  // Shared encodings of the latest snapshot, per reason.
  private snapshotJson: { snapshot: ScreenSnapshot; reason: 'join' | 'resync'; json: Buffer } | undefined;

  constructor(
    private readonly session: LiveSession,
    private readonly parser: CastLineParser,
    private readonly screen: Screen,
    logSize: number,
    private readonly limits: FlowLimits,
    private readonly logger: Logger,
    /** Called when a viewer stops (the hub then polls it until it drains). */
    private readonly onBlocked: () => void,
  ) {
    this.events = new EventLog(logSize);
  }

  get id(): string {
    return this.session.id;
  }

  get ended(): boolean {
    return this.endMessage !== undefined;
  }

  /** Output is coming faster than viewers are sent it event by event. */
  get flooding(): boolean {
    return this.isFlooding;
  }

  get viewerCount(): number {
    return this.slots.size;
  }

  get blockedCount(): number {
    let n = 0;
    for (const slot of this.slots) if (slot.state === 'blocked') n++;
    return n;
  }

  describe(): LiveSession {
    const copy = { ...this.session, exitCode: this.exitCode };
    copy.lastOutputAt = this.lastOutputMs === undefined ? null : new Date(this.lastOutputMs).toISOString();
    return copy;
  }

  /** Complete cast lines. `history`: lines read back from the file to rebuild the screen, not news. */
  ingest(lines: Buffer, history = false): void {
    if (this.disposed) return;
    if (!history) this.session.bytes += lines.byteLength;
    // v3 times are intervals that only the full parser sums; v2 output lines are taken as they are.
    const lazy = this.parser.version === 2;
    let appended = false;
    // A run of consecutive output lines becomes one event.
    let runStart = -1;
    let runEnd = -1;
    let runTime: [number, number] = [0, 0];
    const closeRun = () => {
      if (runStart < 0) return;
      const time = Math.max(timeAt(lines, runTime) ?? 0, this.lastTime);
      this.output(OutputEvent.fromLines(this.events.next, time, lines, runStart, runEnd), history);
      runStart = -1;
      appended = true;
    };
    let start = 0;
    while (start < lines.byteLength) {
      let end = lines.indexOf(0x0a, start);
      if (end < 0) end = lines.byteLength;
      if (end > start) {
        const span = lazy ? outputLineTimeSpan(lines, start, end) : undefined;
        if (span) {
          if (runStart >= 0 && end - runStart > MAX_OUTPUT_MESSAGE) closeRun();
          if (runStart < 0) runStart = start;
          runEnd = end;
          runTime = span;
        } else {
          closeRun();
          if (this.line(lines.toString('utf8', start, end), history)) appended = true;
        }
      }
      start = end + 1;
    }
    closeRun();
    if (appended) this.scheduleFlush();
  }

  /** The upload ended (after any hold for a resume): viewers get `end` once they have every event. */
  end(complete: boolean, bytes: number, error: string | undefined, now: number): void {
    this.session.endedAt = new Date(now).toISOString();
    this.session.complete = complete;
    if (bytes > 0) this.session.bytes = bytes;
    this.endMessage = { type: 'end', time: this.lastTime, exitCode: this.exitCode, complete, ...(error ? { error } : {}) };
    // A flood ends at the next tick once the screen has caught up: the final screen, then the end.
    // Late joiners then get the final screen at once.
    this.screen.snapshot(() => {});
    this.scheduleFlush();
  }

  /** A resumed upload continues a session that had ended. */
  revive(): void {
    this.endMessage = undefined;
    this.session.endedAt = null;
    this.session.complete = false;
  }

  subscribe(viewer: LiveViewer): () => void {
    const slot: Slot = { viewer, state: 'syncing', cursor: 0, reason: 'join', blockedAt: 0, resyncs: 0, floodScreen: undefined };
    this.slots.add(slot);
    this.screen.watched?.(true);
    this.sync(slot);
    return () => this.remove(slot);
  }

  /** Checks stopped viewers: resumes drained ones, drops those stalled too long. */
  poll(now: number): void {
    for (const slot of this.slots) {
      if (slot.state !== 'blocked') continue;
      if (this.buffered(slot) <= this.limits.viewerResumeBelow) {
        if (this.flooding) {
          slot.state = 'resting'; // the next flood tick has a screen for it
        } else if (this.events.sizeAfter(slot.cursor) <= this.limits.replayLimit) {
          slot.state = 'live';
          this.pump(slot);
        } else {
          slot.reason = 'resync';
          slot.resyncs++;
          this.sync(slot);
        }
      } else if (now - slot.blockedAt > this.limits.stallMs) {
        this.remove(slot);
        this.dropViewer(slot.viewer, 'stalled');
      }
    }
  }

  viewerStats(): ViewerStats[] {
    return [...this.slots].map((slot) => ({
      state: slot.state,
      bufferedAmount: this.buffered(slot),
      behind: Math.max(0, this.events.lastSeq - slot.cursor),
      resyncs: slot.resyncs,
    }));
  }

  stats(): { logSize: number; parseErrors: number; screen: ReturnType<Screen['stats']> } {
    return { logSize: this.events.size, parseErrors: this.parseErrors, screen: this.screen.stats() };
  }

  /** Drops every viewer still here (one that never drained gets no end) and frees the screen. */
  dispose(reason: 'stalled' | 'closing'): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.graceTimer);
    clearTimeout(this.holdTimer);
    clearTimeout(this.floodTimer);
    this.floodTimer = undefined;
    this.isFlooding = false;
    for (const slot of [...this.slots]) {
      const hadEnd = slot.state === 'done';
      this.remove(slot);
      if (!hadEnd) this.dropViewer(slot.viewer, reason);
    }
    this.screen.dispose();
  }

  private line(text: string, history: boolean): boolean {
    if (!EVENT_LINE.test(text)) {
      if (text.trim() !== '') this.parseErrors++; // not an event line: skipped without a word
      return false;
    }
    let event;
    try {
      event = this.parser.line(text);
    } catch (err) {
      if (this.parseErrors++ === 0) this.logger.warn('live: skipping a malformed cast line', { session: this.id, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (event === null) return false;
    // Times never go backwards (the lazily read output lines bypass the parser's clock).
    const time = Math.max(event.time, this.lastTime);
    this.lastTime = time;
    switch (event.code) {
      case 'o':
        if (event.data.length === 0) return false;
        this.output(OutputEvent.fromText(this.events.next, time, event.data), history);
        return true;
      case 'r': {
        const size = RESIZE.exec(event.data);
        if (!size || Number(size[1]) < 1 || Number(size[2]) < 1) return false;
        const { cols, rows } = clampSize(Number(size[1]), Number(size[2]));
        this.session.cols = cols;
        this.session.rows = rows;
        const seq = this.events.append({ type: 'resize', time, cols, rows });
        this.screen.resize(seq, time, cols, rows);
        return true;
      }
      case 'm':
        this.events.append({ type: 'marker', time, label: event.data.slice(0, MAX_LABEL) });
        return true;
      case 'x': {
        const code = EXIT_CODE.test(event.data.trim()) ? Number(event.data.trim()) : null;
        this.exitCode = code;
        this.events.append({ type: 'exit', time, code });
        return true;
      }
      default:
        return false; // 'i' (stdin) is recorded on request only and never shown to viewers
    }
  }

  private output(event: OutputEvent, history: boolean): void {
    this.lastTime = event.time;
    this.events.append(event);
    this.screen.output(event);
    if (history) return;
    this.lastOutputMs = Date.now();
    if (!this.flooding) {
      const now = performance.now();
      if (now - this.windowStart > FLOOD_WINDOW_MS) {
        this.windowStart = now;
        this.windowBytes = 0;
      }
    }
    this.windowBytes += event.size;
    if (!this.flooding && this.windowBytes * this.slots.size > this.limits.floodBytes) this.startFlood();
  }

  private startFlood(): void {
    this.isFlooding = true;
    this.windowStart = performance.now();
    this.windowBytes = 0;
    this.scheduleFloodTick(FLOOD_TICK_MS);
    this.logger.debug('live: output flood, viewers get screens instead of events', { session: this.id });
  }

  private scheduleFloodTick(delay: number): void {
    this.floodTimer = setTimeout(() => {
      this.floodTimer = undefined;
      this.floodTick();
    }, delay);
    this.floodTimer.unref();
  }

  /** Every tick of a flood: a fresh screen for every viewer ready for one, or the end of the flood. */
  private floodTick(): void {
    if (!this.isFlooding || this.disposed) return;
    const started = performance.now();
    // Half the threshold to end it, so a rate near the threshold does not flap; and not before the
    // screen has nearly caught up (fully, once the session ended), or the resync would replay its
    // backlog to every viewer. Once the session ended no more output comes: no need to wait for the window.
    const behind = this.screen.stats().backlog;
    let calm = this.endMessage !== undefined && behind === 0;
    if (started - this.windowStart >= FLOOD_WINDOW_MS) {
      calm ||= this.windowBytes * this.slots.size <= this.limits.floodBytes / 2 && behind <= (this.endMessage ? 0 : this.limits.replayLimit);
      this.windowStart = started;
      this.windowBytes = 0;
    }
    if (this.slots.size === 0 || calm) {
      this.endFlood();
      return;
    }
    const ready: Slot[] = [];
    for (const slot of this.slots) {
      if (slot.state === 'live') slot.state = 'resting';
      if (slot.state !== 'resting') continue;
      if (this.buffered(slot) <= this.limits.viewerResumeBelow) ready.push(slot);
      else this.block(slot);
    }
    if (ready.length > 0 && !this.floodSnapshotPending) {
      this.floodSnapshotPending = true;
      this.screen.snapshot((snapshot) => {
        this.floodSnapshotPending = false;
        if (snapshot !== this.lastFloodScreen) {
          this.lastFloodScreen = snapshot;
          this.floodSnapshotCosts.shift();
          this.floodSnapshotCosts.push(this.screen.stats().snapshotMs);
        }
        for (const slot of ready) {
          if (slot.state !== 'resting' || slot.floodScreen === snapshot) continue;
          slot.cursor = snapshot.seq;
          slot.resyncs++;
          slot.floodScreen = snapshot;
          this.send(slot, ...this.snapshotMessage(snapshot, 'resync'));
        }
      }, false);
    }
    if (!this.isFlooding || this.disposed) return;
    const interval = Math.max(FLOOD_TICK_MS, Math.min(...this.floodSnapshotCosts) / FLOOD_SNAPSHOT_SHARE);
    this.scheduleFloodTick(Math.max(1, interval - (performance.now() - started)));
  }

  /** Back to events: every viewer that was getting screens gets a full resync. */
  private endFlood(): void {
    if (!this.isFlooding) return;
    this.isFlooding = false;
    clearTimeout(this.floodTimer);
    this.floodTimer = undefined;
    this.windowStart = performance.now();
    this.windowBytes = 0;
    for (const slot of this.slots) {
      slot.floodScreen = undefined;
      if (slot.state !== 'resting') continue;
      slot.reason = 'resync';
      slot.resyncs++;
      this.sync(slot);
    }
  }

  private block(slot: Slot): void {
    slot.state = 'blocked';
    slot.blockedAt = Date.now();
    this.onBlocked();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.slots.size === 0) return;
    this.flushScheduled = true;
    // setImmediate: every line ingested in this turn of the event loop goes out in one message.
    setImmediate(() => {
      this.flushScheduled = false;
      for (const slot of this.slots) if (slot.state === 'live') this.pump(slot);
    });
  }

  /** Sends what the viewer lacks, while it keeps up. */
  private pump(slot: Slot): void {
    while (slot.state === 'live') {
      if (this.flooding && !this.endMessage) {
        slot.state = 'resting';
        return;
      }
      if (this.buffered(slot) > this.limits.viewerBufferLimit) {
        this.block(slot);
        return;
      }
      if (!this.events.covers(slot.cursor)) {
        slot.reason = 'resync';
        slot.resyncs++;
        this.sync(slot);
        return;
      }
      const batch = this.events.batchAfter(slot.cursor);
      if (!batch) {
        if (this.endMessage) {
          slot.state = 'done';
          this.send(slot, this.endMessage, Buffer.from(JSON.stringify(this.endMessage)));
        }
        return;
      }
      slot.cursor = batch.lastSeq;
      if (batch.message) this.send(slot, batch.message, batch.json);
    }
  }

  /** Gets the viewer a snapshot, then its events. */
  private sync(slot: Slot): void {
    slot.state = 'syncing';
    this.screen.snapshot((snapshot) => {
      if (slot.state !== 'syncing' || this.disposed) return;
      if (!this.events.covers(snapshot.seq)) {
        // The screen lags further behind than the log reaches: ask again once it has moved on.
        setImmediate(() => {
          if (slot.state === 'syncing') this.sync(slot);
        });
        return;
      }
      slot.cursor = snapshot.seq;
      slot.state = 'live';
      this.send(slot, ...this.snapshotMessage(snapshot, slot.reason));
      this.pump(slot);
    });
  }

  private snapshotMessage(snapshot: ScreenSnapshot, reason: 'join' | 'resync'): [LiveSnapshotMessage, Buffer] {
    const message: LiveSnapshotMessage = {
      type: 'snapshot',
      reason,
      time: snapshot.time,
      cols: snapshot.cols,
      rows: snapshot.rows,
      tty: this.session.tty,
      data: snapshot.data,
      session: this.describe(),
    };
    const cached = this.snapshotJson;
    if (cached && cached.snapshot === snapshot && cached.reason === reason) return [message, cached.json];
    const json = Buffer.from(JSON.stringify(message));
    this.snapshotJson = { snapshot, reason, json };
    return [message, json];
  }

  private send(slot: Slot, message: LiveMessage, json: Buffer): void {
    try {
      slot.viewer.send(message, json);
    } catch (err) {
      this.logger.debug('live: viewer send failed', { session: this.id, error: err instanceof Error ? err.message : String(err) });
      this.remove(slot);
      this.dropViewer(slot.viewer, 'error');
    }
  }

  private buffered(slot: Slot): number {
    try {
      return slot.viewer.bufferedAmount?.() ?? 0;
    } catch {
      return 0;
    }
  }

  private remove(slot: Slot): void {
    slot.state = 'done';
    this.slots.delete(slot);
    if (this.slots.size === 0) this.screen.watched?.(false);
  }

  private dropViewer(viewer: LiveViewer, reason: 'stalled' | 'error' | 'closing'): void {
    try {
      viewer.drop?.(reason);
    } catch {
      // the viewer is gone either way
    }
  }
}

