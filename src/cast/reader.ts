// Reader for asciicast v1, v2 and v3 into one normalised model (absolute times, cols×rows
// resizes), for the player, search, transcripts and verification. Input is untrusted: sizes are
// bounded, every malformed line is a CastParseError naming its line, and a last line cut short by
// a crash is reported (`truncated`) instead of failing the whole recording.

import type { KubecastInfo, KubernetesInfo } from './header';

/** Longest header line accepted, in UTF-16 code units (~1 MiB). */
export const MAX_HEADER_LINE = 1024 * 1024;
/** Largest terminal dimension accepted; beyond this a player spends minutes rendering. */
export const MAX_DIMENSION = 10_000;
/** Size used when a header has none (or 0, which the peer writes for non-TTY sessions). */
export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

export type CastVersion = 1 | 2 | 3;

export interface CastTheme {
  fg?: string;
  bg?: string;
  /** Colon-separated colours, as in the file. */
  palette?: string;
}

/** `kubecast` header object as read: known fields checked, unknown ones kept (newer writers add fields). */
export type KubecastHeaderRead = Partial<KubecastInfo> & { [field: string]: unknown };

export interface CastHeaderInfo {
  cols: number;
  rows: number;
  timestamp?: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
  idleTimeLimit?: number;
  theme?: CastTheme;
  /** Peer-style pod identity; fields of the wrong type are dropped (older peers lack SessionType). */
  kubernetes?: Partial<KubernetesInfo>;
  kubecast?: KubecastHeaderRead;
  /** The header object exactly as parsed. */
  raw: Record<string, unknown>;
}

export interface CastEvent {
  /** Seconds from the start of the recording (absolute, whatever the file's version). */
  time: number;
  /** 'o' output, 'i' input, 'r' resize ("COLSxROWS"), 'm' marker, 'x' exit status. */
  code: string;
  data: string;
}

export interface ParsedCast {
  version: CastVersion;
  header: CastHeaderInfo;
  events: CastEvent[];
  /** Time of the last event line (including lines with unknown codes), in seconds. */
  duration: number;
  /** True when the last line was cut short (no newline, not JSON) and was left out. */
  truncated: boolean;
}

export class CastParseError extends Error {
  constructor(
    /** 1-based line number in the file. */
    readonly line: number,
    problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'CastParseError';
  }
}

const KNOWN_CODES = new Set(['o', 'i', 'r', 'm', 'x']);
const ROWS_FIRST_RESIZE = /^(\d+)x(\d+)$/;

/**
 * Streaming parser for v2/v3 files read one line at a time (files too big to hold as one string).
 * The first non-blank line must be the header. v1 is a single JSON document, not lines: use
 * parseCast for it.
 */
export class CastLineParser {
  private lineCount = 0;
  private parsedHeader: CastHeaderInfo | undefined;
  private fileVersion: 2 | 3 | undefined;
  // v3 event times are intervals since the previous event line; v2 times are absolute.
  private clock = 0;
  private lastEventTime = 0;
  private sawTruncatedLine = false;
  // The peer writes resizes rows-first; set for files carrying its identity fields and no `kubecast`.
  private swapResize = false;

  get header(): CastHeaderInfo | undefined {
    return this.parsedHeader;
  }

  get version(): 2 | 3 | undefined {
    return this.fileVersion;
  }

  /** Lines consumed so far, blank and comment lines included. */
  get lineNumber(): number {
    return this.lineCount;
  }

  /** Time of the last event line so far, in seconds. */
  get duration(): number {
    return this.lastEventTime;
  }

  get truncated(): boolean {
    return this.sawTruncatedLine;
  }

  /**
   * Parses the next line (a trailing "\n" or "\r\n" is ignored). Returns the event it holds, or
   * null for the header, blank lines, comments and unknown event codes. Pass `unterminated: true`
   * for a last line that had no newline: if it is not valid JSON it is taken as cut short by a
   * crash (`truncated` becomes true) instead of being an error.
   */
  line(text: string, options?: { unterminated?: boolean }): CastEvent | null {
    const lineNo = ++this.lineCount;
    if (this.sawTruncatedLine) throw new CastParseError(lineNo, 'data after a truncated last line');
    const content = stripEol(text);
    if (isBlank(content)) return null;

    if (this.parsedHeader === undefined) {
      if (content.length > MAX_HEADER_LINE) throw new CastParseError(lineNo, `header line longer than ${MAX_HEADER_LINE} characters`);
      const value = parseJson(content);
      if (value === PARSE_FAILED) throw new CastParseError(lineNo, 'not an asciicast header (not valid JSON)');
      const version = headerVersion(value);
      if (version === 1) throw new CastParseError(lineNo, 'asciicast v1 is a single JSON document, not lines (use parseCast)');
      if (version === undefined) throw new CastParseError(lineNo, 'not an asciicast header (expected a JSON object with version 1, 2 or 3)');
      const raw = value as Record<string, unknown>;
      this.parsedHeader = version === 3 ? headerFromV3(raw, lineNo) : headerFromV1V2(raw, lineNo);
      this.fileVersion = version;
      this.swapResize = ('srcNode' in raw || 'kubernetes' in raw) && !('kubecast' in raw);
      return null;
    }

    if (this.fileVersion === 3 && content.charCodeAt(0) === 0x23 /* # */) return null;

    const value = parseJson(content);
    if (value === PARSE_FAILED) {
      if (options?.unterminated) {
        this.sawTruncatedLine = true;
        return null;
      }
      throw new CastParseError(lineNo, 'invalid JSON');
    }
    if (!Array.isArray(value)) throw new CastParseError(lineNo, 'not a JSON array');
    if (value.length !== 3) throw new CastParseError(lineNo, `event must be [time, code, data], got ${value.length} elements`);
    const [stamp, code, data] = value as unknown[];
    if (typeof stamp !== 'number' || !Number.isFinite(stamp) || stamp < 0) {
      throw new CastParseError(lineNo, `event time must be a non-negative number, got ${JSON.stringify(stamp)}`);
    }
    if (typeof code !== 'string') throw new CastParseError(lineNo, 'event code must be a string');

    // Unknown codes still move a v3 clock (intervals are relative to the previous line).
    const time = this.advance(stamp);
    if (!KNOWN_CODES.has(code)) return null;

    let payload: string;
    if (typeof data === 'string') payload = data;
    else if (code === 'x' && typeof data === 'number') payload = String(data); // some writers use a bare number
    else throw new CastParseError(lineNo, `data of a "${code}" event must be a string`);
    if (code === 'r' && this.swapResize) payload = payload.replace(ROWS_FIRST_RESIZE, '$2x$1');
    return { time, code, data: payload };
  }

  private advance(stamp: number): number {
    // Times never go backwards in the model: the peer can write events very slightly out of order.
    const next = this.fileVersion === 3 ? roundMicros(this.clock + stamp) : stamp;
    this.clock = Math.max(this.clock, next);
    this.lastEventTime = this.clock;
    return this.clock;
  }
}

/** Parses a whole recording held in memory: v1 (one JSON document), v2 or v3 (JSON lines). */
export function parseCast(text: string): ParsedCast {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // tolerate a UTF-8 BOM
  const v1 = v1Document(body);
  if (v1 !== undefined) return parseV1(v1);

  const parser = new CastLineParser();
  const events: CastEvent[] = [];
  let start = 0;
  while (start < body.length) {
    const newline = body.indexOf('\n', start);
    const end = newline === -1 ? body.length : newline;
    const event = parser.line(body.slice(start, end), { unterminated: newline === -1 });
    if (event !== null) events.push(event);
    start = end + 1;
  }
  const header = parser.header;
  if (header === undefined || parser.version === undefined) {
    throw new CastParseError(Math.max(1, parser.lineNumber), 'no asciicast header (empty file)');
  }
  return { version: parser.version, header, events, duration: parser.duration, truncated: parser.truncated };
}

// --- v1 ------------------------------------------------------------------------------------

/** The parsed document when `body` is asciicast v1, else undefined (v2/v3 or garbage). */
function v1Document(body: string): Record<string, unknown> | undefined {
  const newline = body.indexOf('\n');
  const first = newline === -1 ? body : body.slice(0, newline);
  let value = parseJson(stripEol(first));
  if (value === PARSE_FAILED) {
    // A pretty-printed v1 document does not parse line by line; a v2/v3 header line always does.
    if (newline === -1 || first.trimStart().charCodeAt(0) !== 0x7b /* { */) return undefined;
    value = parseJson(body);
  } else if (headerVersion(value) === 1 && newline !== -1) {
    value = parseJson(body); // v1 on one line, followed by a newline (and perhaps more)
  }
  return headerVersion(value) === 1 ? (value as Record<string, unknown>) : undefined;
}

function parseV1(raw: Record<string, unknown>): ParsedCast {
  const header = headerFromV1V2(raw, 1);
  const frames = raw.stdout;
  if (!Array.isArray(frames)) throw new CastParseError(1, 'asciicast v1 without a "stdout" array');
  const events: CastEvent[] = [];
  let clock = 0;
  frames.forEach((frame: unknown, index) => {
    if (!Array.isArray(frame) || frame.length !== 2) throw new CastParseError(1, `stdout[${index}] must be [delay, text]`);
    const [delay, data] = frame as unknown[];
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      throw new CastParseError(1, `stdout[${index}] delay must be a non-negative number`);
    }
    if (typeof data !== 'string') throw new CastParseError(1, `stdout[${index}] text must be a string`);
    clock = roundMicros(clock + delay);
    events.push({ time: clock, code: 'o', data });
  });
  return { version: 1, header, events, duration: clock, truncated: false };
}

// --- headers -------------------------------------------------------------------------------

function headerVersion(value: unknown): CastVersion | undefined {
  if (!isObject(value)) return undefined;
  const version = value.version;
  return version === 1 || version === 2 || version === 3 ? version : undefined;
}

function headerFromV1V2(raw: Record<string, unknown>, lineNo: number): CastHeaderInfo {
  const info: CastHeaderInfo = {
    cols: dimension(raw.width, 'width', lineNo, DEFAULT_COLS),
    rows: dimension(raw.height, 'height', lineNo, DEFAULT_ROWS),
    raw,
  };
  addCommonFields(info, raw);
  const theme = themeFrom(raw.theme);
  if (theme) info.theme = theme;
  return info;
}

function headerFromV3(raw: Record<string, unknown>, lineNo: number): CastHeaderInfo {
  const term = raw.term;
  if (term !== undefined && !isObject(term)) throw new CastParseError(lineNo, '"term" must be an object');
  const info: CastHeaderInfo = {
    cols: dimension(term?.cols, 'term.cols', lineNo, DEFAULT_COLS),
    rows: dimension(term?.rows, 'term.rows', lineNo, DEFAULT_ROWS),
    raw,
  };
  addCommonFields(info, raw);
  const theme = themeFrom(term?.theme);
  if (theme) info.theme = theme;
  return info;
}

/** 0 or absent means unknown (the peer writes 0×0 for non-TTY sessions); anything else must be sane. */
function dimension(value: unknown, name: string, lineNo: number, fallback: number): number {
  if (value === undefined || value === null || value === 0) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw new CastParseError(lineNo, `${name} must be an integer in 1..${MAX_DIMENSION}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Optional fields of every version; values of the wrong type are left out (they stay in `raw`). */
function addCommonFields(info: CastHeaderInfo, raw: Record<string, unknown>): void {
  if (typeof raw.timestamp === 'number' && Number.isFinite(raw.timestamp)) info.timestamp = raw.timestamp;
  if (typeof raw.command === 'string') info.command = raw.command;
  if (typeof raw.title === 'string') info.title = raw.title;
  if (typeof raw.idle_time_limit === 'number' && raw.idle_time_limit > 0 && Number.isFinite(raw.idle_time_limit)) {
    info.idleTimeLimit = raw.idle_time_limit;
  }
  if (isObject(raw.env)) info.env = stringFields(raw.env);
  if (isObject(raw.kubernetes)) info.kubernetes = kubernetesFrom(raw.kubernetes);
  if (isObject(raw.kubecast)) info.kubecast = kubecastFrom(raw.kubecast);
}

function themeFrom(value: unknown): CastTheme | undefined {
  if (!isObject(value)) return undefined;
  const theme: CastTheme = {};
  if (typeof value.fg === 'string') theme.fg = value.fg;
  if (typeof value.bg === 'string') theme.bg = value.bg;
  if (typeof value.palette === 'string') theme.palette = value.palette;
  return theme;
}

function kubernetesFrom(value: Record<string, unknown>): Partial<KubernetesInfo> {
  const out: Partial<KubernetesInfo> = {};
  if (typeof value.PodName === 'string') out.PodName = value.PodName;
  if (typeof value.Namespace === 'string') out.Namespace = value.Namespace;
  if (typeof value.Container === 'string') out.Container = value.Container;
  if (value.SessionType === 'exec' || value.SessionType === 'attach') out.SessionType = value.SessionType;
  return out;
}

type FieldCheck = (value: unknown) => boolean;
const isString: FieldCheck = (value) => typeof value === 'string';
const isBoolean: FieldCheck = (value) => typeof value === 'boolean';
const KUBECAST_FIELDS: Record<keyof KubecastInfo, FieldCheck> = {
  id: isString,
  user: isString,
  cluster: isString,
  context: isString,
  kubeconfigUser: isString,
  clientAddress: isString,
  protocol: (value) => value === 'spdy' || value === 'websocket',
  kubectlVersion: isString,
  tty: isBoolean,
  stdinRecorded: isBoolean,
  command: (value) => Array.isArray(value) && value.every(isString),
  startedAt: isString,
};

function kubecastFrom(value: Record<string, unknown>): KubecastHeaderRead {
  const out: KubecastHeaderRead = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === '__proto__') continue; // assigning it would replace the object's prototype
    const check = Object.hasOwn(KUBECAST_FIELDS, key) ? KUBECAST_FIELDS[key as keyof KubecastInfo] : undefined;
    // Known fields must have their type; unknown ones come from newer writers and are kept as is.
    if (check === undefined || check(field)) out[key] = field;
  }
  return out;
}

function stringFields(value: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, field] of Object.entries(value)) if (typeof field === 'string' && key !== '__proto__') out[key] = field;
  return out;
}

// --- helpers -------------------------------------------------------------------------------

const PARSE_FAILED: unique symbol = Symbol('parse failed');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return PARSE_FAILED;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripEol(text: string): string {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 0x0a) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 0x0d) end--;
  return end === text.length ? text : text.slice(0, end);
}

function isBlank(text: string): boolean {
  // Only lines that start with whitespace need a full look; event lines start with "[".
  if (text.length === 0) return true;
  const first = text.charCodeAt(0);
  return (first === 0x20 || first === 0x09 || first === 0x0d) && text.trim() === '';
}

/** Sums of float intervals drift (0.1 + 0.2); times are only meaningful to the microsecond. */
function roundMicros(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}
