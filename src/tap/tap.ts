// The part of a tap that does not depend on the transport: ordering, the TTY size gate, fail-closed
// holding, tail bookkeeping, protocol-error policy. SpdyTap and WsTap supply parsing and framing.
//
// Invariants (tested with random chunkings):
// - client→server bytes are forwarded as they arrive, then parsed on the side;
// - server→client bytes are forwarded only as complete frames, each handed to the sink first;
//   only a trailing partial frame (or frames held by the size gate) waits;
// - every byte comes out once, in order; at finish the held tail is forwarded.
import { protocolInfo, ResizeStreamDecoder } from '../protocol/channel';
import { ChannelError, ProtocolError } from '../protocol/errors';
import { ErrorStream } from './error-stream';
import type { Direction, EndReason, ProtocolErrorPolicy, TapOptions, TapSink } from './events';

/** One complete server→client frame, ready to be recorded and forwarded. */
export interface ServerUnit {
  raw: Uint8Array;
  /** Output that needs the terminal size first (TTY output before the first resize). */
  carriesOutput: boolean;
  /** Hands the unit's events to the sink. false = the sink refused it (fail-closed failure). */
  record(): boolean;
}

const DEFAULT_FIRST_RESIZE_TIMEOUT_MS = 2000;
/** Held server bytes above which the owner is asked to stop reading upstream. */
const HELD_HIGH_WATER = 1024 * 1024;

type State = 'open' | 'passthrough' | 'ended';

export abstract class StreamTap {
  protected readonly sink: TapSink;
  protected readonly tty: boolean;
  protected readonly recordStdin: boolean;
  private readonly toClientFn: (data: Uint8Array) => void;
  private readonly toServerFn: (data: Uint8Array) => void;
  private readonly onProtocolError?: TapOptions['onProtocolError'];
  private readonly firstResizeTimeoutMs: number;

  private state: State = 'open';
  private gateOpen: boolean;
  private gateTimer: ReturnType<typeof setTimeout> | undefined;
  /** Frames waiting for the size gate, or refused by the sink (then everything after waits too). */
  private held: ServerUnit[] = [];
  private heldBytes = 0;
  private holding = false;
  private refused = false;
  /** Chunks whose last `serverBuffered()` bytes are the partial frame the parser keeps. */
  private tailChunks: Uint8Array[] = [];
  private tailChunksBytes = 0;
  private pausedForHeld = false;

  /** Called with true when held bytes pass the high-water mark, false when they drain. */
  onBackpressure: ((paused: boolean) => void) | undefined;

  readonly stats = { fromClient: 0, fromServer: 0, toClient: 0 };
  /** The negotiated remote-command protocol version (1..5). */
  protected readonly protocolVersion: number;
  protected readonly errorStream: ErrorStream;
  private readonly resizes = new ResizeStreamDecoder();

  constructor(options: TapOptions) {
    this.sink = options.sink;
    this.tty = options.tty;
    this.recordStdin = options.recordStdin ?? false;
    this.toClientFn = options.toClient;
    this.toServerFn = options.toServer;
    this.onProtocolError = options.onProtocolError;
    this.firstResizeTimeoutMs = options.firstResizeTimeoutMs ?? DEFAULT_FIRST_RESIZE_TIMEOUT_MS;
    this.gateOpen = !this.tty;
    this.protocolVersion = protocolInfo(options.protocol).version;
    this.errorStream = new ErrorStream(this.protocolVersion, this.sink);
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** True after a protocol error switched the tap to unrecorded relaying. */
  get passthrough(): boolean {
    return this.state === 'passthrough';
  }

  /** Bytes from kubectl. */
  fromClient(chunk: Uint8Array): void {
    if (this.state === 'ended' || chunk.byteLength === 0) return;
    this.stats.fromClient += chunk.byteLength;
    this.toServerFn(chunk);
    if (this.state === 'passthrough') return;
    try {
      this.parseClient(chunk);
    } catch (err) {
      this.handleProtocolError(err, 'client-to-server', undefined);
    }
  }

  /** Bytes from the API server. */
  fromServer(chunk: Uint8Array): void {
    if (this.state === 'ended' || chunk.byteLength === 0) return;
    this.stats.fromServer += chunk.byteLength;
    if (this.state === 'passthrough') {
      this.forward([chunk]);
      return;
    }
    let units: ServerUnit[];
    // The partial frame held from earlier chunks, counted before the push: a parser that fails
    // drops its partial frame, and one whose frames are refused later may already hold bytes of
    // this chunk, so afterwards `serverBuffered()` no longer describes the tail chunks.
    const heldBefore = this.serverBuffered();
    try {
      units = this.parseServer(chunk);
    } catch (err) {
      this.handleProtocolError(err, 'server-to-client', chunk, heldBefore);
      return;
    }
    this.trackTail(chunk);
    this.deliver(units);
  }

  /**
   * The session is over (a socket closed). Releases what the size gate held, forwards the partial
   * tail, settles the exit status, and reports the end. Idempotent.
   */
  finish(reason: EndReason): void {
    if (this.state === 'ended') return;
    if (this.state === 'open') {
      if (!this.gateOpen) this.openGate();
      const tail = this.serverTail();
      if (!this.refused && tail.byteLength > 0) this.forward([tail]);
      this.settleExit();
    }
    this.end(reason);
  }

  /**
   * Ends the session from the middle and tells kubectl why: a line on the output stream, a Status
   * on the error stream, then the transport's clean close. What the tap held is dropped: it was
   * never recorded. The caller closes the sockets afterwards.
   */
  terminate(message: string): void {
    this.endWith(message, { kind: 'terminated', message });
  }

  // --- for subclasses -------------------------------------------------------------------------

  /** Parses client bytes (already forwarded) for roles, resizes and stdin. May throw ProtocolError. */
  protected abstract parseClient(chunk: Uint8Array): void;
  /** Parses server bytes into complete units. May throw ProtocolError. */
  protected abstract parseServer(chunk: Uint8Array): ServerUnit[];
  /** Bytes the server-direction parser holds as a partial frame. */
  protected abstract serverBuffered(): number;
  /** Frames that end the session cleanly from the client's point of view, with `message`. */
  protected abstract terminationFrames(message: string): Uint8Array[];
  /** Called at finish: report the exit status if the error stream produced one and it was not reported. */
  protected settleExit(): void {
    this.errorStream.settle();
  }

  /** Bytes of the resize stream: a bad message is a warning (as the kubelet ignores it), not the end. */
  protected resizeData(payload: Uint8Array): void {
    if (!this.tty) return;
    for (const result of this.resizes.push(payload)) {
      if (result instanceof ChannelError) this.sink.warning({ code: result.code, message: `ignored resize: ${result.message}` });
      else this.onResize(result.cols, result.rows);
    }
  }

  /** A resize from the client: record it, then release TTY output that waited for a size. */
  protected onResize(cols: number, rows: number): void {
    this.sink.resize(cols, rows);
    if (!this.gateOpen) this.openGate();
  }

  // --- internals ------------------------------------------------------------------------------

  private deliver(units: ServerUnit[]): void {
    let batch: Uint8Array[] | undefined;
    for (const unit of units) {
      if (this.holding || this.refused) {
        this.hold(unit);
        continue;
      }
      if (!this.gateOpen && unit.carriesOutput) {
        this.holding = true;
        this.gateTimer ??= setTimeout(() => this.openGate(), this.firstResizeTimeoutMs);
        this.hold(unit);
        continue;
      }
      if (!unit.record()) {
        this.refused = true;
        this.hold(unit);
        continue;
      }
      (batch ??= []).push(unit.raw);
    }
    if (batch) this.forward(batch);
  }

  private hold(unit: ServerUnit): void {
    this.held.push(unit);
    this.heldBytes += unit.raw.byteLength;
    if (!this.pausedForHeld && this.heldBytes > HELD_HIGH_WATER) {
      this.pausedForHeld = true;
      this.onBackpressure?.(true);
    }
  }

  private openGate(): void {
    this.gateOpen = true;
    if (this.gateTimer) clearTimeout(this.gateTimer);
    this.gateTimer = undefined;
    if (!this.holding || this.state !== 'open') return;
    this.holding = false;
    const units = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.deliver(units);
    if (this.pausedForHeld && this.heldBytes <= HELD_HIGH_WATER) {
      this.pausedForHeld = false;
      this.onBackpressure?.(false);
    }
  }

  /** Writes views to the client, merging neighbours that are contiguous in one buffer. */
  private forward(views: Uint8Array[]): void {
    let current = views[0];
    for (let i = 1; i < views.length; i++) {
      const next = views[i];
      if (next.buffer === current.buffer && next.byteOffset === current.byteOffset + current.byteLength) {
        current = new Uint8Array(current.buffer, current.byteOffset, current.byteLength + next.byteLength);
      } else {
        this.emitToClient(current);
        current = next;
      }
    }
    if (current) this.emitToClient(current);
  }

  private emitToClient(view: Uint8Array): void {
    if (view.byteLength === 0) return;
    this.stats.toClient += view.byteLength;
    this.toClientFn(view);
  }

  private trackTail(chunk: Uint8Array): void {
    const buffered = this.serverBuffered();
    if (buffered === 0) {
      this.tailChunks = [];
      this.tailChunksBytes = 0;
      return;
    }
    this.tailChunks.push(chunk);
    this.tailChunksBytes += chunk.byteLength;
    while (this.tailChunksBytes - this.tailChunks[0].byteLength >= buffered) {
      this.tailChunksBytes -= this.tailChunks.shift()!.byteLength;
    }
  }

  private serverTail(buffered = this.serverBuffered()): Uint8Array {
    if (buffered === 0 || this.tailChunks.length === 0) return new Uint8Array(0);
    const all = this.tailChunks.length === 1 ? this.tailChunks[0] : Buffer.concat(this.tailChunks);
    return all.subarray(all.byteLength - buffered);
  }

  private handleProtocolError(err: unknown, direction: Direction, failedChunk: Uint8Array | undefined, tailBytes = this.serverBuffered()): void {
    const error =
      err instanceof ProtocolError
        ? err
        : new ProtocolError('kubernetes', 'INTERNAL', `unexpected parser failure: ${err instanceof Error ? err.message : String(err)}`);
    const policy: ProtocolErrorPolicy = this.onProtocolError?.(error, direction) ?? 'terminate';
    const where = direction === 'client-to-server' ? 'from kubectl' : 'from the API server';
    if (policy === 'terminate') {
      const message = `kubecast: session ended: malformed stream ${where}: ${error.message}`;
      this.endWith(message, { kind: 'protocol-error', code: error.code, message });
      return;
    }
    this.sink.warning({ code: error.code, message: `recording stopped: malformed stream ${where}: ${error.message}` });
    // Relay everything not yet forwarded, unrecorded, in order: held frames, the partial tail, and
    // the chunk the server parser choked on.
    const pending = [...this.held.map((unit) => unit.raw), this.serverTail(tailBytes)];
    if (failedChunk) pending.push(failedChunk);
    this.held = [];
    this.heldBytes = 0;
    this.holding = false;
    this.gateOpen = true;
    if (this.gateTimer) clearTimeout(this.gateTimer);
    this.state = 'passthrough';
    this.forward(pending.filter((view) => view.byteLength > 0));
  }

  /** terminate(), with the reason the sink gets: kubectl is told `message` either way. */
  private endWith(message: string, reason: EndReason): void {
    if (this.state === 'ended') return;
    const frames = this.state === 'open' ? this.terminationFrames(message) : [];
    this.held = [];
    this.heldBytes = 0;
    if (frames.length > 0) this.forward(frames);
    this.end(reason);
  }

  private end(reason: EndReason): void {
    this.state = 'ended';
    if (this.gateTimer) clearTimeout(this.gateTimer);
    this.gateTimer = undefined;
    this.tailChunks = [];
    this.sink.end(reason);
  }
}
