// The contract of an upload in progress, shared by the network client and the in-process path.

export class RecorderUploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecorderUploadError';
  }
}

/** An upload in progress. Offsets count bytes of the logical upload (a resume continues the count). */
export interface RecorderUpload {
  readonly url: string;
  readonly version: 1 | 2;
  /** The id the recorder gave the recording (kubecast recorders; undefined for others). */
  readonly recordingId: string | undefined;
  /** Offset the upload started at (non-zero when resuming). */
  readonly startOffset: number;
  /** Bytes handed to write() so far, including startOffset. */
  readonly sent: number;
  /** Bytes the recorder says are stored (v2); v1 has no acks, so it stays at startOffset until the end. */
  readonly acked: number;
  readonly failed: Error | undefined;
  /**
   * false: not taken (the upload failed or is ending), or taken but the transport's buffer is full —
   * write more only after `onDrain` (v1, which has no acks to pace by).
   */
  write(data: Buffer): boolean;
  /** Ends the upload; resolves when the recorder confirmed everything, rejects on failure. */
  end(): Promise<void>;
  /** Drops the upload (the recorder keeps what it has as incomplete). */
  abort(reason: string): void;
  /** Fires once on any failure: transport error, recorder error line, ack window. */
  onFailure: ((error: Error) => void) | undefined;
  onAck: ((acked: number, latencyMs: number) => void) | undefined;
  /** The transport's buffer emptied after write() returned false (v1). */
  onDrain?: (() => void) | undefined;
}
