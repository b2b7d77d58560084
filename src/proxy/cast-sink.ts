// Turns a tap's events into asciicast lines. Pure: the lines go to `write`, which belongs to the
// recorder client (or a file in tests and benchmarks).
//
// The header needs the terminal size, which a TTY session learns from its first resize; the tap
// holds TTY output until then (bounded), so the header is written at the first resize, or with the
// default size when output, an exit or the end comes first.
import { CastWriter, type CastHeader } from '../cast';
import type { ExitStatus } from '../protocol/channel';
import type { EndReason, OutputStream, TapSink, TapWarning } from '../tap/events';

export const DEFAULT_SIZE = { cols: 80, rows: 24 } as const;

export interface CastSinkOptions {
  /** Everything but the size; width/height are filled in when known. */
  header: Omit<CastHeader, 'width' | 'height'>;
  tty: boolean;
  /** Receives complete lines as UTF-8. false = could not be recorded (the tap then stops forwarding). */
  write: (lines: Buffer) => boolean;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  /** Called once after the last line. */
  onEnd?: (reason: EndReason) => void;
  /** Tap warnings worth a marker in the recording. */
  onWarning?: (warning: TapWarning) => void;
}

export class CastSink implements TapSink {
  private writer: CastWriter | undefined;
  private readonly now: () => number;
  private readonly start: number;
  private ended = false;
  exitCode: number | undefined;
  exitStatus: ExitStatus | undefined;
  size: { cols: number; rows: number } | undefined;

  constructor(private readonly options: CastSinkOptions) {
    this.now = options.now ?? (() => performance.now());
    this.start = this.now();
    // Without a TTY there is no size to wait for.
    if (!options.tty) this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
  }

  /** Seconds since the session started. */
  elapsed(): number {
    return (this.now() - this.start) / 1000;
  }

  output(stream: OutputStream, data: Uint8Array): boolean {
    const writer = this.writer ?? this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
    const line = writer.outputLine(this.elapsed(), stream, data);
    return line === null ? true : this.options.write(line);
  }

  resize(cols: number, rows: number): void {
    if (!this.writer) {
      this.begin(cols, rows);
      return;
    }
    if (this.size && this.size.cols === cols && this.size.rows === rows) return;
    this.size = { cols, rows };
    this.emit(this.writer.resize(this.elapsed(), cols, rows));
  }

  input(data: Uint8Array): void {
    const writer = this.writer ?? this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
    this.emit(writer.input(this.elapsed(), data));
  }

  exit(code: number, status: ExitStatus): void {
    const writer = this.writer ?? this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
    this.exitCode = code;
    this.exitStatus = status;
    const t = this.elapsed();
    let lines = writer.end(t);
    if (status.kind === 'failure' && status.message) lines += writer.marker(t, `error: ${status.message}`);
    lines += writer.exit(t, code);
    this.emit(lines);
  }

  /** A marker in the recording (e.g. a delivery gap), written as soon as the header exists. */
  marker(label: string): void {
    const writer = this.writer ?? this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
    this.emit(writer.marker(this.elapsed(), label));
  }

  warning(warning: TapWarning): void {
    this.options.onWarning?.(warning);
    if (warning.message.startsWith('recording stopped')) this.marker(`kubecast: ${warning.message}`);
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    const writer = this.writer ?? this.begin(DEFAULT_SIZE.cols, DEFAULT_SIZE.rows);
    const t = this.elapsed();
    let lines = writer.end(t);
    if (reason.kind !== 'closed') {
      const kind = reason.code ? `${reason.kind} ${reason.code}` : reason.kind;
      lines += writer.marker(t, `kubecast: session ended (${kind})${reason.message ? `: ${reason.message}` : ''}`);
    }
    this.emit(lines);
    this.options.onEnd?.(reason);
  }

  private begin(cols: number, rows: number): CastWriter {
    this.size = { cols, rows };
    this.writer = new CastWriter({ ...this.options.header, width: cols, height: rows } as CastHeader);
    this.emit(this.writer.header());
    return this.writer;
  }

  private emit(lines: string): void {
    if (lines !== '') this.options.write(Buffer.from(lines));
  }
}
