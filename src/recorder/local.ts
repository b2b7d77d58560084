// An upload to a recorder in the same process (kubecast serve's embedded recorder): the same
// contract as the network client — acks are durably stored bytes, failures end the upload — without
// HTTP/2 framing, sockets and copies in between. Remote recorders still use client.ts.
import { AckWindow } from './ack-window';
import { RecorderUploadError, type RecorderUpload } from './upload';
import type { Ingest } from './ingest';

/** What a recorder offers in-process. */
export interface LocalRecorder {
  readonly address: string | undefined;
  /** A new recording, or the continuation of `resumeId`. Rejects when the recorder cannot take it. */
  openLocal(options?: { resumeId?: string; remoteAddress?: string }): Promise<{ ingest: Ingest; release: () => void }>;
}

/** Default ack window, as for network uploads. */
const ACK_TIMEOUT_MS = 5000;

export async function openLocalUpload(recorder: LocalRecorder, options: { resumeId?: string; ackTimeoutMs?: number } = {}): Promise<RecorderUpload> {
  const { ingest, release } = await recorder.openLocal({ resumeId: options.resumeId, remoteAddress: 'in-process' });
  return new LocalUpload(recorder.address ?? 'in-process', ingest, release, options.ackTimeoutMs ?? ACK_TIMEOUT_MS);
}

class LocalUpload implements RecorderUpload {
  readonly version = 2 as const;
  readonly recordingId: string;
  readonly startOffset: number;
  sent: number;
  acked: number;
  failed: Error | undefined;
  onFailure: ((error: Error) => void) | undefined;
  onAck: ((acked: number, latencyMs: number) => void) | undefined;
  private ending: Promise<void> | undefined;
  private readonly sendTimes: Array<{ offset: number; at: number }> = [];
  /**
   * A stalled disk (fsync that never returns) must trip fail-closed like a silent network recorder
   * does. No idle frames in-process: only acks that stop advancing while bytes wait count.
   */
  private readonly window: AckWindow;

  constructor(
    readonly url: string,
    private readonly ingest: Ingest,
    private readonly release: () => void,
    ackTimeoutMs: number,
  ) {
    this.recordingId = ingest.id;
    this.startOffset = ingest.offset;
    this.sent = this.startOffset;
    this.acked = this.startOffset;
    this.window = new AckWindow({
      windowMs: ackTimeoutMs,
      expectIdleFrames: false,
      counts: () => this,
      onExpire: (message) => this.drop(new RecorderUploadError(message), message),
    });
    ingest.onDurable = (durable) => {
      if (durable <= this.acked) return;
      this.acked = durable;
      this.window.progress();
      const now = performance.now();
      let latency = 0;
      while (this.sendTimes.length > 0 && this.sendTimes[0].offset <= durable) latency = now - this.sendTimes.shift()!.at;
      this.onAck?.(durable, latency);
    };
    ingest.onFailure = (error) => this.fail(new RecorderUploadError(`recorder error: ${error.message}`));
  }

  write(data: Buffer): boolean {
    if (this.failed || this.ending) return false;
    if (data.byteLength === 0) return true;
    const caughtUp = this.sent === this.acked;
    this.sent += data.byteLength;
    this.window.sending(caughtUp);
    if (this.sendTimes.length < 4096) this.sendTimes.push({ offset: this.sent, at: performance.now() });
    this.ingest.push(data);
    return !this.failed;
  }

  end(): Promise<void> {
    this.ending ??= new Promise<void>((resolve, reject) => {
      if (this.failed) {
        reject(this.failed);
        return;
      }
      // A failure while finishing (the ack window on a stalled sync) settles the end at once.
      this.rejectEnd = reject;
      this.ingest
        .finish()
        .then(() => {
          if (this.failed) throw this.failed;
          this.acked = this.sent;
          resolve();
        })
        .catch(reject)
        .finally(() => {
          this.window.stop();
          this.release();
        });
    });
    return this.ending;
  }

  abort(reason: string): void {
    this.drop(new RecorderUploadError(`upload aborted: ${reason}`), reason);
  }

  private rejectEnd: ((error: Error) => void) | undefined;

  private drop(error: Error, reason: string): void {
    this.window.stop();
    this.fail(error);
    void this.ingest.abort(reason).finally(this.release);
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.onFailure?.(error);
    this.rejectEnd?.(error);
  }
}
