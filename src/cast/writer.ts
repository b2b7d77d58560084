// asciicast v2 writer. Pure: every method returns the text to append to the recording (whole
// lines ending in "\n", or '' when there is nothing to write yet), so whatever stores or sends the
// recording only ever appends complete lines and the file stays valid JSON lines at every moment.
//
// This runs once per output frame on the proxy's hot path, so output() does the minimum: one
// streaming decode, one JSON.stringify, and a concatenation V8 keeps as a rope (no copy).

import { orderedHeader, type CastHeader } from './header';
import { Utf8StreamDecoder } from './utf8';

export type OutputStream = 'stdout' | 'stderr';

export class CastWriter {
  private readonly headerLine: string;
  // One decoder per stream: stdout and stderr frames interleave, and a character split across
  // two stdout frames must not be broken by a stderr frame in between.
  private readonly stdoutDecoder = new Utf8StreamDecoder();
  private readonly stderrDecoder = new Utf8StreamDecoder();
  private readonly stdinDecoder = new Utf8StreamDecoder();
  // Kept in whole microseconds so clamping and printing are exact integer work.
  private lastMicros = 0;

  constructor(header: CastHeader) {
    this.headerLine = jsonText(orderedHeader(header)) + '\n';
  }

  /** The header line. */
  header(): string {
    return this.headerLine;
  }

  /** Time of the last line written, in seconds since the start. */
  get lastTime(): number {
    return this.lastMicros / 1e6;
  }

  /**
   * An `o` event for a stdout or stderr frame (asciicast has one output code for both). Returns ''
   * while the bytes so far only start a character that a later frame of that stream completes.
   */
  output(time: number, stream: OutputStream, data: Uint8Array): string {
    const text = (stream === 'stderr' ? this.stderrDecoder : this.stdoutDecoder).decode(data);
    return text === '' ? '' : this.line(time, 'o', text);
  }

  /** An `i` event for stdin bytes (recorded only on request: stdin carries passwords). */
  input(time: number, data: Uint8Array): string {
    const text = this.stdinDecoder.decode(data);
    return text === '' ? '' : this.line(time, 'i', text);
  }

  /** An `r` event. Data is "COLSxROWS" as the asciicast spec says (the peer's rows-first form is a bug). */
  resize(time: number, cols: number, rows: number): string {
    assertDimension('cols', cols);
    assertDimension('rows', rows);
    return this.line(time, 'r', `${cols}x${rows}`);
  }

  /** An `m` (marker) event. */
  marker(time: number, label = ''): string {
    return this.line(time, 'm', label);
  }

  /**
   * An `x` (exit) event. asciicast v3 defines it with the exit status as a string; v2 players
   * skip codes they do not know, so v2 files carry it too.
   */
  exit(time: number, status: number | string): string {
    return this.line(time, 'x', String(status));
  }

  /**
   * Ends the recording's events: bytes a decoder still holds (a character the session never
   * finished) come out as U+FFFD, as `o` lines for stdout/stderr and an `i` line for stdin.
   * Returns '' when nothing was pending.
   */
  end(time: number): string {
    let lines = '';
    const stdout = this.stdoutDecoder.flush();
    if (stdout !== '') lines += this.line(time, 'o', stdout);
    const stderr = this.stderrDecoder.flush();
    if (stderr !== '') lines += this.line(time, 'o', stderr);
    const stdin = this.stdinDecoder.flush();
    if (stdin !== '') lines += this.line(time, 'i', stdin);
    return lines;
  }

  private line(time: number, code: string, data: string): string {
    return '[' + this.stamp(time) + ',"' + code + '",' + jsonText(data) + ']\n';
  }

  /**
   * Seconds with microsecond precision, never below the last written time (clocks and callers
   * can step back a little; players expect non-decreasing times), never in exponent notation.
   */
  private stamp(time: number): string {
    let micros = Number.isFinite(time) ? Math.round(time * 1e6) : this.lastMicros;
    if (micros < this.lastMicros) micros = this.lastMicros;
    this.lastMicros = micros;
    // An integer count of microseconds divided by 1e6 prints in plain decimal with at most six
    // fraction digits: Number#toString only switches to exponents below 1e-6 or from 1e21.
    return String(micros / 1e6);
  }
}

// Characters that are legal raw inside JSON strings but that some line-oriented readers treat as
// line breaks (Python's str.splitlines, JavaScript before ES2019); Go's encoder escapes the last two.
const LINE_BREAK_LOOKALIKES = /[\u0085\u2028\u2029]/g;

function jsonText(value: unknown): string {
  const json = JSON.stringify(value);
  // includes() is a fast native scan; the replace (a copy) only runs when one is present.
  if (json.includes('\u2028') || json.includes('\u2029') || json.includes('\u0085')) {
    return json.replace(LINE_BREAK_LOOKALIKES, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
  }
  return json;
}

function assertDimension(name: string, value: number): void {
  // Kubernetes TerminalSize fields are uint16.
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`cast resize: ${name} must be an integer in 0..65535, got ${value}`);
  }
}
