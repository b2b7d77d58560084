// Drives a tap with byte chunks and records everything it does: events reaching the sink and the
// bytes it forwards in each direction.
import type { ExitStatus } from '../../src/protocol/channel';
import type { EndReason, OutputStream, TapOptions, TapSink, TapWarning } from '../../src/tap/events';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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
    return mergeOutputs(this.events);
  }
}

/** `events` with consecutive outputs of one stream merged: frame boundaries are not part of the meaning. */
export function mergeOutputs(events: TapEvent[]): TapEvent[] {
  const out: TapEvent[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.type === 'output' && last?.type === 'output' && last.stream === e.stream) last.data += e.data;
    else out.push(e.type === 'output' ? { ...e } : e);
  }
  return out;
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

/**
 * Feeds client and server pieces in the order `schedule` picks (true = the next client piece),
 * then what is left, client first. Server pieces wait until `serverAfter` client bytes are in: a
 * server does not answer streams kubectl has not opened. Returns [client bytes, server bytes]
 * fed after each step, so a test can tell which orderings a run went through.
 */
export function interleave(tap: StreamTap, client: Uint8Array[], server: Uint8Array[], schedule: boolean[], serverAfter = 0): Array<[number, number]> {
  const steps: Array<[number, number]> = [];
  let c = 0;
  let s = 0;
  let clientFed = 0;
  let serverFed = 0;
  const feedClient = () => {
    tap.fromClient(client[c]);
    clientFed += client[c++].byteLength;
  };
  const feedServer = () => {
    tap.fromServer(server[s]);
    serverFed += server[s++].byteLength;
  };
  for (let i = 0; c < client.length || s < server.length; i++) {
    const serverMayGo = s < server.length && (clientFed >= serverAfter || c === client.length);
    const wantClient = i < schedule.length ? schedule[i] : true;
    if (c < client.length && (wantClient || !serverMayGo)) feedClient();
    else feedServer();
    steps.push([clientFed, serverFed]);
  }
  return steps;
}

/**
 * Events as the same session recorded however its two directions interleaved: stdin (client) and
 * output (server) are independent streams, so their relative order is not part of the meaning.
 */
export function withStdinApart(events: TapEvent[]): { stdin: TapEvent[]; rest: TapEvent[] } {
  return { stdin: events.filter((e) => e.type === 'input'), rest: mergeOutputs(events.filter((e) => e.type !== 'input')) };
}

/** How one interleaved run feeds a session: cuts, schedule and where each side stops (fast-check). */
export const interleaving = fc.record({
  clientCuts: fc.array(fc.nat(), { maxLength: 12 }),
  serverCuts: fc.array(fc.nat(), { maxLength: 12 }),
  /** true = the next client piece; see interleave(). */
  schedule: fc.array(fc.boolean(), { maxLength: 40 }),
  /** finish() may come with only part of either side in: the cut is usually inside a frame. */
  clientEnd: fc.option(fc.nat(), { nil: undefined }),
  serverEnd: fc.option(fc.nat(), { nil: undefined }),
});
export type Interleaving = typeof interleaving extends fc.Arbitrary<infer T> ? T : never;

export interface InterleavedSession {
  client: Uint8Array;
  server: Uint8Array;
  /** Client bytes the server waits for (the SPDY SYN_STREAMs). */
  serverAfter?: number;
  resizeEnd: number;
  /** Server bytes after which output has arrived. */
  firstOutputEnd: number;
  /** Server offsets at frame ends: finish() elsewhere comes mid-frame. */
  frameEnds: Set<number>;
}

/**
 * Runs a session through a fresh tap interleaved and, as the reference, client bytes whole then
 * server bytes whole; both end with finish(). Asserts the same events (stdin apart) and every byte
 * forwarded unchanged both ways. Counts in `seen` the runs whose output came before the resize and
 * those that ended mid-frame, so a test can show those paths were taken.
 */
export function assertInterleavedLikeWhole<T extends StreamTap>(
  make: () => Harness<T>,
  session: InterleavedSession,
  run: Interleaving,
  seen: { heldBeforeResize: number; endedMidFrame: number },
): void {
  const client = truncated(session.client, run.clientEnd);
  const server = truncated(session.server, run.serverEnd);
  const reference = make();
  reference.tap.fromClient(client);
  reference.tap.fromServer(server);
  reference.tap.finish({ kind: 'closed' });
  const h = make();
  const cuts = (data: Uint8Array, at: number[]) => splitAt(data, at.map((n) => n % (data.byteLength + 1)));
  const steps = interleave(h.tap, cuts(client, run.clientCuts), cuts(server, run.serverCuts), run.schedule, session.serverAfter);
  h.tap.finish({ kind: 'closed' });
  assert.deepEqual(withStdinApart(h.sink.events), withStdinApart(reference.sink.events));
  assert.deepEqual(h.clientBytes(), Buffer.from(server), 'to kubectl: every server byte');
  assert.deepEqual(h.serverBytes(), Buffer.from(client), 'to the server: every client byte');
  assert.deepEqual(reference.clientBytes(), Buffer.from(server));
  if (steps.some(([c, s]) => s >= session.firstOutputEnd && c < session.resizeEnd)) seen.heldBeforeResize++;
  if (run.serverEnd !== undefined && !session.frameEnds.has(server.byteLength)) seen.endedMidFrame++;
}

/** The first `end` bytes (modulo the length), or all of them when `end` is undefined. */
function truncated(data: Uint8Array, end: number | undefined): Uint8Array {
  return end === undefined ? data : data.subarray(0, end % data.byteLength);
}
