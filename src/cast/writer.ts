// asciicast v2 writer. Pure: every method returns the text to append to the recording (whole
// lines ending in "\n", or '' when there is nothing to write yet), so whatever stores or sends the
// recording only ever appends complete lines and the file stays valid JSON lines at every moment.
//
// output() runs once per frame on the proxy's hot path. outputLine() is its byte form for callers
// that write bytes anyway (the recorder upload, files): valid UTF-8 is never decoded to UTF-16 and
// encoded back; it is escaped as a one-byte (latin1) string, whose JSON.stringify escapes exactly
// what JSON needs (control characters, quote, backslash) and leaves bytes 0x80–0xFF alone, so
// the UTF-8 sequences come out unchanged.

import { isUtf8 } from 'node:buffer';
import { orderedHeader, type CastHeader } from './header';
import { decodeUtf8, Utf8Stream } from './utf8';

export type OutputStream = 'stdout' | 'stderr';

export class CastWriter {
  private readonly headerLine: string;
  // One decoder per stream: stdout and stderr frames interleave, and a character split across
  // two stdout frames must not be broken by a stderr frame in between.
  private readonly stdoutBytes = new Utf8Stream();
  private readonly stderrBytes = new Utf8Stream();
  private readonly stdinBytes = new Utf8Stream();
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
    const whole = (stream === 'stderr' ? this.stderrBytes : this.stdoutBytes).take(data);
    return whole.byteLength === 0 ? '' : this.line(time, 'o', decodeUtf8(whole));
  }

  /**
   * The same `o` line as output(), as UTF-8 bytes; null while the bytes only start a character.
   * Both forms share the per-stream state, so callers may mix them.
   */
  outputLine(time: number, stream: OutputStream, data: Uint8Array): Buffer | null {
    const whole = (stream === 'stderr' ? this.stderrBytes : this.stdoutBytes).take(data);
    if (whole.byteLength === 0) return null;
    if (!isUtf8(whole)) return Buffer.from(this.line(time, 'o', decodeUtf8(whole)));
    const view = Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength);
    const head = '[' + this.stamp(time) + ',"o",';
    return repeatedLine(head, view) ?? Buffer.from(head + utf8Json(view) + ']\n', 'latin1');
  }

  /** An `i` event for stdin bytes (recorded only on request: stdin carries passwords). */
  input(time: number, data: Uint8Array): string {
    const whole = this.stdinBytes.take(data);
    return whole.byteLength === 0 ? '' : this.line(time, 'i', decodeUtf8(whole));
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
    const stdout = this.stdoutBytes.flush();
    if (stdout.byteLength > 0) lines += this.line(time, 'o', decodeUtf8(stdout));
    const stderr = this.stderrBytes.flush();
    if (stderr.byteLength > 0) lines += this.line(time, 'o', decodeUtf8(stderr));
    const stdin = this.stdinBytes.flush();
    if (stdin.byteLength > 0) lines += this.line(time, 'i', decodeUtf8(stdin));
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

/** JSON string (quotes included) of valid UTF-8 bytes, as a latin1 string holding UTF-8 bytes. */
function utf8Json(bytes: Buffer): string {
  const json = JSON.stringify(bytes.toString('latin1'));
  if (json.includes('\xc2\x85') || json.includes('\xe2\x80\xa8') || json.includes('\xe2\x80\xa9')) return escapeLineBreakBytes(json);
  return json;
}

const MAX_PERIOD = 16;

/**
 * Bulk output is often one short pattern repeated (`/dev/zero`, `yes`, padding), and escaping is
 * the cost: NUL becomes six characters. A frame that is a repetition of a short, whole-character
 * pattern is written by escaping the pattern once and filling the line with it natively.
 * Null when the frame is not such a repetition.
 */
function repeatedLine(head: string, bytes: Buffer): Buffer | null {
  const n = bytes.byteLength;
  if (n < 4 * MAX_PERIOD) return null;
  for (let period = 1; period <= MAX_PERIOD; period++) {
    if (bytes[period] !== bytes[0]) continue;
    // memcmp of the data against itself shifted by one period: equal iff periodic.
    if (bytes.compare(bytes, 0, n - period, period, n) !== 0) continue;
    const pattern = bytes.subarray(0, period);
    if (!isUtf8(pattern)) return null;
    const unit = Buffer.from(utf8Json(pattern).slice(1, -1), 'latin1');
    const rest = n % period;
    const tail = Buffer.from((rest === 0 ? '' : utf8Json(bytes.subarray(n - rest)).slice(1, -1)) + '"]\n', 'latin1');
    const start = Buffer.byteLength(head, 'latin1') + 1;
    const end = start + unit.byteLength * Math.floor(n / period);
    const line = Buffer.allocUnsafe(end + tail.byteLength);
    line.write(head + '"', 0, 'latin1');
    line.fill(unit, start, end);
    tail.copy(line, end);
    return line;
  }
  return null;
}

/** The latin1-string form of the U+0085/U+2028/U+2029 escapes jsonText() applies to text. */
function escapeLineBreakBytes(json: string): string {
  return json.replaceAll('\xc2\x85', '\\u0085').replaceAll('\xe2\x80\xa8', '\\u2028').replaceAll('\xe2\x80\xa9', '\\u2029');
}

function assertDimension(name: string, value: number): void {
  // Kubernetes TerminalSize fields are uint16.
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`cast resize: ${name} must be an integer in 0..65535, got ${value}`);
  }
}
