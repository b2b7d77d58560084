// The taps: SpdyTap and WsTap fed both directions of a session, valid, mutated or random, in random
// chunkings and orders, under every policy (terminate/passthrough, fail-closed sinks, TTY gate).
// Seeds: the session-level cases of performance-reliability.md §7 and tailscale §7.2/§7.4.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { ExitStatus } from '../src/protocol/channel';
import { SpdyEncoder, SpdyParser, encodeControlFrame, HeaderBlockDeflater } from '../src/protocol/spdy/index';
import { ChannelReader } from '../src/protocol/ws/message';
import { WsFrameParser } from '../src/protocol/ws/parser';
import { encodeBase64ChannelMessage, encodeChannelMessage, encodeClose, encodeFrame, encodePing, encodePong } from '../src/protocol/ws/encoder';
import type { EndReason, OutputStream, TapOptions, TapSink, TapWarning } from '../src/tap/events';
import { SpdyTap } from '../src/tap/spdy-tap';
import { WsTap } from '../src/tap/ws-tap';
import type { StreamTap } from '../src/tap/tap';
import { bits, lazyChunks, type FuzzCase } from './lib/case';
import { mutatedArb, type LengthField } from './lib/mutate';
import { FuzzFinding, bytesEqual, chunkingArb, invariant, optionBits, optionsArb, type FuzzTarget, type NamedSeed } from './lib/target';

const PROTOCOLS: readonly (string | undefined)[] = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
  undefined,
];

/**
 * Option bits: 0 tty, 1 record stdin, 2 passthrough policy, 3–5 protocol, 6 fail-closed sink,
 * 7–9 outputs it accepts first, 10 interleave directions, 11 terminate midway, 12 flood,
 * 13–16 flood size, 17 flood from the client.
 */
const TTY = 1;
const STDIN = 1 << 1;
const PASSTHROUGH = 1 << 2;
const REFUSE = 1 << 6;
const INTERLEAVE = 1 << 10;
const TERMINATE = 1 << 11;
const FLOOD = 1 << 12;

interface TapConfig {
  tty: boolean;
  recordStdin: boolean;
  passthrough: boolean;
  protocol: string | undefined;
  refuseAfter: number | undefined;
  interleave: boolean;
  terminateMidway: boolean;
  flood: { units: number; fromClient: boolean } | undefined;
}

function configOf(options: number): TapConfig {
  return {
    tty: bits(options, 0, 1) === 1,
    recordStdin: bits(options, 1, 1) === 1,
    passthrough: bits(options, 2, 1) === 1,
    protocol: PROTOCOLS[bits(options, 3, 3)],
    refuseAfter: bits(options, 6, 1) ? bits(options, 7, 3) : undefined,
    interleave: bits(options, 10, 1) === 1,
    terminateMidway: bits(options, 11, 1) === 1,
    flood: bits(options, 12, 1) ? { units: (bits(options, 13, 4) + 1) * 4096, fromClient: bits(options, 17, 1) === 1 } : undefined,
  };
}

const text = (s: string) => Uint8Array.from(Buffer.from(s));
const MASK = Uint8Array.from([1, 2, 3, 4]);
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Sessions

interface SessionSpec {
  roles: boolean[]; // error, stdin, stdout, stderr, resize
  resizes: string[];
  stdin: Uint8Array[];
  outputs: Array<{ stderr: boolean; data: Uint8Array }>;
  status: string | null;
  pings: boolean;
  fragment: number | null;
}

const sessionArb: fc.Arbitrary<SessionSpec> = fc.record({
  // stdout is always there (kubectl always asks for it); the others come and go.
  roles: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }).map((r) => r.map((x, i) => x || i === 2)),
  resizes: fc.array(
    fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100 })).map(([w, h]) => `{"Width":${w},"Height":${h}}\n`),
      fc.constantFrom('{"width":10,"height":20}', '{"Width":-1,"Height":5}\n', 'null\n', '{', '{"Width":80,"Height":24}{"Width":81,"Height":25}'),
    ),
    { maxLength: 3 },
  ),
  stdin: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 3 }),
  outputs: fc.array(fc.record({ stderr: fc.boolean(), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 4 }),
  status: fc.option(
    fc.constantFrom(
      '{"metadata":{},"status":"Success"}',
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
      '{"status": nope',
      '',
      'exit status 1',
    ),
  ),
  pings: fc.boolean(),
  fragment: fc.option(fc.integer({ min: 1, max: 6 }), { freq: 3 }),
});

const SPDY_IDS = { error: 1, stdin: 3, stdout: 5, stderr: 7, resize: 9 } as const;
const ROLE_NAMES = ['error', 'stdin', 'stdout', 'stderr', 'resize'] as const;

function spdySession(spec: SessionSpec): [Uint8Array, Uint8Array] {
  const kubectl = new SpdyEncoder();
  const server = new SpdyEncoder();
  const roles = ROLE_NAMES.filter((_, i) => spec.roles[i]);
  const client: Uint8Array[] = roles.map((role) => kubectl.synStream({ streamId: SPDY_IDS[role], headers: { streamtype: role } }));
  for (const resize of spec.resizes) client.push(kubectl.data(SPDY_IDS.resize, text(resize)));
  for (const data of spec.stdin) client.push(kubectl.data(SPDY_IDS.stdin, data));
  if (spec.pings) client.push(kubectl.ping(1));
  const out: Uint8Array[] = roles.map((role) => server.synReply(SPDY_IDS[role], {}));
  for (const { stderr, data } of spec.outputs) out.push(server.data(stderr ? SPDY_IDS.stderr : SPDY_IDS.stdout, data));
  if (spec.pings) out.push(server.ping(2));
  if (spec.status !== null) out.push(server.data(SPDY_IDS.error, text(spec.status), true));
  out.push(server.goaway(SPDY_IDS.resize));
  return [Uint8Array.from(Buffer.concat(client)), Uint8Array.from(Buffer.concat(out))];
}

function wsSession(spec: SessionSpec, base64: boolean): [Uint8Array, Uint8Array] {
  const message = (channel: number, data: Uint8Array, mask?: Uint8Array) => {
    const options = { mask, fragmentSize: spec.fragment ?? undefined };
    return base64 ? encodeBase64ChannelMessage(channel, data, options) : encodeChannelMessage(channel, data, options);
  };
  const client: Uint8Array[] = [];
  for (const resize of spec.resizes) client.push(message(4, text(resize), MASK));
  for (const data of spec.stdin) client.push(message(0, data, MASK));
  if (spec.pings) client.push(encodePing(new Uint8Array(0), { mask: MASK }));
  // v5's half-close [255, 0] exists only on the binary protocols.
  if (!base64) client.push(message(255, Uint8Array.of(0), MASK));
  client.push(encodeClose(1000, '', { mask: MASK }));
  const out: Uint8Array[] = [message(1, new Uint8Array(0))];
  for (const { stderr, data } of spec.outputs) out.push(message(stderr ? 2 : 1, data));
  if (spec.pings) out.push(encodePong(new Uint8Array(0)));
  if (spec.status !== null) out.push(message(3, text(spec.status)));
  out.push(encodeClose(1000));
  return [Uint8Array.from(Buffer.concat(client)), Uint8Array.from(Buffer.concat(out))];
}

function spdyFields(bytes: Uint8Array): LengthField[] {
  const fields: LengthField[] = [];
  for (let offset = 0; offset + 8 <= bytes.length && fields.length < 128; ) {
    fields.push({ offset: offset + 5, size: 3 }, { offset, size: 4 });
    offset += 8 + ((bytes[offset + 5] << 16) | (bytes[offset + 6] << 8) | bytes[offset + 7]);
  }
  return fields;
}

function wsFields(bytes: Uint8Array): LengthField[] {
  const fields: LengthField[] = [];
  for (let offset = 0; offset + 2 <= bytes.length && fields.length < 128; ) {
    const length7 = bytes[offset + 1] & 0x7f;
    fields.push({ offset: offset + 1, size: 1, mask: 0x7f });
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const length = extended === 2 && offset + 4 <= bytes.length ? (bytes[offset + 2] << 8) | bytes[offset + 3] : extended === 8 ? 0 : length7;
    offset += 2 + extended + (bytes[offset + 1] & 0x80 ? 4 : 0) + length;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Sinks

/** Keeps what the invariants need: counts, sizes and order facts, not every event (floods send millions). */
class FuzzSink implements TapSink {
  ends: EndReason[] = [];
  afterEnd: string[] = [];
  outputs = 0;
  refusals = 0;
  outputBytes = 0;
  inputBytes = 0;
  inputs = 0;
  exits: Array<{ code: number; status: ExitStatus }> = [];
  resizes = 0;
  warnings = 0;
  lastWarning: TapWarning | undefined;
  problems: string[] = [];

  constructor(private readonly refuseAfter: number | undefined) {}

  private note(kind: string): void {
    if (this.ends.length > 0) this.afterEnd.push(kind);
  }

  output(_stream: OutputStream, data: Uint8Array): boolean {
    this.note('output');
    if (data.byteLength === 0) this.problems.push('an empty output event');
    if (this.refuseAfter !== undefined && this.outputs >= this.refuseAfter) {
      this.refusals++;
      return false;
    }
    this.outputs++;
    this.outputBytes += data.byteLength;
    return true;
  }
  resize(cols: number, rows: number): void {
    this.note('resize');
    this.resizes++;
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 10000 || rows > 10000) this.problems.push(`resize ${cols}x${rows}`);
  }
  input(data: Uint8Array): void {
    this.note('input');
    this.inputs++;
    this.inputBytes += data.byteLength;
  }
  exit(code: number, status: ExitStatus): void {
    this.note('exit');
    this.exits.push({ code, status });
  }
  end(reason: EndReason): void {
    this.note('end');
    this.ends.push(reason);
  }
  warning(warning: TapWarning): void {
    this.note('warning');
    this.warnings++;
    this.lastWarning = warning;
  }
}

/**
 * What a tap forwarded in one direction, checked as it comes: the longest prefix equal to the
 * input, then anything else (termination frames, or a bug). Nothing is copied while it matches,
 * so a flood's retained memory is the tap's, not the harness's.
 */
class Relayed {
  matched = 0;
  private extra: Buffer[] = [];
  extraBytes = 0;

  constructor(private readonly expected: Uint8Array) {}

  take(data: Uint8Array): void {
    if (this.extraBytes === 0 && this.matched + data.byteLength <= this.expected.length && bytesEqual(data, this.expected.subarray(this.matched, this.matched + data.byteLength))) {
      this.matched += data.byteLength;
      return;
    }
    this.extra.push(Buffer.from(data));
    this.extraBytes += data.byteLength;
  }

  all(): Buffer {
    return Buffer.concat([this.expected.subarray(0, this.matched), ...this.extra]);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * The JS heap after full collections: where per-frame state lives (objects, small typed arrays and
 * their views). External array-buffer memory is left out: it is released by a background sweeper
 * after a collection, so a large chunk just dropped would count as noise.
 */
function retained(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** A session's state may hold a partial frame, a resize and a Status, not something per frame. */
const FLOOD_RETAINED_LIMIT = 4 * MiB;

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

// ---------------------------------------------------------------------------------------------
// Check

type Kind = 'spdy' | 'ws';

function repeatUnit(prefix: Uint8Array, unit: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(prefix.length + unit.length * count);
  out.set(prefix, 0);
  for (let i = 0; i < count; i++) out.set(unit, prefix.length + i * unit.length);
  return out;
}

function call(what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw new FuzzFinding(`${what} threw: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
}

function checkTap(kind: Kind, fuzzCase: FuzzCase): void {
  const config = configOf(fuzzCase.options);
  let client = fuzzCase.parts[0] ?? new Uint8Array(0);
  let server = fuzzCase.parts[1] ?? new Uint8Array(0);
  const unit = fuzzCase.parts[2] ?? new Uint8Array(0);
  if (config.flood && unit.length > 0) {
    if (config.flood.fromClient) client = repeatUnit(client, unit, config.flood.units);
    else server = repeatUnit(server, unit, config.flood.units);
  }
  const measureMemory = config.flood !== undefined && unit.length > 0 && !config.tty && config.refuseAfter === undefined && !config.terminateMidway;

  const toClient = new Relayed(server);
  const toServer = new Relayed(client);
  const sink = new FuzzSink(config.refuseAfter);
  const timersBefore = activeTimers();
  const baseline = measureMemory ? retained() : 0;
  const options: TapOptions = {
    sink,
    toClient: (data) => toClient.take(data),
    toServer: (data) => toServer.take(data),
    tty: config.tty,
    recordStdin: config.recordStdin,
    protocol: config.protocol,
    // Long enough never to fire within a case: the gate is released by a resize or by finish().
    firstResizeTimeoutMs: 60_000,
    onProtocolError: () => (config.passthrough ? 'passthrough' : 'terminate'),
  };
  const tap: StreamTap = kind === 'spdy' ? new SpdyTap(options) : new WsTap(options);

  const clientChunks = lazyChunks(client, fuzzCase.chunking, 1);
  const serverChunks = lazyChunks(server, fuzzCase.chunking, 2);
  const total = client.length + server.length;
  let fed = 0;
  // Whether the tap had switched to unrecorded relaying before it ended (then it forwards raw chunks).
  let wasPassthroughBeforeEnd = false;
  const observe = () => {
    if (!tap.ended) wasPassthroughBeforeEnd = tap.passthrough;
  };
  const feed = (chunk: Uint8Array, fromClient: boolean) => {
    call(fromClient ? 'fromClient' : 'fromServer', () => (fromClient ? tap.fromClient(chunk) : tap.fromServer(chunk)));
    fed += chunk.byteLength;
    observe();
    // Terminate once about half the bytes are in: the middle of a session, wherever that falls.
    if (config.terminateMidway && !tap.ended && fed >= total / 2) call('terminate', () => tap.terminate('kubecast: fuzz: recording failed'));
  };
  // In its own function: once it returns, no stack slot of it still holds the last chunk when the
  // flood's retained memory is measured.
  const drive = () => {
    if (config.interleave) {
      for (;;) {
        const c = clientChunks.next();
        const s = serverChunks.next();
        if (c.done && s.done) break;
        if (!c.done) feed(c.value, true);
        if (!s.done) feed(s.value, false);
      }
    } else {
      for (const chunk of clientChunks) feed(chunk, true);
      for (const chunk of serverChunks) feed(chunk, false);
    }
  };
  drive();

  if (measureMemory) {
    const grown = retained() - baseline;
    invariant(grown < FLOOD_RETAINED_LIMIT, () => `a flood of ${config.flood?.units} frames left ${(grown / MiB).toFixed(1)} MiB retained by the tap (limit ${FLOOD_RETAINED_LIMIT / MiB} MiB)`);
  }
  call('finish', () => tap.finish({ kind: 'closed' }));
  call('finish (again)', () => tap.finish({ kind: 'closed' }));

  // The session ends exactly once, and nothing is reported after the end.
  invariant(sink.ends.length === 1, () => `end reported ${sink.ends.length} times`);
  invariant(sink.afterEnd.length === 0, () => `${sink.afterEnd.join(', ')} reported after the end`);
  invariant(sink.problems.length === 0, () => sink.problems.join('; '));
  invariant(sink.exits.length <= 1, 'exit reported more than once');
  for (const { code } of sink.exits) invariant(Number.isInteger(code) && code >= 0 && code <= 255, `exit code ${code}`);
  invariant(sink.outputBytes <= server.length, 'more output recorded than the server sent');
  invariant(sink.inputBytes <= client.length && (config.recordStdin || sink.inputs === 0), 'stdin recorded beyond what kubectl sent, or without being asked');
  invariant(activeTimers() <= timersBefore, 'the tap left a timer running after finish');

  // Client bytes go to the server unchanged, as they came, until the session ended.
  invariant(toServer.extraBytes === 0, 'bytes to the server are not the client bytes');
  const end = sink.ends[0];
  // Cut short: by terminate(), or by a malformed stream (which names its code).
  const cut = end.kind === 'terminated' || end.kind === 'protocol-error';
  invariant(end.kind !== 'protocol-error' || typeof end.code === 'string', 'a protocol-error end without a code');
  if (!cut) invariant(toServer.matched === client.length, 'client bytes were held back');

  // Server bytes go to the client in order; all of them unless the session was cut or the sink refused.
  const refused = sink.refusals > 0;
  if (!cut) {
    invariant(toClient.extraBytes === 0, 'bytes to the client are not the server bytes');
    if (!refused) invariant(toClient.matched === server.length, () => `${server.length - toClient.matched} server bytes never reached the client`);
    return;
  }
  invariant(toClient.extraBytes <= client.length + 4096, 'termination wrote more than a message');
  const downstream = toClient.all();
  if (wasPassthroughBeforeEnd) return;
  // Cut from the open state: whole frames were forwarded, then the termination frames. kubectl must
  // be able to read all of it, or it never sees why the session ended.
  if (kind === 'spdy') {
    const parser = new SpdyParser();
    try {
      parser.push(downstream);
    } catch (error) {
      throw new FuzzFinding(`after termination kubectl reads a broken SPDY stream: ${String(error)}`);
    }
    invariant(parser.buffered === 0, 'after termination kubectl is left with a partial SPDY frame');
  } else {
    const base64 = (config.protocol ?? '').includes('base64');
    const parser = new WsFrameParser({ direction: 'server-to-client' });
    const reader = new ChannelReader({ encoding: base64 ? 'base64' : 'binary' });
    try {
      for (const frame of parser.push(downstream)) reader.push(frame);
    } catch (error) {
      throw new FuzzFinding(`after termination kubectl reads a broken WebSocket stream: ${error instanceof Error ? error.message : String(error)}`);
    }
    invariant(parser.buffered === 0, 'after termination kubectl is left with a partial WebSocket frame');
  }
}

// ---------------------------------------------------------------------------------------------
// Generators and seeds

let spdyCorpusCache: { client: Uint8Array[]; server: Uint8Array[] } | undefined;
let wsCorpusCache: { client: Uint8Array[]; server: Uint8Array[] } | undefined;

function corpusOf(kind: Kind): { client: Uint8Array[]; server: Uint8Array[] } {
  const cached = kind === 'spdy' ? spdyCorpusCache : wsCorpusCache;
  if (cached) return cached;
  const client: Uint8Array[] = [];
  const server: Uint8Array[] = [];
  fc.sample(sessionArb, { seed: kind === 'spdy' ? 91 : 92, numRuns: 40 }).forEach((spec, i) => {
    const [c, s] = kind === 'spdy' ? spdySession(spec) : wsSession(spec, i % 5 === 0);
    client.push(c);
    server.push(s);
  });
  const corpus = { client, server };
  if (kind === 'spdy') spdyCorpusCache = corpus;
  else wsCorpusCache = corpus;
  return corpus;
}

/** Complete frames to repeat in a flood: per-frame state in a tap shows up as retained memory. */
function floodUnits(kind: Kind, fromClient: boolean): Uint8Array[] {
  if (kind === 'spdy') {
    const e = new SpdyEncoder();
    return fromClient
      ? [e.data(9, text('{"Width":80,"Height":24}\n')), e.data(3, text('x')), e.ping(1), encodeControlFrame(1, 0, new Uint8Array(10)), e.data(9, new Uint8Array(0))]
      : [e.data(1, new Uint8Array(0)), e.data(1, text('x')), e.data(5, text('x')), e.data(11, new Uint8Array(0)), e.ping(2), encodeControlFrame(12, 0, new Uint8Array(0)), encodeControlFrame(2, 0, Uint8Array.of(0, 0, 0, 5)), e.windowUpdate(5, 1)];
  }
  return fromClient
    ? [encodeChannelMessage(4, text('{"Width":80,"Height":24}\n'), { mask: MASK }), encodeChannelMessage(0, text('x'), { mask: MASK }), encodePing(new Uint8Array(0), { mask: MASK }), encodeFrame({ opcode: 0x1, payload: text('x'), mask: MASK })]
    : [Uint8Array.of(0x82, 0x00), Uint8Array.of(0x82, 0x01, 0x01), Uint8Array.of(0x82, 0x02, 0x03, 0x7b), Uint8Array.of(0x82, 0x02, 0x01, 0x41), encodePing(new Uint8Array(0)), Uint8Array.of(0x83, 0x00), Uint8Array.of(0x81, 0x01, 0x41)];
}

function tapCaseArb(kind: Kind): fc.Arbitrary<FuzzCase> {
  const corpus = () => corpusOf(kind);
  const lengthFields = kind === 'spdy' ? spdyFields : wsFields;
  const side = (which: 'client' | 'server') =>
    fc.oneof(
      { weight: 4, arbitrary: fc.nat().map((i) => corpus()[which][i % corpus()[which].length]) },
      { weight: 5, arbitrary: mutatedArb(() => corpus()[which], { lengthFields, maxLength: 64 * 1024 }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    );
  const baseOptions = optionsArb(
    optionBits(0, 1),
    optionBits(1, 1),
    optionBits(2, 1),
    optionBits(3, 3, kind === 'spdy' ? fc.nat({ max: 4 }) : fc.nat({ max: 7 })),
    optionBits(6, 1, fc.nat({ max: 4 }).map((n) => (n === 0 ? 1 : 0))),
    optionBits(7, 3),
    optionBits(10, 1),
    optionBits(11, 1, fc.nat({ max: 5 }).map((n) => (n === 0 ? 1 : 0))),
  );
  const normal = fc.record({ options: baseOptions, chunking: chunkingArb, parts: fc.tuple(side('client'), side('server')) });
  // A valid session, then one complete frame repeated thousands of times, gate open, sink accepting.
  const flood = fc
    .record({
      session: fc.nat(),
      fromClient: fc.boolean(),
      unit: fc.nat(),
      size: fc.nat({ max: 15 }),
      protocol: kind === 'spdy' ? fc.nat({ max: 4 }) : fc.nat({ max: 4 }),
      stdin: fc.boolean(),
      chunking: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 0xffffffff }).filter((n) => n % 5 >= 2)),
    })
    .map(({ session, fromClient, unit, size, protocol, stdin, chunking }): FuzzCase => {
      const { client, server } = corpus();
      const units = floodUnits(kind, fromClient);
      return {
        options: (stdin ? STDIN : 0) + protocol * 8 + FLOOD + size * 2 ** 13 + (fromClient ? 2 ** 17 : 0),
        chunking,
        parts: [client[session % client.length], server[session % server.length], units[unit % units.length]],
      };
    });
  // A flood costs as much as a few hundred normal cases (two full garbage collections included).
  return fc.oneof({ weight: 200, arbitrary: normal }, { weight: 1, arbitrary: flood });
}

function tapSeeds(kind: Kind): NamedSeed[] {
  const seed = (name: string, client: Uint8Array, server: Uint8Array, options = 0, chunking = 0): NamedSeed => ({
    name,
    fuzzCase: { options, chunking, parts: [client, server] },
  });
  const { client, server } = corpusOf(kind);
  const tls = Uint8Array.from(Buffer.from('160301020001000001fc0303', 'hex'));
  const http = text('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const seeds: NamedSeed[] = [
    seed('a valid session', client[0], server[0], TTY),
    seed('a valid session, byte by byte, interleaved', client[1], server[1], TTY | INTERLEAVE, 1),
    seed('TLS bytes from the server', client[0], tls),
    seed('HTTP/1.1 200 OK from the server', client[0], http),
    seed('TLS bytes from the client, passthrough', tls, server[0], PASSTHROUGH),
    seed('fail-closed sink refusing the first output', client[2], server[2], REFUSE),
    seed('terminated midway', client[3], server[3], TTY | TERMINATE, 7),
  ];
  if (kind === 'spdy') {
    const kubectl = new SpdyEncoder();
    const compressedBomb = new HeaderBlockDeflater().deflate(Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0x10, 0, 0]), Buffer.alloc(1024 * 1024)]));
    const bomb = encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), compressedBomb]));
    const pairs = encodeControlFrame(1, 0, Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), new HeaderBlockDeflater().deflate(Uint8Array.of(0xff, 0xff, 0xff, 0xff))]));
    const resizeRole = kubectl.synStream({ streamId: 9, headers: { streamtype: 'resize' } });
    seeds.push(
      seed('zlib bomb in a SYN_STREAM', bomb, server[0]),
      seed('header pair count 0xFFFFFFFF', pairs, server[0]),
      seed('SYN_STREAM types other than stdout/stderr/resize', Buffer.concat([kubectl.synStream({ streamId: 1, headers: { streamtype: 'data' } }), kubectl.data(1, text('x'))]), server[0]),
      seed('malformed resize JSON, each kind', Buffer.concat([resizeRole, ...['""', '{', 'null', '[0,0]', '{"Width":"a"}', '{"Width":-1,"Height":1}', '{"Width":9223372036854775808}', '{"Wid'].map((r) => kubectl.data(9, text(r)))]), server[0], TTY),
      seed('oversized resize JSON', Buffer.concat([resizeRole, kubectl.data(9, text(`{"Width":80,"Height":24,"x":"${'y'.repeat(70_000)}"}`))]), server[0], TTY),
      seed('stream 259 is not resize 3', Buffer.concat([kubectl.synStream({ streamId: 3, headers: { streamtype: 'resize' } }), kubectl.data(259, text('{"Width":1,"Height":1}'))]), server[0], TTY),
      seed('X bit set in a SYN_STREAM id', (() => {
        const f = Uint8Array.from(kubectl.synStream({ streamId: 11, headers: { streamtype: 'stdout' } }));
        f[8] |= 0x80;
        return f;
      })(), server[0]),
      seed('garbage Status JSON on the error stream', client[0], Buffer.concat([new SpdyEncoder().synReply(1, {}), new SpdyEncoder().data(1, text('{"status": nope'), true)])),
      seed('invalid UTF-8 and \\r"\\\\ in stdout', client[0], Buffer.concat([new SpdyEncoder().synReply(5, {}), new SpdyEncoder().data(5, Uint8Array.of(0xff, 0xfe, 0x0d, 0x22, 0x5c))])),
    );
  } else {
    seeds.push(
      seed('WebSocket 64-bit length with the top bit set', client[0], Uint8Array.of(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1)),
      seed('oversized resize JSON, garbage Status JSON', encodeChannelMessage(4, text(`{"Width":80,"Height":24,"x":"${'y'.repeat(70_000)}"}`), { mask: MASK }), encodeChannelMessage(3, text('{"status": nope')), TTY),
      seed('text frames and reserved opcodes', client[0], Buffer.concat([encodeFrame({ opcode: 0x1, payload: text('1hi') }), encodeFrame({ opcode: 0x3, payload: text('x') }), encodeFrame({ opcode: 0xb, payload: text('y') })])),
      seed('zero-length messages first', client[0], Buffer.concat([Uint8Array.of(0x82, 0x00, 0x82, 0x00), server[0]])),
      seed('base64 subprotocol session', client[0], server[0], 5 * 8),
      seed('a fragmented message open when the session is cut', client[0], encodeFrame({ fin: false, opcode: 2, payload: text('\x01abc') }), TERMINATE),
    );
  }
  seeds.push(
    {
      name: 'flood: empty frames on the error stream',
      fuzzCase: { options: FLOOD + 15 * 2 ** 13, chunking: 0, parts: [client[0], server[0], floodUnits(kind, false)[0]] },
    },
    {
      // Found by the fuzzer: one view kept per error-stream frame pinned each socket chunk.
      name: 'flood: 1-byte frames on the error stream, one small chunk each',
      fuzzCase: { options: FLOOD + 15 * 2 ** 13, chunking: 2, parts: [client[0], server[0], floodUnits(kind, false)[kind === 'spdy' ? 1 : 2]] },
    },
  );
  return seeds;
}

export const tapTargets: FuzzTarget[] = (['spdy', 'ws'] as const).map((kind) => ({
  name: `${kind}-tap`,
  about: `${kind === 'spdy' ? 'SpdyTap' : 'WsTap'} with both directions valid/mutated/random, chunked and interleaved, every policy: never throws, bytes relayed in order, one end, bounded per-session memory, no leaked timer, a readable termination`,
  arbitrary: () => tapCaseArb(kind),
  seeds: () => tapSeeds(kind),
  check: (fuzzCase: FuzzCase) => checkTap(kind, fuzzCase),
  quickRuns: 300,
  caseTimeMs: 5000,
}));
