// One session's recording on its way to a recorder: flow control on acks, and what happens when
// the recorder fails. Fail-closed: the session is told to end (the tap then forwards nothing
// unrecorded). Fail-open: the session goes on; bytes are kept in a spool file under the data folder
// and delivered when a recorder is reachable again — resuming the same recording on kubecast
// recorders, so the stored recording ends complete; marker events note the gap.
import { closeSync, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync, type WriteStream } from 'node:fs';
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

type State = 'streaming' | 'gap' | 'draining' | 'failed' | 'ended' | 'closed';

/** Beside each spool file `NAME.part`, `NAME.json`: what a later run needs to deliver it. */
export interface SpoolMeta {
  /** The id the proxy logged for the session's recording. */
  id: string;
  /** The recorder's id for the recording, to resume it (null: the recorder gave none). */
  recordingId: string | null;
  recorder: string;
  /** Logical upload offset of the spool file's first byte. */
  offset: number;
  /** The cast header line, for starting a new recording when resuming is impossible. */
  header: string | null;
  /** The session had ended (the spool holds its end); false: it was cut by a shutdown. */
  ended: boolean;
}

/** Whatever may be delivering a spool, per spool folder, so a shutting-down proxy can close it. */
interface Closable {
  close(): boolean;
}
const spooling = new Map<string, Set<Closable>>();

function track(spoolDir: string, item: Closable): () => void {
  let set = spooling.get(spoolDir);
  if (!set) spooling.set(spoolDir, (set = new Set()));
  set.add(item);
  return () => {
    set.delete(item);
    if (set.size === 0 && spooling.get(spoolDir) === set) spooling.delete(spoolDir);
  };
}

/**
 * Process shutdown: stops background delivery of every recording still spooling under `spoolDir`;
 * their spool files stay for the next run. Returns how many were closed.
 */
export function closeSpooledRecordings(spoolDir: string): number {
  let closed = 0;
  for (const recording of [...(spooling.get(spoolDir) ?? [])]) if (recording.close()) closed++;
  return closed;
}

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
  private metaPath: string | undefined;
  /** The recording whose byte offsets the spool continues (the upload that failed when it opened). */
  private spoolRecordingId: string | null = null;
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
    this.forget = track(options.spoolDir, this);
  }

  /** Done with for good: no longer closable at shutdown. */
  private readonly forget: () => void;

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
    const first = !this.endRequested;
    this.endRequested = true;
    // A spool open now holds the session's end: the next run must deliver it as complete.
    if (first) this.writeMeta();
    this.ending ??= new Promise<void>((resolve) => {
      this.settled = () => {
        this.forget();
        resolve();
      };
      if (this.state === 'streaming') this.finishUpload();
      else if (this.state === 'failed' || this.state === 'closed') this.settled();
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
    this.forget();
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
      this.forget();
      this.options.log.error('recorder failed; ending the session (fail-closed)', { error: message });
      this.options.onFatal(reason);
      this.settled?.();
      return;
    }
    if (this.state === 'streaming' || this.state === 'draining') {
      this.options.log.warn('recorder failed; the session goes on and the recording is spooled until a recorder is back (fail-open)', { error: message });
      this.state = 'gap';
      this.setPaused(false);
      this.openSpool();
      this.options.marker?.(`kubecast: recorder unreachable (${message}); buffering the recording locally`);
      this.scheduleRetry();
    }
  }

  /**
   * A delivery gap starts: the spool file begins at the first byte the recorder has not acked, so
   * the unacked bytes held in memory go to disk too and a shutdown during the gap loses nothing.
   * (During a drain the spool already exists and holds everything from its start.)
   */
  private openSpool(): void {
    if (this.spool) return;
    mkdirSync(this.options.spoolDir, { recursive: true, mode: 0o700 });
    this.spoolPath = join(this.options.spoolDir, `${this.id}.part`);
    this.metaPath = join(this.options.spoolDir, `${this.id}.json`);
    this.spool = createWriteStream(this.spoolPath, { flags: 'w', mode: 0o600 });
    this.spool.on('error', (err) => this.options.log.error('spool write failed', { error: err.message, path: this.spoolPath }));
    this.spoolStart = this.unacked[0]?.start ?? this.offset;
    this.spoolRecordingId = this.upload.recordingId ?? null;
    this.spoolWritten = 0;
    this.spoolFlushed = 0;
    const memory = this.unacked;
    this.unacked = [];
    this.unackedBytes = 0;
    for (const piece of memory) this.toSpool(piece.data);
    this.writeMeta();
  }

  private writeMeta(): void {
    if (!this.metaPath) return;
    const meta: SpoolMeta = {
      id: this.id,
      // Not the upload of a drain in progress: a new recording there counts its bytes differently.
      recordingId: this.spoolRecordingId,
      recorder: this.upload.url,
      offset: this.spoolStart,
      header: this.headerLine?.toString('utf8') ?? null,
      ended: this.endRequested,
    };
    try {
      writeFileSync(this.metaPath, JSON.stringify(meta) + '\n', { mode: 0o600 });
    } catch (err) {
      this.options.log.error('spool meta write failed', { error: err instanceof Error ? err.message : String(err), path: this.metaPath });
    }
  }

  private toSpool(data: Buffer): void {
    if (!this.spool) this.openSpool();
    this.spoolWritten += data.byteLength;
    this.options.metrics.spooledBytes.inc(data.byteLength);
    this.spool!.write(data, () => (this.spoolFlushed += data.byteLength));
  }

  private scheduleRetry(): void {
    this.clearRetry();
    this.retryTimer = setTimeout(() => void this.reconnect(), this.retryDelay);
    // Retrying must not keep a proxy that is shutting down alive; the spool outlives the process.
    this.retryTimer.unref();
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
      if (this.state !== 'gap') return;
      this.options.log.debug('recorder still unreachable', { error: err instanceof Error ? err.message : String(err) });
      this.scheduleRetry();
      return;
    }
    if (this.state !== 'gap') {
      // Closed (shutdown) while connecting: the spool waits for the next run.
      upload.abort('the proxy is shutting down');
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
        await this.resend(this.spoolStart);
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

  /** Sends everything from `from` (a logical offset) out of the spool file, which holds all that is unacked. */
  private async resend(from: number): Promise<void> {
    this.unacked = [];
    this.unackedBytes = 0;
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
          // Paced like live output: the spool is not read into memory faster than the recorder takes it.
          while (this.paused && this.state === 'draining') await new Promise((resolve) => setTimeout(resolve, 5));
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
    const paths = [this.spoolPath, this.metaPath];
    this.options.metrics.spooledBytes.dec(this.spoolWritten);
    this.spool.end(() => {
      for (const path of paths) if (path) rmSync(path, { force: true });
    });
    this.spool = undefined;
    this.spoolPath = undefined;
    this.metaPath = undefined;
  }

  /**
   * Stops background delivery (process shutdown) of a recording in a delivery gap; its spool file
   * and meta stay for a later run. false when there is nothing to close (streaming or done).
   */
  close(): boolean {
    if (this.state !== 'gap' && this.state !== 'draining') return false;
    this.state = 'closed';
    this.clearRetry();
    // A drain in progress stops; the recorder keeps what it has and says from where on resume.
    this.upload.abort('the proxy is shutting down');
    this.writeMeta();
    this.spool?.end();
    this.forget();
    this.settled?.();
    return true;
  }
}

function firstLine(data: Buffer): Buffer | undefined {
  const nl = data.indexOf(0x0a);
  return nl >= 0 ? Buffer.from(data.subarray(0, nl + 1)) : undefined;
}

/**
 * At proxy start: delivers the spool files an earlier run left (a fail-open gap at shutdown or a
 * crash), in the background, retrying until a recorder takes each one. A recording whose session
 * was cut (the earlier run died mid-session) gets a marker saying so and is left incomplete.
 */
export function deliverLeftoverSpools(options: { spoolDir: string; targets: RecorderTarget[]; connect: ConnectOptions; log: Logger }): number {
  let names: string[];
  try {
    names = readdirSync(options.spoolDir).filter((name) => name.endsWith('.json'));
  } catch {
    return 0;
  }
  for (const name of names) new LeftoverSpool(join(options.spoolDir, name), options).schedule(0);
  return names.length;
}

class LeftoverSpool implements Closable {
  private readonly partPath: string;
  private readonly forget: () => void;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private delay = RETRY_MIN_MS;
  private upload: RecorderUpload | undefined;
  private done = false;

  constructor(
    private readonly metaPath: string,
    private readonly options: { spoolDir: string; targets: RecorderTarget[]; connect: ConnectOptions; log: Logger },
  ) {
    this.partPath = metaPath.replace(/\.json$/, '.part');
    this.forget = track(options.spoolDir, this);
  }

  schedule(ms: number): void {
    this.timer = setTimeout(() => void this.attempt(), ms);
    this.timer.unref();
  }

  close(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.upload?.abort('the proxy is shutting down');
    this.forget();
    return true;
  }

  private async attempt(): Promise<void> {
    if (this.done) return;
    let meta: SpoolMeta;
    try {
      meta = JSON.parse(readFileSync(this.metaPath, 'utf8')) as SpoolMeta;
      if (typeof meta.offset !== 'number' || typeof meta.id !== 'string') throw new Error('not a spool meta file');
    } catch (err) {
      this.options.log.error('cannot read a leftover spool; left in place', { path: this.metaPath, error: err instanceof Error ? err.message : String(err) });
      this.close();
      return;
    }
    const log = this.options.log.child({ recording: meta.id });
    try {
      await this.deliver(meta, log);
      if (this.done) return;
      rmSync(this.partPath, { force: true });
      rmSync(this.metaPath, { force: true });
      log.info('delivered a recording spooled by an earlier run', { recorder: this.upload?.url });
      this.close();
    } catch (err) {
      this.upload?.abort('delivery failed');
      this.upload = undefined;
      if (this.done) return;
      log.debug('leftover spool not delivered yet', { error: err instanceof Error ? err.message : String(err) });
      this.schedule(this.delay);
      this.delay = Math.min(RETRY_MAX_MS, this.delay * 2);
    }
  }

  private async deliver(meta: SpoolMeta, log: Logger): Promise<void> {
    let upload: RecorderUpload | undefined;
    if (meta.recordingId) upload = await connectRecorder(this.options.targets, { ...this.options.connect, resumeId: meta.recordingId }).catch(() => undefined);
    const resumed = upload !== undefined;
    upload ??= await connectRecorder(this.options.targets, this.options.connect);
    this.upload = upload;
    if (this.done) throw new Error('closed');
    // A spool cut by a crash may end mid-line: whole lines only.
    const tail = lastLine(this.partPath);
    if (!meta.ended) truncateSync(this.partPath, tail.boundary);
    let from = 0;
    if (resumed) {
      from = upload.startOffset - meta.offset;
      if (from < 0) {
        log.warn('the recorder holds less than the spool continues from; delivering the whole spool', { held: upload.startOffset, spool: meta.offset });
        from = 0;
      }
    } else if (meta.offset > 0) {
      // The recorder lost or never had the start: a new recording, saying what it continues.
      upload.write(Buffer.from(meta.header ?? ''));
      upload.write(Buffer.from(JSON.stringify([0, 'm', `kubecast: continues recording ${meta.recordingId ?? meta.id} after a recorder outage`]) + '\n'));
    }
    for await (const chunk of createReadStream(this.partPath, { start: from, highWaterMark: 1024 * 1024 })) {
      await room(upload, upload.write(chunk as Buffer));
      if (upload.failed) throw upload.failed;
    }
    if (meta.ended) {
      await upload.end();
      return;
    }
    upload.write(Buffer.from(JSON.stringify([timeOf(tail.line), 'm', 'kubecast: the proxy stopped before the session ended; the recording is cut here']) + '\n'));
    if (upload.version === 1) {
      await upload.end();
      return;
    }
    // Incomplete on purpose: everything acked, then the upload is dropped rather than ended.
    while (upload.acked < upload.sent && !upload.failed) await new Promise((resolve) => setTimeout(resolve, 20));
    if (upload.failed) throw upload.failed;
    upload.abort('the session was cut by a proxy shutdown');
  }
}

/** Waits until the upload can take more (v2: acks caught up enough; v1: socket drained). */
async function room(upload: RecorderUpload, taken: boolean): Promise<void> {
  if (upload.version === 1) {
    if (!taken && !upload.failed) await new Promise<void>((resolve) => (upload.onDrain = resolve));
    return;
  }
  while (upload.sent - upload.acked > UNACKED_LOW_WATER && !upload.failed) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The end of the file's last whole line, and that line (from its tail: spools can be large). */
function lastLine(path: string): { boundary: number; line: string } {
  const fd = openSync(path, 'r');
  try {
    let end = fstatSync(fd).size;
    const parts: Buffer[] = [];
    let boundary = -1;
    while (end > 0) {
      const start = Math.max(0, end - 64 * 1024);
      const block = Buffer.allocUnsafe(end - start);
      readSync(fd, block, 0, block.byteLength, start);
      parts.unshift(block);
      const joined = Buffer.concat(parts);
      if (boundary < 0) {
        const nl = joined.lastIndexOf(0x0a);
        if (nl >= 0) boundary = start + nl + 1;
      }
      if (boundary >= 0) {
        const lineEnd = boundary - start - 1;
        const lineStart = joined.lastIndexOf(0x0a, lineEnd - 1) + 1;
        if (lineStart > 0 || start === 0) return { boundary, line: joined.subarray(lineStart, lineEnd).toString('utf8') };
      }
      end = start;
    }
    return { boundary: Math.max(0, boundary), line: '' };
  } finally {
    closeSync(fd);
  }
}


function timeOf(line: string): number {
  try {
    const event = JSON.parse(line) as unknown;
    if (Array.isArray(event) && typeof event[0] === 'number') return event[0];
  } catch {
    // Not an event line (a header, or cut): time 0 still parses.
  }
  return 0;
}
