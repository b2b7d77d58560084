// One session's recording on its way to a recorder: flow control on acks, and what happens when
// the recorder fails. Fail-closed: the session is told to end (the tap then forwards nothing
// unrecorded). Fail-open: the session goes on; bytes are kept in a spool file under the data folder
// and delivered when a recorder is reachable again — resuming the same recording on kubecast
// recorders, so the stored recording ends complete; marker events note the gap.
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { connectRecorder, type ConnectOptions, type RecorderTarget, type RecorderUpload } from '../recorder/client';
import type { Logger } from '../util/log';
import { newRecordingId } from '../util/ids';
import type { ProxyMetrics } from './metrics';

export type FailurePolicy = 'fail-closed' | 'fail-open';

export interface SessionRecordingOptions {
  upload: RecorderUpload;
  targets: RecorderTarget[];
  connect: ConnectOptions;
  policy: FailurePolicy;
  spoolDir: string;
  log: Logger;
  metrics: ProxyMetrics;
  /** Fail-closed: the recording failed and the session must end now, with this reason. */
  onFatal: (reason: string) => void;
  /** Ask the session to stop (true) or resume (false) reading output: the recorder is behind. */
  onBackpressure: (paused: boolean) => void;
  /** Write a marker into the recording (fail-open delivery gaps). */
  marker?: (label: string) => void;
}

/** Unacknowledged bytes above which output is paused until the recorder catches up. */
const UNACKED_HIGH_WATER = 32 * 1024 * 1024;
const UNACKED_LOW_WATER = 8 * 1024 * 1024;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

type State = 'streaming' | 'gap' | 'draining' | 'failed' | 'ended';

interface Pending {
  start: number;
  data: Buffer;
}

export class SessionRecording {
  private upload: RecorderUpload;
  private state: State = 'streaming';
  /** Sent but not acknowledged (v2), kept to resend after a recorder outage. */
  private unacked: Pending[] = [];
  private unackedBytes = 0;
  /** Logical offset of the next byte written. */
  private offset: number;
  private paused = false;
  private headerLine: Buffer | undefined;
  private spool: WriteStream | undefined;
  private spoolPath: string | undefined;
  private spoolStart = 0;
  private spoolWritten = 0;
  private spoolFlushed = 0;
  private ending: Promise<void> | undefined;
  private endRequested = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay = RETRY_MIN_MS;
  private settled: (() => void) | undefined;
  readonly localId = newRecordingId();

  constructor(private readonly options: SessionRecordingOptions) {
    this.upload = options.upload;
    this.offset = options.upload.sent;
    this.watch(this.upload);
  }

  /** The recorder's id for this recording (falls back to a local id for recorders that give none). */
  get id(): string {
    return this.upload.recordingId ?? this.localId;
  }

  get recorderUrl(): string {
    return this.upload.url;
  }

  get delivered(): boolean {
    return this.state === 'ended';
  }

  /** Appends cast bytes. false = not recorded (fail-closed after a failure). */
  write(data: Buffer): boolean {
    if (data.byteLength === 0) return true;
    if (this.state === 'failed' || this.state === 'ended') return false;
    this.headerLine ??= firstLine(data);
    const start = this.offset;
    this.offset += data.byteLength;
    this.options.metrics.bytesRecorded.inc(data.byteLength);
    if (this.state === 'streaming') {
      this.send(start, data);
      return true;
    }
    this.toSpool(data);
    return true;
  }

  /** The session is over: deliver the rest. Resolves when the recorder has it all (or it is spooled for later, fail-open). */
  end(): Promise<void> {
    this.endRequested = true;
    this.ending ??= new Promise<void>((resolve) => {
      this.settled = resolve;
      if (this.state === 'streaming') this.finishUpload();
      else if (this.state === 'failed') resolve();
      // gap/draining: delivery continues in the background and resolves when done.
    });
    return this.ending;
  }

  /** Drops the recording (the upgrade was refused upstream: there was no session). */
  abort(reason: string): void {
    this.state = 'ended';
    this.upload.abort(reason);
    this.clearRetry();
    this.removeSpool();
    this.settled?.();
  }

  private send(start: number, data: Buffer): void {
    const taken = this.upload.write(data);
    if (this.upload.version === 2) {
      this.unacked.push({ start, data });
      this.unackedBytes += data.byteLength;
      if (this.unackedBytes > UNACKED_HIGH_WATER) this.setPaused(true);
    } else if (!taken && !this.upload.failed) {
      // v1 has no acks: its socket buffer filling up is the sign of a slow recorder.
      this.setPaused(true);
    }
  }

  private setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.options.onBackpressure(paused);
  }

  private watch(upload: RecorderUpload): void {
    upload.onAck = (acked, latencyMs) => {
      if (upload !== this.upload) return;
      this.options.metrics.ackLatency.observe(latencyMs / 1000);
      while (this.unacked.length > 0 && this.unacked[0].start + this.unacked[0].data.byteLength <= acked) {
        this.unackedBytes -= this.unacked.shift()!.data.byteLength;
      }
      if (this.unackedBytes < UNACKED_LOW_WATER) this.setPaused(false);
    };
    upload.onDrain = () => {
      if (upload === this.upload) this.setPaused(false);
    };
    upload.onFailure = (error) => {
      if (upload !== this.upload) return;
      this.recorderFailed(error.message);
    };
  }

  private recorderFailed(message: string): void {
    if (this.state === 'ended' || this.state === 'failed') return;
    const reason = `recording failed: ${message}`;
    if (this.options.policy === 'fail-closed') {
      this.state = 'failed';
      this.options.log.error('recorder failed; ending the session (fail-closed)', { error: message });
      this.options.onFatal(reason);
      this.settled?.();
      return;
    }
    if (this.state === 'streaming' || this.state === 'draining') {
      this.options.log.warn('recorder failed; the session goes on and the recording is spooled until a recorder is back (fail-open)', { error: message });
      this.state = 'gap';
      this.setPaused(false);
      this.options.marker?.(`kubecast: recorder unreachable (${message}); buffering the recording locally`);
      this.scheduleRetry();
    }
  }

  private toSpool(data: Buffer): void {
    if (!this.spool) {
      mkdirSync(this.options.spoolDir, { recursive: true, mode: 0o700 });
      this.spoolPath = join(this.options.spoolDir, `${this.id}.part`);
      this.spool = createWriteStream(this.spoolPath, { flags: 'w', mode: 0o600 });
      this.spool.on('error', (err) => this.options.log.error('spool write failed', { error: err.message, path: this.spoolPath }));
      this.spoolStart = this.offset - data.byteLength;
      this.spoolWritten = 0;
      this.spoolFlushed = 0;
    }
    this.spoolWritten += data.byteLength;
    this.options.metrics.spooledBytes.inc(data.byteLength);
    this.spool.write(data, () => (this.spoolFlushed += data.byteLength));
  }

  private scheduleRetry(): void {
    this.clearRetry();
    this.retryTimer = setTimeout(() => void this.reconnect(), this.retryDelay);
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Fail-open: try the recorders again; resume the same recording when the recorder can. */
  private async reconnect(): Promise<void> {
    if (this.state !== 'gap') return;
    const previousId = this.upload.recordingId;
    let upload: RecorderUpload;
    let resumed = false;
    try {
      if (previousId) {
        try {
          upload = await connectRecorder(this.options.targets, { ...this.options.connect, resumeId: previousId });
          resumed = true;
        } catch {
          upload = await connectRecorder(this.options.targets, this.options.connect);
        }
      } else upload = await connectRecorder(this.options.targets, this.options.connect);
    } catch (err) {
      this.options.log.debug('recorder still unreachable', { error: err instanceof Error ? err.message : String(err) });
      this.scheduleRetry();
      return;
    }
    this.retryDelay = RETRY_MIN_MS;
    this.upload = upload;
    this.watch(upload);
    this.state = 'draining';
    this.options.log.info(resumed ? 'recorder reachable again; resuming the recording' : 'recorder reachable again; continuing in a new recording', {
      recorder: upload.url,
      offset: upload.startOffset,
    });
    try {
      if (resumed) await this.resend(upload.startOffset);
      else {
        // No resume: a new recording, starting with the header and saying what it continues.
        const header = this.headerLine ?? Buffer.alloc(0);
        upload.write(header);
        upload.write(Buffer.from(JSON.stringify([0, 'm', `kubecast: continues recording ${previousId ?? this.localId} after a recorder outage`]) + '\n'));
        await this.resend(this.unacked[0]?.start ?? this.spoolStart);
      }
    } catch (err) {
      this.recorderFailed(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.state !== 'draining') return;
    this.state = 'streaming';
    this.options.marker?.('kubecast: recorder reachable again; delivery resumed');
    this.removeSpool();
    if (this.endRequested) this.finishUpload();
  }

  /** Sends everything from `from` (a logical offset): unacked bytes in memory, then the spool file. */
  private async resend(from: number): Promise<void> {
    const memory = this.unacked;
    this.unacked = [];
    this.unackedBytes = 0;
    for (const piece of memory) {
      const end = piece.start + piece.data.byteLength;
      if (end <= from) continue;
      const skip = Math.max(0, from - piece.start);
      this.send(piece.start + skip, piece.data.subarray(skip));
    }
    if (!this.spool || !this.spoolPath) return;
    // Read the spool until caught up with what is still being appended to it. Writes land in the
    // spool until the state turns back to streaming, which happens synchronously after this returns.
    const path = this.spoolPath;
    let position = Math.max(0, from - this.spoolStart);
    while (this.state === 'draining') {
      if (position < this.spoolFlushed) {
        const end = this.spoolFlushed;
        for await (const chunk of createReadStream(path, { start: position, end: end - 1, highWaterMark: 1024 * 1024 })) {
          const data = chunk as Buffer;
          this.send(this.spoolStart + position, data);
          position += data.byteLength;
        }
      } else if (this.spoolWritten === this.spoolFlushed) {
        return;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  private finishUpload(): void {
    const upload = this.upload;
    upload.end().then(
      () => {
        if (upload !== this.upload) return;
        if (upload.acked < upload.sent) {
          // Not a failure: recorders that ack bytes received (the peer's) end without a final ack.
          this.options.log.warn('the recorder ended the upload without acknowledging all of it', { recorder: upload.url, sent: upload.sent, acked: upload.acked });
        }
        this.state = 'ended';
        this.settled?.();
      },
      (err: unknown) => {
        if (upload !== this.upload) return;
        this.recorderFailed(err instanceof Error ? err.message : String(err));
        if (this.state === 'failed') this.settled?.();
      },
    );
  }

  private removeSpool(): void {
    if (!this.spool) return;
    const path = this.spoolPath;
    this.options.metrics.spooledBytes.dec(this.spoolWritten);
    this.spool.end(() => path && rmSync(path, { force: true }));
    this.spool = undefined;
    this.spoolPath = undefined;
  }

  /** Stops background delivery (process shutdown); the spool file stays for a later run. */
  close(): void {
    this.clearRetry();
    this.spool?.end();
    this.settled?.();
  }
}

function firstLine(data: Buffer): Buffer | undefined {
  const nl = data.indexOf(0x0a);
  return nl >= 0 ? Buffer.from(data.subarray(0, nl + 1)) : undefined;
}
