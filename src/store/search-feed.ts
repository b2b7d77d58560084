// Feeds one recording's events to a ScreenText for search, up to a cap on the output it renders.
// Rendering is the expensive part of indexing (a headless terminal parses every byte), so a huge
// recording is only searchable in its first `capChars` characters of output; the index row says so.
import { CastLineParser, type CastEvent } from '../cast';
import type { RecordingIdentity } from './recording-meta';
import { ScreenText, type ScreenLine } from './screen-text';

/** Default: the first 32 Mi characters of output of each recording are rendered for search. */
export const DEFAULT_SEARCH_CAP_CHARS = 32 * 1024 * 1024;
/** Above this many characters waiting in the terminal, the feeder waits. */
const BUSY_CHARS = 1024 * 1024;

export class SearchFeed {
  private parser: CastLineParser | undefined;
  private readonly screen: ScreenText;
  private chars = 0;
  private stopped = false;
  capped = false;

  constructor(
    identity: RecordingIdentity,
    private readonly capChars: number,
    onLines: (lines: ScreenLine[]) => void,
  ) {
    this.screen = new ScreenText({ cols: identity.cols, rows: identity.rows, convertEol: !identity.tty, mode: 'index', onLines });
  }

  /** Characters of output rendered so far. */
  get renderedChars(): number {
    return this.chars;
  }

  get busy(): boolean {
    return this.screen.pendingChars > BUSY_CHARS;
  }

  idle(): Promise<void> {
    return this.screen.idle();
  }

  /** For lines arriving raw (the live path): the header object the recorder parsed. False if unusable. */
  header(raw: Record<string, unknown>): boolean {
    const parser = new CastLineParser();
    try {
      parser.line(JSON.stringify(raw));
    } catch {
      return false;
    }
    this.parser = parser;
    return true;
  }

  /** Whole cast lines after the header (each ending in "\n"). */
  lines(buf: Buffer): void {
    const parser = this.parser;
    if (!parser || this.stopped) return;
    let start = 0;
    while (start < buf.byteLength && !this.stopped) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) return;
      let event: CastEvent | null = null;
      try {
        event = parser.line(buf.toString('utf8', start, nl));
      } catch {
        // malformed line: skipped, as the recorder stored it
      }
      if (event) this.event(event);
      start = nl + 1;
    }
  }

  /** One parsed event; false once the cap is reached (no more are wanted). */
  event(event: CastEvent): boolean {
    if (this.stopped) return false;
    if (event.code !== 'o' && event.code !== 'r') return true;
    if (event.code === 'o') this.chars += event.data.length;
    this.screen.event(event);
    if (this.chars >= this.capChars) {
      this.capped = true;
      this.stopped = true;
    }
    return !this.stopped;
  }

  /** Renders what is queued and emits the last screen. */
  end(): Promise<void> {
    this.stopped = true;
    return this.screen.end();
  }

  dispose(): void {
    this.stopped = true;
    this.screen.dispose();
  }
}
