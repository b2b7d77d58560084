// Kubernetes remote-command semantics on top of the transports: stream roles (SPDY `streamtype`
// headers, WebSocket channel bytes), resize messages and the Status sent on the error stream.
// Facts: ../shared/reference/kubectl-exec-protocol.md §3–5.
import { ChannelError } from './errors';

export type StreamRole = 'stdin' | 'stdout' | 'stderr' | 'error' | 'resize';

/** SPDY `streamtype` header value → role. Unknown values (e.g. port-forward's `data`) → undefined. */
export function roleFromStreamType(streamType: string | undefined): StreamRole | undefined {
  switch (streamType?.toLowerCase()) {
    case 'stdin':
    case 'stdout':
    case 'stderr':
    case 'error':
    case 'resize':
      return streamType.toLowerCase() as StreamRole;
    default:
      return undefined;
  }
}

/** WebSocket channel numbers (first byte of every message); 255 is v5's "no more data on channel X". */
export const Channel = { STDIN: 0, STDOUT: 1, STDERR: 2, ERROR: 3, RESIZE: 4, CLOSE: 255 } as const;

const channelRoles: readonly StreamRole[] = ['stdin', 'stdout', 'stderr', 'error', 'resize'];

export function roleFromChannel(channel: number): StreamRole | undefined {
  return channelRoles[channel];
}

export function channelForRole(role: StreamRole): number {
  return channelRoles.indexOf(role);
}

/** Remote-command subprotocols, newest first. SPDY names the same versions in X-Stream-Protocol-Version. */
export const StreamProtocol = {
  V5: 'v5.channel.k8s.io',
  V4: 'v4.channel.k8s.io',
  V3: 'v3.channel.k8s.io',
  V2: 'v2.channel.k8s.io',
  V1: 'channel.k8s.io',
  V4_BASE64: 'v4.base64.channel.k8s.io',
  V1_BASE64: 'base64.channel.k8s.io',
} as const;

export interface ProtocolInfo {
  /** 1..5; decides whether the error stream carries a Status (v4+) and whether resize exists (v3+). */
  version: number;
  /** WebSocket only: text messages with an ASCII channel digit and base64 data. */
  base64: boolean;
}

/** Reads a negotiated subprotocol name; unknown or absent names mean the unversioned v1 protocol. */
export function protocolInfo(name: string | undefined): ProtocolInfo {
  switch (name?.trim().toLowerCase()) {
    case StreamProtocol.V5:
      return { version: 5, base64: false };
    case StreamProtocol.V4:
      return { version: 4, base64: false };
    case StreamProtocol.V4_BASE64:
      return { version: 4, base64: true };
    case StreamProtocol.V3:
      return { version: 3, base64: false };
    case StreamProtocol.V2:
      return { version: 2, base64: false };
    case StreamProtocol.V1_BASE64:
      return { version: 1, base64: true };
    default:
      return { version: 1, base64: false };
  }
}

// ---------------------------------------------------------------------------------------------
// Resize

export const MAX_RESIZE_MESSAGE = 64 * 1024;
export const MAX_TERMINAL_DIMENSION = 10000;

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** kubectl's encoding of client-go's TerminalSize: capitalised keys (no JSON tags), then a newline. */
export function encodeResize(size: TerminalSize): string {
  return `${JSON.stringify({ Width: size.cols, Height: size.rows })}\n`;
}

/** Parses one resize object. Keys are matched case-insensitively, as Go's decoder does. */
export function parseResize(bytes: Uint8Array | string): TerminalSize {
  const length = typeof bytes === 'string' ? bytes.length : bytes.byteLength;
  if (length > MAX_RESIZE_MESSAGE) {
    throw new ChannelError('RESIZE_TOO_LARGE', `resize message of ${length} bytes exceeds ${MAX_RESIZE_MESSAGE}`);
  }
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ChannelError('RESIZE_BAD_JSON', `resize message is not JSON: ${preview(text)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChannelError('RESIZE_BAD_JSON', `resize message is not a JSON object: ${preview(text)}`);
  }
  let cols: unknown;
  let rows: unknown;
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (lower === 'width') cols = v;
    else if (lower === 'height') rows = v;
  }
  return { cols: dimension('Width', cols), rows: dimension('Height', rows) };
}

function dimension(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ChannelError('RESIZE_BAD_JSON', `resize ${name} is not an integer: ${JSON.stringify(value) ?? 'missing'}`);
  }
  if (value < 1 || value > MAX_TERMINAL_DIMENSION) {
    throw new ChannelError('RESIZE_OUT_OF_RANGE', `resize ${name} ${value} is outside 1..${MAX_TERMINAL_DIMENSION}`);
  }
  return value;
}

/**
 * The resize stream is a sequence of JSON objects (Go's json.Decoder reads them back to back), and a
 * transport frame need not hold exactly one: objects may be split across frames or share one.
 * This splitter finds complete top-level objects without trusting newlines, bounded by
 * MAX_RESIZE_MESSAGE of pending bytes.
 */
export class ResizeStreamDecoder {
  private pending = '';
  private readonly decoder = new TextDecoder();
  // How far the incomplete value at the head of `pending` has been scanned, and the scanner's state
  // there: each push resumes where the last one stopped, so a message that trickles in one byte per
  // frame costs linear time, not a rescan of everything pending per frame.
  private scanned = 0;
  private depth = 0;
  private inString = false;

  /** Returns every complete message; a malformed one throws a ChannelError and is discarded. */
  push(bytes: Uint8Array): Array<TerminalSize | ChannelError> {
    this.pending += this.decoder.decode(bytes, { stream: true });
    const results: Array<TerminalSize | ChannelError> = [];
    for (;;) {
      const start = this.pending.search(/\S/);
      if (start < 0) {
        this.restart('');
        break;
      }
      const end = this.findValueEnd(start);
      if (end < 0) {
        if (this.pending.length - start > MAX_RESIZE_MESSAGE) {
          this.restart('');
          results.push(new ChannelError('RESIZE_TOO_LARGE', `resize message exceeds ${MAX_RESIZE_MESSAGE} bytes`));
        }
        break;
      }
      const candidate = this.pending.slice(start, end);
      this.restart(this.pending.slice(end));
      try {
        results.push(parseResize(candidate));
      } catch (err) {
        results.push(err instanceof ChannelError ? err : new ChannelError('RESIZE_BAD_JSON', String(err)));
      }
    }
    return results;
  }

  private restart(pending: string): void {
    this.pending = pending;
    this.scanned = 0;
    this.depth = 0;
    this.inString = false;
  }

  /**
   * End of the value starting at `start`: the matching brace for an object, otherwise the next
   * whitespace (a stray scalar such as `null` is then reported by parseResize). -1 = incomplete.
   */
  private findValueEnd(start: number): number {
    const text = this.pending;
    let i = Math.max(start, this.scanned);
    if (text[start] !== '{' && text[start] !== '[') {
      WHITESPACE.lastIndex = i;
      const match = WHITESPACE.exec(text);
      if (match) return match.index;
      this.scanned = text.length;
      return -1;
    }
    let depth = this.depth;
    let inString = this.inString;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 0x5c /* \ */) i++;
        else if (c === 0x22 /* " */) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b /* { */ || c === 0x5b /* [ */) depth++;
      else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    // i may be text.length + 1: the escaped character has not arrived yet and is skipped on resume.
    this.scanned = i;
    this.depth = depth;
    this.inString = inString;
    return -1;
  }
}

const WHITESPACE = /\s/g;

// ---------------------------------------------------------------------------------------------
// Status on the error stream

export const MAX_STATUS_MESSAGE = 64 * 1024;

/** What the error stream said about how the command ended. */
export type ExitStatus =
  | { kind: 'success'; code: 0 }
  | { kind: 'exit'; code: number; message: string }
  | { kind: 'failure'; message: string; reason?: string; httpCode?: number };

/** The JSON shape of metav1.Status as far as remote command uses it. */
export interface KubeStatus {
  kind?: 'Status';
  apiVersion?: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
  code?: number;
}

/**
 * Decodes what the server wrote on the error stream, following client-go's rules: empty = success;
 * v4+ carries a Status (NonZeroExitCode needs an ExitCode cause); v1–v3 carry plain text where any
 * content means failure.
 */
export function parseErrorStream(bytes: Uint8Array, protocolVersion: number): ExitStatus {
  if (bytes.byteLength > MAX_STATUS_MESSAGE) {
    throw new ChannelError('STATUS_TOO_LARGE', `error stream of ${bytes.byteLength} bytes exceeds ${MAX_STATUS_MESSAGE}`);
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === '') return { kind: 'success', code: 0 };
  if (protocolVersion < 4) return { kind: 'failure', message: text.trim() };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ChannelError('STATUS_BAD_JSON', `error stream is not a Status: ${preview(text)}`);
  }
  if (typeof value !== 'object' || value === null) {
    throw new ChannelError('STATUS_BAD_JSON', `error stream is not a Status object: ${preview(text)}`);
  }
  const status = value as Partial<KubeStatus>;
  if (status.status === 'Success') return { kind: 'success', code: 0 };
  if (status.status !== 'Failure') {
    throw new ChannelError('STATUS_BAD_JSON', `error stream Status has unknown status ${JSON.stringify(status.status)}`);
  }
  const message = typeof status.message === 'string' ? status.message : '';
  if (status.reason === 'NonZeroExitCode') {
    const causes = Array.isArray(status.details?.causes) ? status.details.causes : [];
    const cause = causes.find((c) => c?.reason === 'ExitCode');
    const code = cause && typeof cause.message === 'string' && /^\d{1,3}$/.test(cause.message) ? Number(cause.message) : NaN;
    if (Number.isInteger(code) && code >= 0 && code <= 255) return { kind: 'exit', code, message };
    return { kind: 'failure', message: message || 'NonZeroExitCode without an ExitCode cause', reason: 'NonZeroExitCode' };
  }
  return {
    kind: 'failure',
    message,
    reason: typeof status.reason === 'string' ? status.reason : undefined,
    httpCode: typeof status.code === 'number' ? status.code : undefined,
  };
}

/** The numeric exit code kubectl ends with for a given status. */
export function exitCodeOf(status: ExitStatus): number {
  return status.kind === 'failure' ? 1 : status.code;
}

/** Status builders, in the shapes a kubelet writes them (error stream) and an API server answers (HTTP). */
export function successStatus(): KubeStatus {
  return { metadata: {}, status: 'Success' };
}

/**
 * A non-zero exit. `detail` is the runtime's error text after the kubelet's prefix: Go's exec.ExitError
 * says `exit status N` (the default); containerd says `error executing command [argv], exit code N`.
 * kubectl reads only the ExitCode cause.
 */
export function exitCodeStatus(code: number, detail = `exit status ${code}`): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${detail}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export function failureStatus(message: string, reason = 'InternalError', code = 500): KubeStatus {
  return { metadata: {}, status: 'Failure', message, reason, code };
}

/** apierrors.NewInternalError: what a kubelet writes when a command cannot run; kubectl prints `error: <message>`. */
export function internalErrorStatus(cause: string): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${cause}`,
    reason: 'InternalError',
    details: { causes: [{ message: cause }] },
    code: 500,
  };
}

/** An HTTP error body kubectl prints as `Error from server (<reason>): <message>`. */
export function httpStatus(code: number, reason: string, message: string, details?: KubeStatus['details']): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...(details ? { details } : {}) };
}

function preview(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return JSON.stringify(cut);
}
