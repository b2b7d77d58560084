// What a tap reports about a session, and what it needs from its owner.
import type { ExitStatus } from '../protocol/channel';
import type { ProtocolError } from '../protocol/errors';

export type OutputStream = 'stdout' | 'stderr';

export type EndKind =
  | 'closed' // the session ended normally (status sent, both sides closed)
  | 'client-gone' // kubectl went away first
  | 'upstream-gone' // the API server / kubelet went away first
  | 'protocol-error' // a malformed stream ended the session
  | 'terminated'; // kubecast ended it (e.g. recording failed in fail-closed mode)

export interface EndReason {
  kind: EndKind;
  message?: string;
  /** For 'protocol-error': the ProtocolError's code (e.g. `WS_BAD_LENGTH`), so callers need not parse the message. */
  code?: string;
}

export interface TapWarning {
  code: string;
  message: string;
}

/**
 * Receives a session's events in order. `output` is called before the bytes are forwarded to the
 * client; returning false means "not recorded" and the tap then forwards nothing more (fail-closed).
 */
export interface TapSink {
  output(stream: OutputStream, data: Uint8Array): boolean;
  resize(cols: number, rows: number): void;
  /** stdin, only when the tap was asked to record it. */
  input(data: Uint8Array): void;
  exit(code: number, status: ExitStatus): void;
  end(reason: EndReason): void;
  /** Something odd that does not end the session (bad resize, unknown frame type, text frame…). */
  warning(warning: TapWarning): void;
}

export type Direction = 'client-to-server' | 'server-to-client';

/** What to do after a protocol error: keep relaying unrecorded bytes, or end the session. */
export type ProtocolErrorPolicy = 'passthrough' | 'terminate';

export interface TapOptions {
  sink: TapSink;
  /** Forward bytes to kubectl. */
  toClient: (data: Uint8Array) => void;
  /** Forward bytes to the API server. */
  toServer: (data: Uint8Array) => void;
  tty: boolean;
  /** Record stdin as `input` events (off by default: it carries passwords). */
  recordStdin?: boolean;
  /** The negotiated remote-command subprotocol (from the upstream's 101), e.g. `v4.channel.k8s.io`. */
  protocol?: string;
  /** How long a TTY session's first output may wait for the first resize. Default 2000 ms. */
  firstResizeTimeoutMs?: number;
  /**
   * Called once on the first malformed input; the answer decides what happens next. Default:
   * terminate, which ends the session with `{kind: 'protocol-error', code, message}`.
   */
  onProtocolError?: (error: ProtocolError, direction: Direction) => ProtocolErrorPolicy;
}
