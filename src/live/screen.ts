// What a live session keeps of its screen so that a viewer can join mid-session: a headless
// terminal for TTY sessions (terminal-screen.ts), the tail of the output otherwise (text-screen.ts).
import type { OutputEvent } from './output';

/** The screen after every event up to `seq` (of the session's event log) and none after. */
export interface ScreenSnapshot {
  seq: number;
  /** Cast time of that event, seconds. */
  time: number;
  cols: number;
  rows: number;
  data: string;
}

export interface ScreenStats {
  /** Output waiting to be folded into the screen (bytes of cast lines, or characters once decoded). */
  backlog: number;
  /** Output skipped because the screen fell too far behind (it was rebuilt from the tail), same units. */
  dropped: number;
  /** How many times the screen was rebuilt from the tail. */
  rebuilds: number;
  /** Milliseconds the latest snapshot took to make (serialising the terminal): paces a flood's screens. */
  snapshotMs: number;
}

export interface Screen {
  output(event: OutputEvent): void;
  resize(seq: number, time: number, cols: number, rows: number): void;
  /**
   * Calls back (possibly synchronously) with the screen as it stands after the output given so far,
   * with its scrollback unless `scrollback` is false (the frequent refreshes of a flood: then about
   * a screenful).
   */
  snapshot(callback: (snapshot: ScreenSnapshot) => void, scrollback?: boolean): void;
  stats(): ScreenStats;
  /** Whether anyone watches: an unwatched screen may fall further behind (it only matters when someone joins). */
  watched?(watched: boolean): void;
  dispose(): void;
}

/** Largest terminal kept: a 10 000×10 000 header would otherwise cost gigabytes of cells. */
export const MAX_SCREEN_COLS = 1000;
export const MAX_SCREEN_ROWS = 1000;

export function clampSize(cols: number, rows: number): { cols: number; rows: number } {
  return { cols: Math.min(Math.max(1, Math.floor(cols)), MAX_SCREEN_COLS), rows: Math.min(Math.max(1, Math.floor(rows)), MAX_SCREEN_ROWS) };
}

/** Index in `text` at or after `index` that does not split a surrogate pair. */
export function charBoundary(text: string, index: number): number {
  if (index <= 0 || index >= text.length) return Math.max(0, Math.min(index, text.length));
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index + 1 : index;
}

/** Where a tail of `text` kept from `index` should start: at the next line start when one is near, so it begins cleanly. */
export function tailStart(text: string, index: number, within = 4096): number {
  const newline = text.indexOf('\n', index);
  return newline >= 0 && newline - index < within ? newline + 1 : charBoundary(text, index);
}
