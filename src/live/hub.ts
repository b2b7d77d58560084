// The live hub: every recording the recorder is ingesting, from any proxy, is a live session that
// viewers can join. It is an IngestObserver, called synchronously on the recorder's ingest path, so
// its work there is small and it never throws: output lines are only split and recognised, and
// kept undecoded in the session's event log (output.ts); the headless terminal decodes and parses
// them asynchronously from a bounded backlog within a share of the event loop (terminal-screen.ts);
// viewers are served after the current turn of the event loop (feed.ts).
import type { IngestedRecording, IngestObserver, IngestOutcome } from '../recorder/ingest';
import { silentLogger, type Logger } from '../util/log';
import { readCastTail } from './cast-tail';
import { LiveFeed, type FlowLimits, type LiveViewer, type ViewerStats } from './feed';
import type { LiveSession } from './messages';
import { clampSize, type Screen, type ScreenStats } from './screen';
import { describeSession, parserFor } from './session-info';
import { TerminalBudget, TerminalScreen, type TerminalScreenOptions } from './terminal-screen';
import { TextScreen } from './text-screen';

export type { LiveViewer, ViewerStats } from './feed';

export interface LiveHubOptions {
  logger?: Logger;
  /** How long an ended session stays for get() and late viewers. Default 30 s. */
  graceMs?: number;
  /** An upload cut off (not ended normally) may be resumed this long before viewers get `end`. Default 5 s. */
  resumeHoldMs?: number;
  /** Non-TTY sessions: bytes of recent output a joining viewer gets. Default 64 KiB. */
  textTailBytes?: number;
  /** Recent events kept per session for viewers that lag (bytes of cast lines). Default 4 MiB; keep it above the terminal backlog. */
  logSize?: number;
  /** The headless terminal's backlog, rebuild tail and scrollback. */
  terminal?: Omit<TerminalScreenOptions, 'budget'>;
  /** Share of the event loop's time all headless terminals may take together. Default 0.2. */
  terminalShare?: number;
  /** Sessions with a headless terminal; further TTY sessions keep a text tail instead. Default 64. */
  maxTerminals?: number;
  /** Viewers across all sessions. Default 256. */
  maxViewers?: number;
  /** A viewer's unsent bytes above which it gets no more events until it drains. Default 1 MiB. */
  viewerBufferLimit?: number;
  /** Unsent bytes at or below which a stopped viewer counts as drained. Default 256 KiB. */
  viewerResumeBelow?: number;
  /** A drained viewer at most this far behind (bytes of cast lines) catches up from the log; further behind, it gets a snapshot. Default 1 MiB. */
  replayLimit?: number;
  /** A viewer that does not drain for this long is dropped. Default 60 s. */
  stallMs?: number;
  /** How often stopped viewers are checked. Default 20 ms. */
  pollMs?: number;
  /**
   * Output per 250 ms (bytes of cast lines) times the number of viewers above which a watched
   * session is a flood: viewers then get a fresh screen every 20 ms instead of every event until it
   * calms down. Default 1 MiB (4 MiB/s for one viewer, 80 KiB/s for fifty).
   */
  floodBytes?: number;
}

export interface LiveChange {
  type: 'started' | 'ended';
  session: LiveSession;
}

export interface LiveHubStats {
  sessions: Array<{
    id: string;
    ended: boolean;
    logSize: number;
    parseErrors: number;
    screen: ScreenStats;
    viewers: ViewerStats[];
  }>;
}

/** subscribe() when the hub already serves its maximum of viewers. */
export class LiveViewerLimitError extends Error {
  constructor(limit: number) {
    super(`too many live viewers (limit ${limit})`);
    this.name = 'LiveViewerLimitError';
  }
}

export class LiveHub implements IngestObserver {
  private readonly log: Logger;
  private readonly feeds = new Map<string, LiveFeed>();
  private readonly withTerminal = new Set<LiveFeed>();
  private readonly listeners = new Set<(change: LiveChange) => void>();
  private readonly limits: FlowLimits;
  private readonly graceMs: number;
  private readonly resumeHoldMs: number;
  private readonly textTailBytes: number;
  private readonly logSize: number;
  private readonly maxTerminals: number;
  private readonly maxViewers: number;
  private readonly pollMs: number;
  private readonly terminalBudget: TerminalBudget;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: LiveHubOptions = {}) {
    this.log = (options.logger ?? silentLogger).child({ component: 'live' });
    this.graceMs = options.graceMs ?? 30_000;
    this.resumeHoldMs = options.resumeHoldMs ?? 5_000;
    this.textTailBytes = options.textTailBytes ?? 64 * 1024;
    this.logSize = options.logSize ?? 4 * 1024 * 1024;
    this.maxTerminals = options.maxTerminals ?? 64;
    this.maxViewers = options.maxViewers ?? 256;
    this.pollMs = options.pollMs ?? 20;
    this.terminalBudget = new TerminalBudget(options.terminalShare ?? 0.2);
    const viewerBufferLimit = options.viewerBufferLimit ?? 1024 * 1024;
    this.limits = {
      viewerBufferLimit,
      // Below the limit, or a viewer would be resumed only to stop again at once.
      viewerResumeBelow: Math.min(options.viewerResumeBelow ?? 256 * 1024, Math.floor(viewerBufferLimit / 2)),
      replayLimit: options.replayLimit ?? 1024 * 1024,
      stallMs: options.stallMs ?? 60_000,
      floodBytes: options.floodBytes ?? 1024 * 1024,
    };
  }

  // --- IngestObserver: called by the recorder, must not throw -----------------------------------

  started(recording: IngestedRecording): void {
    try {
      this.start(recording);
    } catch (err) {
      this.log.error('live: cannot follow a recording', { recording: recording.id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  lines(id: string, lines: Buffer): void {
    const feed = this.feeds.get(id);
    if (!feed || feed.uploads === 0) return;
    try {
      feed.ingest(lines);
    } catch (err) {
      this.log.error('live: cannot follow a recording', { recording: id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  ended(id: string, outcome: IngestOutcome): void {
    const feed = this.feeds.get(id);
    if (!feed || feed.uploads === 0) return;
    feed.uploads--;
    if (feed.uploads > 0) return; // a resumed upload took over
    try {
      if (outcome.complete || this.resumeHoldMs <= 0) {
        this.finish(feed, outcome);
        return;
      }
      // The proxy resumes a cut-off upload when it can: hold the end briefly so viewers carry on.
      feed.holdTimer = setTimeout(() => this.finish(feed, outcome), this.resumeHoldMs);
      feed.holdTimer.unref();
    } catch (err) {
      this.log.error('live: cannot end a recording', { recording: id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  // --- for the console and the desktop app -------------------------------------------------------

  /** Sessions in progress, oldest first. */
  list(): LiveSession[] {
    const sessions: LiveSession[] = [];
    for (const feed of this.feeds.values()) if (!feed.ended) sessions.push(feed.describe());
    return sessions.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** A session in progress, or one that ended less than the grace period ago. */
  get(id: string): LiveSession | undefined {
    return this.feeds.get(id)?.describe();
  }

  /**
   * Starts sending `viewer` the session: a snapshot, then events, then `end` (at once for a session
   * that has ended). Returns the unsubscribe function, or undefined when there is no such session.
   * Throws LiveViewerLimitError when the hub serves its maximum of viewers.
   */
  subscribe(id: string, viewer: LiveViewer): (() => void) | undefined {
    const feed = this.closed ? undefined : this.feeds.get(id);
    if (!feed) return undefined;
    let viewers = 0;
    for (const other of this.feeds.values()) viewers += other.viewerCount;
    if (viewers >= this.maxViewers) throw new LiveViewerLimitError(this.maxViewers);
    return feed.subscribe(viewer);
  }

  /** Calls `listener` when a session starts (or resumes after it had ended) and when it ends. */
  onChange(listener: (change: LiveChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): LiveHubStats {
    return {
      sessions: [...this.feeds.values()].map((feed) => ({ id: feed.id, ended: feed.ended, ...feed.stats(), viewers: feed.viewerStats() })),
    };
  }

  /** Drops every viewer (close 1001 for WebSockets) and frees every session. */
  close(): void {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    for (const feed of this.feeds.values()) feed.dispose('closing');
    this.feeds.clear();
    this.withTerminal.clear();
  }

  // --- inside ------------------------------------------------------------------------------------

  private start(recording: IngestedRecording): void {
    if (this.closed) return;
    const existing = this.feeds.get(recording.id);
    if (existing) {
      // A resumed upload (or a takeover racing the old upload's end) continues the same session.
      existing.uploads++;
      clearTimeout(existing.holdTimer);
      if (existing.ended) {
        clearTimeout(existing.graceTimer);
        existing.revive();
        this.emit({ type: 'started', session: existing.describe() });
      }
      return;
    }
    const parser = parserFor(recording.header);
    const header = parser.header;
    if (!header) throw new Error('header did not parse');
    const session = describeSession(recording.id, header, recording.remoteAddress, Date.now());
    const { cols, rows } = clampSize(header.cols, header.rows);
    session.cols = cols;
    session.rows = rows;
    let screen: Screen;
    const terminal = session.tty && this.withTerminal.size < this.maxTerminals;
    if (terminal) screen = new TerminalScreen(cols, rows, { ...this.options.terminal, budget: this.terminalBudget });
    else screen = new TextScreen(cols, rows, this.textTailBytes);
    const feed = new LiveFeed(session, parser, screen, this.logSize, this.limits, this.log, () => this.startPolling());
    feed.uploads = 1;
    if (terminal) this.withTerminal.add(feed);
    if (recording.resumed) {
      // The hub did not know it (it restarted): rebuild the screen from the end of the file.
      const tail = readCastTail(recording.path, this.options.terminal?.tailChars ?? 256 * 1024);
      if (tail) {
        feed.ingest(tail.lines, true);
        session.bytes = tail.size;
      }
    } else {
      session.bytes = Buffer.byteLength(JSON.stringify(recording.header)) + 1;
    }
    this.feeds.set(recording.id, feed);
    this.emit({ type: 'started', session: feed.describe() });
  }

  private finish(feed: LiveFeed, outcome: IngestOutcome): void {
    if (feed.uploads > 0 || feed.ended || this.feeds.get(feed.id) !== feed) return;
    feed.end(outcome.complete, outcome.bytes, outcome.error, Date.now());
    this.emit({ type: 'ended', session: feed.describe() });
    feed.graceTimer = setTimeout(() => {
      if (this.feeds.get(feed.id) === feed) this.feeds.delete(feed.id);
      this.withTerminal.delete(feed);
      feed.dispose('stalled');
    }, this.graceMs);
    feed.graceTimer.unref();
  }

  private emit(change: LiveChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log.warn('live: change listener failed', { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  private startPolling(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setInterval(() => {
      const now = Date.now();
      let blocked = 0;
      for (const feed of this.feeds.values()) {
        if (feed.blockedCount === 0) continue;
        feed.poll(now);
        blocked += feed.blockedCount;
      }
      if (blocked === 0 && this.pollTimer) {
        clearInterval(this.pollTimer);
        this.pollTimer = undefined;
      }
    }, this.pollMs);
    this.pollTimer.unref();
  }
}
