// Output events decoded only when someone needs their text. Decoding a cast line (UTF-8 to a JS
// string, then JSON) costs about as much as the recorder spends storing it, and bulk output is
// mostly never looked at (the terminal takes a few MiB/s of it and viewers what they can read),
// so the hub keeps the stored lines and decodes them on first use. One event covers a run of
// consecutive output lines of one ingest call: per line, the hub only finds the newline and
// checks the line's first bytes.

export class OutputEvent {
  private source: Buffer | undefined;
  private decoded: string | undefined;
  /** Bytes of the cast lines, or characters when built from text: an upper bound of text().length. */
  readonly size: number;

  private constructor(
    readonly seq: number,
    readonly time: number,
    source: Buffer | undefined,
    text: string | undefined,
  ) {
    this.source = source;
    this.decoded = text;
    this.size = source ? source.byteLength : (text ?? '').length;
  }

  /**
   * From whole v2 output lines (`[time, "o", data]\n`…), as stored: the recorder never rewrites
   * them. A run that is a small part of a large buffer is copied, so it does not keep that alive.
   */
  static fromLines(seq: number, time: number, buffer: Buffer, start: number, end: number): OutputEvent {
    const run = buffer.subarray(start, end);
    const detached = buffer.byteLength > 1024 * 1024 && run.byteLength * 4 < buffer.byteLength ? Buffer.from(run) : run;
    return new OutputEvent(seq, time, detached, undefined);
  }

  static fromText(seq: number, time: number, text: string): OutputEvent {
    return new OutputEvent(seq, time, undefined, text);
  }

  /** The output text; lines that turn out not to be valid output events contribute nothing. */
  text(): string {
    if (this.decoded === undefined) {
      this.decoded = this.source ? decodeOutputLines(this.source) : '';
      this.source = undefined;
    }
    return this.decoded;
  }
}

function decodeOutputLines(lines: Buffer): string {
  const parts: string[] = [];
  let start = 0;
  while (start < lines.byteLength) {
    let end = lines.indexOf(0x0a, start);
    if (end < 0) end = lines.byteLength;
    if (end > start) {
      try {
        const value: unknown = JSON.parse(lines.toString('utf8', start, end));
        if (Array.isArray(value) && typeof value[2] === 'string') parts.push(value[2]);
      } catch {
        // not JSON after all: nothing to show
      }
    }
    start = end + 1;
  }
  return parts.length === 1 ? parts[0] : parts.join('');
}

const SPACE = 0x20;
const TAB = 0x09;

/**
 * Where the time of an asciicast v2 output line (`[1.5, "o", …`) is, found from its first bytes
 * without decoding the rest: [start, end) of the number, or undefined for any other line (which
 * is then parsed in full).
 */
export function outputLineTimeSpan(buf: Buffer, start: number, end: number): [number, number] | undefined {
  let i = start;
  while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
  if (buf[i] !== 0x5b /* [ */) return undefined;
  i++;
  while (i < end && buf[i] === SPACE) i++;
  const numberStart = i;
  while (i < end && i - numberStart <= 32 && isNumberByte(buf[i])) i++;
  const numberEnd = i;
  if (numberEnd === numberStart || numberEnd - numberStart > 32) return undefined;
  while (i < end && buf[i] === SPACE) i++;
  if (buf[i] !== 0x2c /* , */) return undefined;
  i++;
  while (i < end && buf[i] === SPACE) i++;
  if (i + 3 > end || buf[i] !== 0x22 || buf[i + 1] !== 0x6f || buf[i + 2] !== 0x22) return undefined; // "o"
  return [numberStart, numberEnd];
}

/** The time at `span` of a line outputLineTimeSpan accepted; undefined if it is not a usable number. */
export function timeAt(buf: Buffer, span: [number, number]): number | undefined {
  const time = Number(buf.toString('latin1', span[0], span[1]));
  return Number.isFinite(time) && time >= 0 ? time : undefined;
}

function isNumberByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || byte === 0x2e || byte === 0x65 || byte === 0x45 || byte === 0x2b || byte === 0x2d;
}
