// What the index knows about a recording, derived only from the cast file's bytes: identity from
// the header, and duration / last size / exit status from the event lines. The live path (lines as
// they are ingested) and the rebuild path (a file read from disk) both go through these functions,
// so a rebuilt index holds exactly what the live one held.

/** Caps on header strings: the header is uploader-controlled, the index and API are not a dump. */
const MAX_FIELD = 512;
const MAX_COMMAND = 4096;
const MAX_ARGV = 256;
/** Resize/exit lines are tiny; anything longer is not one we parse. */
const MAX_SMALL_LINE = 4096;

export interface RecordingIdentity {
  /** asciicast version of the file (0 when the header could not be read). */
  version: 0 | 1 | 2 | 3;
  /** From kubecast.startedAt, else the header timestamp; null when the header has neither. */
  startedMs: number | null;
  user: string;
  cluster: string;
  context: string | null;
  namespace: string;
  pod: string;
  container: string;
  command: string;
  argv: string[] | null;
  sessionType: string | null;
  protocol: string | null;
  tty: boolean;
  /** Size from the header; null when unknown (0×0, as non-TTY sessions are written). */
  cols: number | null;
  rows: number | null;
  kubectlVersion: string | null;
  clientAddress: string | null;
  /** The peer writes resizes rows-first; its files carry its identity fields and no `kubecast`. */
  swapResize: boolean;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, max = MAX_FIELD): string {
  return typeof value === 'string' ? value.slice(0, max) : '';
}

function optionalText(value: unknown, max = MAX_FIELD): string | null {
  return typeof value === 'string' && value !== '' ? value.slice(0, max) : null;
}

function size(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 0xffff ? value : null;
}

/** Identity fields from a parsed header object (v1, v2 or v3); never throws, whatever the object holds. */
export function identityFromHeader(raw: Record<string, unknown>): RecordingIdentity {
  const version = raw.version === 1 || raw.version === 2 || raw.version === 3 ? raw.version : 0;
  const kc = isObject(raw.kubecast) ? raw.kubecast : {};
  const k8s = isObject(raw.kubernetes) ? raw.kubernetes : {};
  const term = isObject(raw.term) ? raw.term : {};

  let startedMs: number | null = null;
  if (typeof kc.startedAt === 'string') {
    const ms = Date.parse(kc.startedAt);
    if (Number.isFinite(ms)) startedMs = ms;
  }
  if (startedMs === null && typeof raw.timestamp === 'number' && raw.timestamp > 0 && raw.timestamp < 1e11) {
    startedMs = Math.round(raw.timestamp * 1000);
  }

  let argv: string[] | null = null;
  if (Array.isArray(kc.command) && kc.command.every((a) => typeof a === 'string')) {
    argv = (kc.command as string[]).slice(0, MAX_ARGV).map((a) => a.slice(0, MAX_COMMAND));
  }
  const command = text(raw.command, MAX_COMMAND) || (argv ? argv.join(' ').slice(0, MAX_COMMAND) : '');

  const cols = version === 3 ? size(term.cols) : size(raw.width);
  const rows = version === 3 ? size(term.rows) : size(raw.height);
  // kubecast says whether the session had a TTY; for other writers a 0×0 size means it had none.
  const tty = typeof kc.tty === 'boolean' ? kc.tty : cols !== null && rows !== null;

  return {
    version,
    startedMs,
    // Peer casts name the user in srcNodeUser (the tailnet login), else only the node.
    user: text(kc.user) || text(raw.srcNodeUser) || text(raw.srcNode),
    cluster: text(kc.cluster),
    context: optionalText(kc.context),
    namespace: text(k8s.Namespace),
    pod: text(k8s.PodName),
    container: text(k8s.Container),
    command,
    argv,
    sessionType: optionalText(k8s.SessionType, 32),
    protocol: optionalText(kc.protocol, 32),
    tty,
    cols,
    rows,
    kubectlVersion: optionalText(kc.kubectlVersion),
    clientAddress: optionalText(kc.clientAddress),
    swapResize: ('srcNode' in raw || 'kubernetes' in raw) && !('kubecast' in raw),
  };
}

/** The parts of a recording that change as events arrive. */
export interface EventSummary {
  /** Time of the last event line, seconds (as the cast reader computes it). */
  duration: number;
  /** Last known terminal size (from the header, then `r` events). */
  cols: number | null;
  rows: number | null;
  /** From the last `x` event; null when none or not a number. */
  exitCode: number | null;
  /** Event lines seen. */
  events: number;
}

const BRACKET = 0x5b; // [
const QUOTE = 0x22; // "
const COMMA = 0x2c;
const HASH = 0x23;

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

/**
 * Tracks the event summary from raw cast lines without parsing their data: output lines can be
 * megabytes, and this runs on the recorder's hot path. It reads the time and the code, and only
 * parses `r` and `x` lines (which are tiny). Malformed lines are skipped: the recorder stores
 * whatever whole lines it was sent.
 */
export class EventTracker {
  private clock = 0;
  private summary: EventSummary;

  constructor(
    private readonly version: 2 | 3,
    private readonly swapResize: boolean,
    start: Pick<EventSummary, 'cols' | 'rows'> & Partial<EventSummary>,
  ) {
    this.summary = { duration: start.duration ?? 0, cols: start.cols, rows: start.rows, exitCode: start.exitCode ?? null, events: start.events ?? 0 };
    this.clock = this.summary.duration;
  }

  get current(): EventSummary {
    return { ...this.summary };
  }

  /** Every complete line in `buf` (each ending in "\n"; a last line without one is ignored). */
  lines(buf: Buffer): void {
    let start = 0;
    while (start < buf.byteLength) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) return;
      this.line(buf, start, nl);
      start = nl + 1;
    }
  }

  /** One line, bytes [start, end) of `buf`, without its newline. */
  line(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end && isSpace(buf[i])) i++;
    if (i >= end || buf[i] === HASH) return; // blank, or a v3 comment
    if (buf[i] !== BRACKET) return;
    i++;
    while (i < end && isSpace(buf[i])) i++;
    const numStart = i;
    while (i < end && isNumberByte(buf[i])) i++;
    const stamp = Number(buf.toString('latin1', numStart, i));
    if (i === numStart || !Number.isFinite(stamp) || stamp < 0) return;
    while (i < end && isSpace(buf[i])) i++;
    if (buf[i] !== COMMA) return;
    i++;
    while (i < end && isSpace(buf[i])) i++;
    if (buf[i] !== QUOTE) return;
    const codeStart = ++i;
    while (i < end && i - codeStart <= 8 && buf[i] !== QUOTE) i++;
    if (buf[i] !== QUOTE) return;
    const code = buf.toString('latin1', codeStart, i);
    i++;
    while (i < end && isSpace(buf[i])) i++;
    if (buf[i] !== COMMA) return; // [time, code] without data is not an event

    // The same clock rules as the cast reader: v3 times are intervals, v2 times never go back.
    const next = this.version === 3 ? Math.round((this.clock + stamp) * 1e6) / 1e6 : stamp;
    this.clock = Math.max(this.clock, next);
    this.summary.duration = this.clock;
    this.summary.events++;

    if ((code === 'r' || code === 'x') && end - start <= MAX_SMALL_LINE) {
      const data = smallLineData(buf.toString('utf8', start, end));
      if (data === undefined) return;
      if (code === 'r') this.resize(data);
      else this.summary.exitCode = exitCode(data);
    }
  }

  private resize(data: string): void {
    const match = /^(\d{1,5})x(\d{1,5})$/.exec(data);
    if (!match) return;
    let cols = Number(match[1]);
    let rows = Number(match[2]);
    if (this.swapResize) [cols, rows] = [rows, cols];
    if (cols > 0 && rows > 0 && cols <= 0xffff && rows <= 0xffff) {
      this.summary.cols = cols;
      this.summary.rows = rows;
    }
  }
}

function isNumberByte(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || byte === 0x2e || byte === 0x65 || byte === 0x45 || byte === 0x2b || byte === 0x2d);
}

function smallLineData(line: string): string | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const data: unknown = value[2];
    if (typeof data === 'string') return data;
    if (typeof data === 'number') return String(data); // some writers put the exit status as a number
    return undefined;
  } catch {
    return undefined;
  }
}

/** An `x` event's data as an exit code: an integer (as text); anything else is unknown. */
export function exitCode(data: string): number | null {
  if (!/^-?\d{1,10}$/.test(data.trim())) return null;
  const n = Number(data.trim());
  return Number.isSafeInteger(n) ? n : null;
}
