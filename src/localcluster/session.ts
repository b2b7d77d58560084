// The container session: what exec and attach have in common, whatever the transport (SPDY or
// WebSocket). A transport creates the streams the client asked for, then hands the session an
// output (stdout/stderr with backpressure, and the final status) and feeds it stdin and resizes.
import type { Duplex } from 'node:stream';
import { ChannelError } from '../protocol/errors';
import type { ResizeStreamDecoder, TerminalSize } from '../protocol/channel';
import type { Logger } from '../util/log';
import type { SessionResult } from './status';

export type StreamKind = 'exec' | 'attach';

/** A validated exec/attach request (from the URL query). */
export interface StreamRequest {
  kind: StreamKind;
  namespace: string;
  pod: string;
  container: string;
  /** argv for exec; empty for attach. */
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** Server → client side, implemented by each transport. */
export interface SessionOutput {
  /** Queues output; false when the client is behind (stop producing until `onDrain`). */
  write(stream: 'stdout' | 'stderr', data: Uint8Array): boolean;
  onDrain(listener: () => void): void;
  /** Bytes queued towards the client and not yet sent. */
  readonly buffered: number;
  /** Sends the result (Status) and ends the connection the way a kubelet does. Idempotent. */
  finish(result: SessionResult): void;
  /** Whether the transport negotiated a resize channel (SPDY ≥ v3, WebSocket). */
  readonly resizable: boolean;
}

/** What the server hands a transport (SPDY or WebSocket) for one upgraded exec/attach connection. */
export interface StreamUpgrade {
  socket: Duplex;
  /** Bytes the HTTP parser read past the request head: the start of the upgraded stream. */
  head: Buffer;
  request: StreamRequest;
  /** Creates the exec or attach session once the transport can carry its output. */
  createSession: (output: SessionOutput) => ContainerSession;
  log: Logger;
  /** Called once when the connection is gone (for the server's bookkeeping). */
  onClose: () => void;
}

/** Client → server side, implemented by exec and attach. */
export interface ContainerSession {
  /** All streams exist: start (or join) the process. */
  start(): void;
  /** stdin bytes; false asks the transport to stop reading until `onStdinDrain`. */
  stdin(data: Uint8Array): boolean;
  onStdinDrain(listener: () => void): void;
  /** The client will send no more stdin (SPDY FIN, WebSocket `[255, 0]`). */
  stdinEnd(): void;
  resize(size: TerminalSize): void;
  /** The client went away or the transport failed: stop and kill what this session started. */
  abort(reason: string): void;
}

/**
 * Decodes resize-stream bytes into `session.resize` calls. A size outside 1..10000 is skipped with a
 * log line, as the kubelet skips sizes below 1 (kubectl sends 0×0 for a terminal it cannot measure);
 * a malformed message is returned so the transport can end the session with it.
 */
export function applyResize(decoder: ResizeStreamDecoder, bytes: Uint8Array, session: ContainerSession, log: Logger): ChannelError | null {
  for (const result of decoder.push(bytes)) {
    if (!(result instanceof ChannelError)) session.resize(result);
    else if (result.code === 'RESIZE_OUT_OF_RANGE') log.info('ignoring resize', { reason: result.message });
    else return result;
  }
  return null;
}
