// An upload to a recorder in the same process (kubecast serve's embedded recorder): the same
// contract as the network client — acks are durably stored bytes, failures end the upload — without
// HTTP/2 framing, sockets and copies in between. Remote recorders still use client.ts.
import { RecorderUploadError, type RecorderUpload } from './upload';
import type { Ingest } from './ingest';

/** What a recorder offers in-process. */
export interface LocalRecorder {
  readonly address: string | undefined;
  /** A new recording, or the continuation of `resumeId`. Rejects when the recorder cannot take it. */
  openLocal(options?: { resumeId?: string; remoteAddress?: string }): Promise<{ ingest: Ingest; release: () => void }>;
}

export async function openLocalUpload(recorder: LocalRecorder, options: { resumeId?: string } = {}): Promise<RecorderUpload> {
  const { ingest, release } = await recorder.openLocal({ resumeId: options.resumeId, remoteAddress: 'in-process' });
  return new LocalUpload(recorder.address ?? 'in-process', ingest, release);
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

  constructor(
    readonly url: string,
    private readonly ingest: Ingest,
    private readonly release: () => void,
  ) {
    this.recordingId = ingest.id;
    this.startOffset = ingest.offset;
    this.sent = this.startOffset;
    this.acked = this.startOffset;
    ingest.onDurable = (durable) => {
      if (durable <= this.acked) return;
      this.acked = durable;
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
    this.sent += data.byteLength;
    if (this.sendTimes.length < 4096) this.sendTimes.push({ offset: this.sent, at: performance.now() });
    this.ingest.push(data);
    return !this.failed;
  }

  end(): Promise<void> {
    this.ending ??= (async () => {
      if (this.failed) throw this.failed;
      try {
        await this.ingest.finish();
      } finally {
        this.release();
      }
      if (this.failed) throw this.failed;
      this.acked = this.sent;
    })();
    return this.ending;
  }

  abort(reason: string): void {
    this.fail(new RecorderUploadError(`upload aborted: ${reason}`));
    void this.ingest.abort(reason).finally(this.release);
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.onFailure?.(error);
  }
}
