// The error stream (SPDY `error` stream, WebSocket channel 3): collected, bounded, and turned into
// the session's exit status once it has said something or ended. A cut session reports none.
import { exitCodeOf, MAX_STATUS_MESSAGE, parseErrorStream } from '../protocol/channel';
import { ChannelError } from '../protocol/errors';
import type { TapSink } from './events';

export class ErrorStream {
  /**
   * Copied into one buffer: payloads are views of socket chunks, and keeping one view per frame
   * would pin every chunk that carried a byte of the stream (and cost an object per frame).
   */
  private bytes = new Uint8Array(0);
  private length = 0;
  private ended = false;
  private reported = false;

  constructor(
    private readonly protocolVersion: number,
    private readonly sink: TapSink,
  ) {}

  collect(payload: Uint8Array): void {
    if (this.length + payload.byteLength > MAX_STATUS_MESSAGE) {
      // Past the bound: keep nothing more; parseErrorStream then reports it as too large.
      this.length = MAX_STATUS_MESSAGE + 1;
      return;
    }
    if (payload.byteLength === 0) return;
    const end = this.length + payload.byteLength;
    if (end > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.min(MAX_STATUS_MESSAGE, Math.max(end, 2 * this.bytes.byteLength, 256)));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(payload, this.length);
    this.length = end;
  }

  /** FIN/RST on the stream, GOAWAY or a close: an empty stream now means success. */
  end(): void {
    this.ended = true;
    this.settle();
  }

  /** Reports the exit once, when there is something to report. */
  settle(): void {
    if (this.reported || (this.length === 0 && !this.ended)) return;
    this.reported = true;
    try {
      if (this.length > MAX_STATUS_MESSAGE) throw new ChannelError('STATUS_TOO_LARGE', `error stream exceeds ${MAX_STATUS_MESSAGE} bytes`);
      const status = parseErrorStream(this.bytes.subarray(0, this.length), this.protocolVersion);
      this.sink.exit(exitCodeOf(status), status);
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      this.sink.warning({ code: err.code, message: `unreadable exit status: ${err.message}` });
    }
  }
}
