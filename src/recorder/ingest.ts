// One upload being stored: splits the byte stream into lines, checks the header, appends whole
// lines to the cast file, and reports durable bytes (the acks) and the end.
import type { CastFile } from '../store/cast-file';
import type { OpenRecording, RecordingStore } from '../store/store';
import { MAX_HEADER_BYTES, MAX_LINE_BYTES } from './protocol';

/** Whoever wants to see recordings as they are ingested (the live hub, the library index). */
export interface IngestObserver {
  started(recording: IngestedRecording): void;
  /** One or more complete lines (each ending in "\n"), in order, after the header. */
  lines(id: string, lines: Buffer): void;
  ended(id: string, outcome: IngestOutcome): void;
}

export interface IngestedRecording {
  id: string;
  path: string;
  header: Record<string, unknown>;
  /** True when an earlier upload of this recording is being continued. */
  resumed: boolean;
  /** Address of the uploader, as the recorder saw it. */
  remoteAddress?: string;
}

export interface IngestOutcome {
  /** The uploader ended the upload normally (not cut off). */
  complete: boolean;
  bytes: number;
  error?: string;
}

export class IngestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IngestError';
  }
}

/** Bytes written but not yet durable above which the upload is paused until the disk catches up. */
const PAUSE_BACKLOG = 32 * 1024 * 1024;

export class Ingest {
  private recording: OpenRecording | undefined;
  private opening: Promise<void> | undefined;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private failure: Error | undefined;
  private done = false;
  private header: Record<string, unknown> | undefined;
  onDurable: ((durable: number) => void) | undefined;
  onFailure: ((error: Error) => void) | undefined;
  /** Asks the transport to stop (true) or resume (false) reading the upload. */
  onBackpressure: ((paused: boolean) => void) | undefined;
  private paused = false;

  private constructor(
    readonly id: string,
    private readonly store: RecordingStore,
    private readonly observer: IngestObserver | undefined,
    private readonly remoteAddress: string | undefined,
    private readonly resumeOf: OpenRecording | undefined,
  ) {
    if (resumeOf) this.attach(resumeOf);
  }

  /** A new recording; its id is made now, its file when the header line arrives. */
  static fresh(store: RecordingStore, id: string, observer?: IngestObserver, remoteAddress?: string): Ingest {
    return new Ingest(id, store, observer, remoteAddress, undefined);
  }

  /** Continues an existing recording; undefined if there is none with that id. */
  static async resume(store: RecordingStore, id: string, observer?: IngestObserver, remoteAddress?: string): Promise<Ingest | undefined> {
    const open = await store.reopen(id);
    if (!open) return undefined;
    const ingest = new Ingest(id, store, observer, remoteAddress, open);
    const header = await readHeader(open.file);
    ingest.header = header;
    observer?.started({ id, path: open.path, header, resumed: true, remoteAddress });
    return ingest;
  }

  /** Bytes of the upload already held (the offset a resumed upload continues from). */
  get offset(): number {
    return this.recording?.file.size ?? 0;
  }

  get durable(): number {
    return this.recording?.file.durable ?? 0;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  push(chunk: Buffer): void {
    if (this.failure || this.done || chunk.byteLength === 0) return;
    if (!this.recording) {
      this.queued.push(chunk);
      this.queuedBytes += chunk.byteLength;
      this.openWhenHeaderComplete(chunk);
      return;
    }
    this.consume(chunk);
  }

  /** The upload ended normally: store the rest, sync, report. Throws the ingest error if any. */
  async finish(): Promise<void> {
    if (this.opening) await this.opening;
    if (this.failure) throw this.failure;
    this.done = true;
    if (this.tailBytes > 0) {
      // A last line without its newline cannot be proven whole: keep the file line-clean.
      this.tail = [];
      this.tailBytes = 0;
    }
    const file = this.recording?.file;
    if (file) {
      await file.flush();
      await file.close();
    }
    this.observer?.ended(this.id, { complete: Boolean(file), bytes: file?.size ?? 0 });
  }

  /** The upload was cut off or refused: keep what is whole, report incomplete. */
  async abort(reason: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    if (this.opening) await this.opening.catch(() => {});
    const file = this.recording?.file;
    if (file) await file.close().catch(() => {});
    if (file || this.resumeOf) this.observer?.ended(this.id, { complete: false, bytes: file?.size ?? 0, error: reason });
  }

  private attach(open: OpenRecording): void {
    this.recording = open;
    const file: CastFile = open.file;
    file.onDurable = (durable) => {
      if (this.paused && file.size - durable < PAUSE_BACKLOG / 2) {
        this.paused = false;
        this.onBackpressure?.(false);
      }
      this.onDurable?.(durable);
    };
    file.onError = (err) => this.fail(new IngestError(`cannot store the recording: ${err.message}`));
  }

  private openWhenHeaderComplete(latest: Buffer): void {
    if (this.opening) return;
    // Only the newest chunk can hold the header's newline (earlier ones were searched as they came):
    // joining and searching everything queued on every chunk made a header that trickles in cost
    // quadratic time. Many tiny chunks are still joined now and then, so they cost bytes, not objects.
    if (latest.indexOf(0x0a) < 0) {
      if (this.queuedBytes > MAX_HEADER_BYTES) this.fail(new IngestError(`header line exceeds ${MAX_HEADER_BYTES} bytes`));
      else if (this.queued.length >= 1024) this.queued = [Buffer.concat(this.queued)];
      return;
    }
    const all = Buffer.concat(this.queued);
    const nl = all.indexOf(0x0a);
    let header: Record<string, unknown>;
    try {
      header = parseHeaderLine(all.subarray(0, nl));
    } catch (err) {
      this.fail(err instanceof Error ? err : new IngestError(String(err)));
      return;
    }
    this.header = header;
    this.queued = [];
    this.queuedBytes = 0;
    this.opening = this.store
      // The id was already promised in the response headers.
      .create(new Date(), this.id)
      .then((recording) => {
        this.attach(recording);
        this.observer?.started({ id: recording.id, path: recording.path, header, resumed: false, remoteAddress: this.remoteAddress });
        this.consume(all);
      })
      .catch((err: unknown) => this.fail(new IngestError(`cannot create the recording: ${err instanceof Error ? err.message : String(err)}`)))
      .finally(() => {
        this.opening = undefined;
        const later = this.queued;
        this.queued = [];
        this.queuedBytes = 0;
        for (const chunk of later) this.consume(chunk);
      });
  }

  /** Appends every whole line in tail+chunk; keeps the partial last line. */
  private consume(chunk: Buffer): void {
    if (this.failure || !this.recording) return;
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl < 0) {
      this.tail.push(chunk);
      this.tailBytes += chunk.byteLength;
      if (this.tailBytes > MAX_LINE_BYTES) this.fail(new IngestError(`a cast line exceeds ${MAX_LINE_BYTES} bytes`));
      return;
    }
    const whole = this.tailBytes > 0 ? Buffer.concat([...this.tail, chunk.subarray(0, lastNl + 1)]) : chunk.subarray(0, lastNl + 1);
    this.tail = [];
    this.tailBytes = 0;
    if (lastNl + 1 < chunk.byteLength) {
      this.tail.push(chunk.subarray(lastNl + 1));
      this.tailBytes = chunk.byteLength - lastNl - 1;
    }
    const file = this.recording.file;
    try {
      file.append(whole);
    } catch (err) {
      this.fail(err instanceof Error ? err : new IngestError(String(err)));
      return;
    }
    // The header line is reported through started(); later lines go to observers as they are.
    const body = this.recording.file.size === whole.byteLength && !this.resumeOf ? skipFirstLine(whole) : whole;
    if (body.byteLength > 0) this.observer?.lines(this.id, body);
    if (!this.paused && file.size - file.durable > PAUSE_BACKLOG) {
      this.paused = true;
      this.onBackpressure?.(true);
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.onFailure?.(error);
  }

  get headerFields(): Record<string, unknown> | undefined {
    return this.header;
  }
}

function skipFirstLine(buf: Buffer): Buffer {
  const nl = buf.indexOf(0x0a);
  return buf.subarray(nl + 1);
}

export function parseHeaderLine(line: Buffer): Record<string, unknown> {
  if (line.byteLength > MAX_HEADER_BYTES) throw new IngestError(`header line exceeds ${MAX_HEADER_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    throw new IngestError('the first line is not an asciicast header (not JSON)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IngestError('the first line is not an asciicast header (not a JSON object)');
  }
  const header = value as Record<string, unknown>;
  if (header.version !== 2 && header.version !== 3) {
    throw new IngestError(`unsupported asciicast version ${JSON.stringify(header.version)}`);
  }
  return header;
}

async function readHeader(file: CastFile): Promise<Record<string, unknown>> {
  const { open } = await import('node:fs/promises');
  const handle = await open(file.path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(MAX_HEADER_BYTES + 1, Math.max(file.size, 1)));
    const { bytesRead } = await handle.read(buf, 0, buf.byteLength, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl < 0) throw new IngestError('stored recording has no header line');
    return parseHeaderLine(buf.subarray(0, nl));
  } finally {
    await handle.close();
  }
}
