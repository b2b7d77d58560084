// What a live viewer sees: the Session of `GET /api/live` and the messages of the live WebSocket
// (`GET /api/live/ID`, one JSON text frame per message). Declarations and plain constants only, no
// imports, so the UI can share them (through src/console, which the renderer may import from).
//
// A viewer gets one `snapshot`, then events in order, then `end`. It may get another `snapshot`
// (reason "resync") at any time when it fell behind: it then resets its terminal to that snapshot
// and carries on with the events that follow.

/** A session in progress (or just ended), with the fields DESIGN.md's `Session` lists. */
export interface LiveSession {
  id: string;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601 once the upload ended; null while live. */
  endedAt: string | null;
  /** '' when a field is unknown (recordings from other writers omit some). */
  user: string;
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  /** The exec command, space-joined like the cast header's `command`. */
  command: string;
  sessionType: 'exec' | 'attach' | null;
  protocol: 'spdy' | 'websocket' | null;
  tty: boolean;
  /** Current terminal size (changes with resizes). */
  cols: number;
  rows: number;
  /** From the session's exit event, when one came. */
  exitCode: number | null;
  /** Bytes of the cast stored so far. */
  bytes: number;
  /** True once the upload ended normally (never while live). */
  complete: boolean;
  /** ISO 8601 wall-clock time of the last output, null before any: drives an activity pulse. */
  lastOutputAt: string | null;
  kubectlVersion?: string;
  /** The kubectl client's address as the proxy saw it. */
  clientAddress?: string;
  /** The address the recording was uploaded from (the proxy), as the recorder saw it. */
  uploaderAddress?: string;
}

/** Times are seconds since the session started, as in the cast. */
export interface LiveSnapshotMessage {
  type: 'snapshot';
  /** "join": the first message; "resync": the viewer fell behind and must reset to this. */
  reason: 'join' | 'resync';
  time: number;
  cols: number;
  rows: number;
  tty: boolean;
  /**
   * TTY: a VT sequence that redraws the screen (with up to ~1000 lines of scrollback), modes,
   * alternate screen, scroll region, cursor position, visibility and style, and title. Write it into
   * a terminal reset to cols×rows. Non-TTY: the last output (64 KiB by default) as it came.
   */
  data: string;
  session: LiveSession;
}

export interface LiveOutputMessage {
  type: 'output';
  time: number;
  /** Whole characters; consecutive outputs may arrive merged into one message. */
  data: string;
}

export interface LiveResizeMessage {
  type: 'resize';
  time: number;
  cols: number;
  rows: number;
}

export interface LiveMarkerMessage {
  type: 'marker';
  time: number;
  label: string;
}

export interface LiveExitMessage {
  type: 'exit';
  time: number;
  /** The process's exit status; null when the cast's exit event was not a number. */
  code: number | null;
}

export interface LiveEndMessage {
  type: 'end';
  time: number;
  exitCode: number | null;
  /** The upload ended normally; false when it was cut off (the recording may be truncated). */
  complete: boolean;
  error?: string;
}

/** Messages that follow a snapshot. */
export type LiveEventMessage = LiveOutputMessage | LiveResizeMessage | LiveMarkerMessage | LiveExitMessage | LiveEndMessage;

export type LiveMessage = LiveSnapshotMessage | LiveEventMessage;

/** WebSocket close codes the live socket uses besides 1000 (after `end`) and 1001 (server closing). */
export const LIVE_CLOSE_NOT_FOUND = 4404;
/** The viewer stayed too far behind for too long. */
export const LIVE_CLOSE_STALLED = 4408;
/** Too many viewers: try again later. */
export const LIVE_CLOSE_BUSY = 1013;
