// Drives a tap with byte chunks and records everything it does: events reaching the sink and the
// bytes it forwards in each direction.
import type { ExitStatus } from '../../src/protocol/channel';
import type { EndReason, OutputStream, TapOptions, TapSink, TapWarning } from '../../src/tap/events';
import type { StreamTap } from '../../src/tap/tap';

export type TapEvent =
  | { type: 'output'; stream: OutputStream; data: string }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'input'; data: string }
  | { type: 'exit'; code: number; status: ExitStatus }
  | { type: 'end'; reason: EndReason }
  | { type: 'warning'; warning: TapWarning };

export class RecordingSink implements TapSink {
  events: TapEvent[] = [];
  /** When set, output is refused (a fail-closed recorder that failed). */
  refuse = false;
  output(stream: OutputStream, data: Uint8Array): boolean {
    if (this.refuse) return false;
    this.events.push({ type: 'output', stream, data: Buffer.from(data).toString('latin1') });
    return true;
  }
  resize(cols: number, rows: number): void {
    this.events.push({ type: 'resize', cols, rows });
  }
  input(data: Uint8Array): void {
    this.events.push({ type: 'input', data: Buffer.from(data).toString('latin1') });
  }
  exit(code: number, status: ExitStatus): void {
    this.events.push({ type: 'exit', code, status });
  }
  end(reason: EndReason): void {
    this.events.push({ type: 'end', reason });
  }
  warning(warning: TapWarning): void {
    this.events.push({ type: 'warning', warning });
  }

  /** Output merged per stream: frame boundaries are not part of the recorded meaning. */
  outputText(stream?: OutputStream): string {
    return this.events
      .filter((e): e is Extract<TapEvent, { type: 'output' }> => e.type === 'output' && (stream === undefined || e.stream === stream))
      .map((e) => e.data)
      .join('');
  }

  /** Events with consecutive outputs of one stream merged. */
  merged(): TapEvent[] {
    const out: TapEvent[] = [];
    for (const e of this.events) {
      const last = out[out.length - 1];
      if (e.type === 'output' && last?.type === 'output' && last.stream === e.stream) last.data += e.data;
      else out.push(e.type === 'output' ? { ...e } : e);
    }
    return out;
  }
}

export interface Harness<T extends StreamTap> {
  tap: T;
  sink: RecordingSink;
  toClient: Buffer[];
  toServer: Buffer[];
  clientBytes(): Buffer;
  serverBytes(): Buffer;
}

export function harness<T extends StreamTap>(
  make: (options: TapOptions) => T,
  options: Partial<Omit<TapOptions, 'sink' | 'toClient' | 'toServer'>> & { sink?: RecordingSink } = {},
): Harness<T> {
  const sink = options.sink ?? new RecordingSink();
  const toClient: Buffer[] = [];
  const toServer: Buffer[] = [];
  const tap = make({
    tty: false,
    ...options,
    sink,
    // Copies: views may point into buffers a test reuses.
    toClient: (data) => toClient.push(Buffer.from(data)),
    toServer: (data) => toServer.push(Buffer.from(data)),
  });
  return {
    tap,
    sink,
    toClient,
    toServer,
    clientBytes: () => Buffer.concat(toClient),
    serverBytes: () => Buffer.concat(toServer),
  };
}

/** Splits `data` at the given offsets (sorted, within range). */
export function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= start || cut >= data.byteLength) continue;
    pieces.push(data.subarray(start, cut));
    start = cut;
  }
  pieces.push(data.subarray(start));
  return pieces;
}
