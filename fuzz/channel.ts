// Kubernetes channel payloads: resize messages (one object, and the stream splitter) and the Status
// on the error stream. Seeds: performance-reliability.md §7 ("resize", "garbage Status JSON") and the
// malformed resize JSON of tailscale-sessionrecording.md §7.3.
import fc from 'fast-check';
import {
  MAX_RESIZE_MESSAGE,
  MAX_TERMINAL_DIMENSION,
  ResizeStreamDecoder,
  encodeResize,
  exitCodeOf,
  exitCodeStatus,
  failureStatus,
  httpStatus,
  internalErrorStatus,
  parseErrorStream,
  parseResize,
  successStatus,
  type TerminalSize,
} from '../src/protocol/channel';
import { ChannelError } from '../src/protocol/errors';
import { bits, chunksOf, type FuzzCase } from './lib/case';
import { mutatedArb } from './lib/mutate';
import { chunkingArb, invariant, optionBits, optionsArb, typedOnly, type FuzzTarget, type NamedSeed } from './lib/target';

const MODE_RESIZE_BYTES = 0;
const MODE_RESIZE_STRING = 1;
const MODE_RESIZE_STREAM = 2;
const MODE_STATUS = 3;

const utf8 = (s: string) => Uint8Array.from(Buffer.from(s));

function versionOf(options: number): number {
  return (bits(options, 2, 3) % 5) + 1;
}

// ---------------------------------------------------------------------------------------------
// Seeds

function channelSeeds(): NamedSeed[] {
  const resize = (name: string, body: string | Uint8Array, mode = MODE_RESIZE_BYTES, chunking = 0): NamedSeed => ({
    name: `resize: ${name}`,
    fuzzCase: { options: mode, chunking, parts: [typeof body === 'string' ? utf8(body) : body] },
  });
  const status = (name: string, body: string | Uint8Array, version = 4): NamedSeed => ({
    name: `status v${version}: ${name}`,
    fuzzCase: { options: MODE_STATUS | ((version - 1) << 2), chunking: 0, parts: [typeof body === 'string' ? utf8(body) : body] },
  });
  const big = `{"Width":80,"Height":24,"x":"${'y'.repeat(70_000)}"}`;
  return [
    resize('""', '""'),
    resize('{', '{'),
    resize('null', 'null'),
    resize('[0,0]', '[0,0]'),
    resize('wrong types', '{"Width":"80","Height":true}'),
    resize('-1', '{"Width":-1,"Height":24}'),
    resize('2^63', '{"Width":9223372036854775808,"Height":24}'),
    resize('cut mid-object', '{"Width":80,"Hei'),
    resize('kubectl form with newline', '{"Width":80,"Height":24}\n'),
    resize('lowercase keys (the peer)', '{"width":10,"height":20}'),
    resize('0x0', '{"Width":0,"Height":0}'),
    resize('10001 columns', '{"Width":10001,"Height":24}'),
    resize('fractional', '{"Width":80.5,"Height":24}'),
    resize('duplicate keys, last wins', '{"Width":1,"width":80,"Height":24}'),
    resize('__proto__ key', '{"__proto__":{"Width":80},"Height":24}'),
    resize('invalid UTF-8', Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])),
    resize('oversized resize JSON (70 KB)', big),
    resize('oversized resize JSON as a string', big, MODE_RESIZE_STRING),
    resize('two objects in one frame', '{"Width":80,"Height":24}\n{"Width":100,"Height":30}\n', MODE_RESIZE_STREAM),
    resize('objects split across frames', '{"Width":80,"Height":24}\n{"Width":100,"Height":30}\n', MODE_RESIZE_STREAM, 1),
    resize('braces and quotes inside strings', '{"x":"}{\\"","Width":80,"Height":24}{"Width":2,"Height":2}', MODE_RESIZE_STREAM, 2),
    resize('stray scalars between objects', 'null 1 "x" {"Width":80,"Height":24} true', MODE_RESIZE_STREAM),
    resize('oversized stream message', big, MODE_RESIZE_STREAM, 7),
    // Found by the fuzzer: the decoder rescanned all pending text on every push (quadratic).
    resize('unterminated object growing byte by byte', `{"Width":80,"Height":24,"x":"${'a'.repeat(60_000)}`, MODE_RESIZE_STREAM, 1),
    resize('an unterminated scalar growing byte by byte', 'a'.repeat(60_000), MODE_RESIZE_STREAM, 1),
    resize('an escape split across frames', '{"x":"\\"}","Width":80,"Height":24}', MODE_RESIZE_STREAM, 1),
    status('garbage Status JSON', '{"status": nope'),
    status('Success', JSON.stringify(successStatus())),
    status('exit code 42', JSON.stringify(exitCodeStatus(42))),
    status('ExitCode 256', JSON.stringify({ ...exitCodeStatus(1), details: { causes: [{ reason: 'ExitCode', message: '256' }] } })),
    status('ExitCode -1', JSON.stringify({ ...exitCodeStatus(1), details: { causes: [{ reason: 'ExitCode', message: '-1' }] } })),
    status('NonZeroExitCode without causes', '{"metadata":{},"status":"Failure","reason":"NonZeroExitCode"}'),
    status('causes not an array', '{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":"x"}}'),
    status('causes with null entries', '{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[null,1,"x"]}}'),
    status('internal error', JSON.stringify(internalErrorStatus('boom'))),
    status('HTTP status', JSON.stringify(httpStatus(403, 'Forbidden', 'no'))),
    status('unknown status value', '{"status":"Weird"}'),
    status('null', 'null'),
    status('an array', '[]'),
    status('empty (success)', ''),
    status('whitespace (success)', ' \n\t'),
    status('too large (70 KB)', JSON.stringify(failureStatus('x'.repeat(70_000)))),
    status('invalid UTF-8', Uint8Array.from([0xff, 0xfe, 0x22])),
    status('plain text on v1', 'error: command not found', 1),
    status('plain text on v3', 'exit status 3', 3),
    status('a Status on v2', JSON.stringify(exitCodeStatus(2)), 2),
  ];
}

// ---------------------------------------------------------------------------------------------
// Generators

const dimensionArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 500 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(0, -1, 10000, 10001, 65535, 65536, 2 ** 31, 2 ** 53, 2 ** 63, 1.5, -0, 1e308, '80', null, true, [], {}) },
);

const resizeObjectArb = fc
  .array(fc.tuple(fc.constantFrom('Width', 'Height', 'width', 'height', 'WIDTH', 'hEiGhT', 'x', '__proto__'), dimensionArb), { maxLength: 4 })
  .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`);

const resizeTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: resizeObjectArb },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const resizeStreamArb = fc
  .array(fc.tuple(resizeTextArb, fc.constantFrom('', '\n', ' ', '\r\n', '\t')), { minLength: 1, maxLength: 5 })
  .map((items) => items.map(([value, gap]) => value + gap).join(''));

/** A huge message that never completes, or one that completes after a long value: the shapes that cost quadratic work. */
const longResizeArb = fc
  .record({
    prefix: fc.constantFrom('{"Width":80,"Height":24,"x":"', '', '{', '[', '{"a":[', '"'),
    unit: fc.constantFrom('a', ' ', '{', '"', '\\', 'é', '[]'),
    length: fc.integer({ min: 8 * 1024, max: 80 * 1024 }),
    suffix: fc.constantFrom('', '"}', '}', '\n'),
  })
  .map(({ prefix, unit, length, suffix }) => prefix + unit.repeat(Math.ceil(length / unit.length)) + suffix);

const statusObjectArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(successStatus()),
  fc.integer({ min: -2, max: 300 }).map((code) => exitCodeStatus(code)),
  fc.string({ maxLength: 20 }).map((m) => failureStatus(m)),
  fc.string({ maxLength: 20 }).map((m) => internalErrorStatus(m)),
  fc.record({
    metadata: fc.constant({}),
    status: fc.constantFrom('Success', 'Failure', 'failure', '', 1),
    message: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(null)),
    reason: fc.constantFrom('NonZeroExitCode', 'InternalError', undefined, 7),
    details: fc.oneof(
      fc.constant(undefined),
      fc.record({ causes: fc.array(fc.record({ reason: fc.constantFrom('ExitCode', 'Other', undefined), message: fc.constantFrom('0', '1', '255', '256', '-1', '007', ' 1', 'x', '') }), { maxLength: 3 }) }),
      fc.json().map((j) => JSON.parse(j) as unknown),
    ),
    code: fc.oneof(fc.integer(), fc.constant('500')),
  }),
  fc.json().map((j) => JSON.parse(j) as unknown),
);

let statusCorpusCache: Uint8Array[] | undefined;
function statusCorpus(): Uint8Array[] {
  statusCorpusCache ??= [
    ...fc.sample(statusObjectArb, { seed: 77, numRuns: 40 }).map((value) => utf8(JSON.stringify(value) ?? 'null')),
    ...channelSeeds().filter((s) => bits(s.fuzzCase.options, 0, 2) === MODE_STATUS && s.fuzzCase.parts[0].length < 4096).map((s) => s.fuzzCase.parts[0]),
  ];
  return statusCorpusCache;
}

let resizeCorpusCache: Uint8Array[] | undefined;
function resizeCorpus(): Uint8Array[] {
  resizeCorpusCache ??= [
    ...fc.sample(resizeStreamArb, { seed: 78, numRuns: 40 }).map(utf8),
    ...channelSeeds().filter((s) => bits(s.fuzzCase.options, 0, 2) !== MODE_STATUS && s.fuzzCase.parts[0].length < 4096).map((s) => s.fuzzCase.parts[0]),
  ];
  return resizeCorpusCache;
}

// Weights: a long trickled message costs as much as a thousand small cases; it comes 1 time in 100.
const channelCaseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  {
    weight: 60,
    arbitrary: fc.record({
      options: optionsArb(optionBits(0, 2, fc.nat({ max: 2 })), optionBits(2, 3)),
      chunking: chunkingArb,
      parts: fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: resizeStreamArb.map(utf8) },
          { weight: 3, arbitrary: mutatedArb(resizeCorpus, { maxLength: 128 * 1024 }) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
        ),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      options: fc.constant(MODE_RESIZE_STREAM),
      chunking: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 0xffffffff }).map((n) => n - (n % 5))),
      parts: fc.tuple(longResizeArb.map(utf8)),
    }),
  },
  {
    weight: 40,
    arbitrary: fc.record({
      options: optionsArb(optionBits(0, 2, fc.constant(MODE_STATUS)), optionBits(2, 3)),
      chunking: fc.constant(0),
      parts: fc.tuple(
        fc.oneof(
          { weight: 3, arbitrary: statusObjectArb.map((value) => utf8(JSON.stringify(value) ?? 'null')) },
          { weight: 3, arbitrary: mutatedArb(statusCorpus, { maxLength: 128 * 1024 }) },
          { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map(utf8) },
        ),
      ),
    }),
  },
);

// ---------------------------------------------------------------------------------------------
// Check

function checkSize(size: TerminalSize, what: string): void {
  for (const value of [size.cols, size.rows]) {
    invariant(Number.isInteger(value) && value >= 1 && value <= MAX_TERMINAL_DIMENSION, () => `${what} accepted dimension ${value}`);
  }
  // What kubectl would send for this size reads back as the same size.
  const again = parseResize(encodeResize(size));
  invariant(again.cols === size.cols && again.rows === size.rows, `${what}: encodeResize does not read back`);
}

function resultKey(result: TerminalSize | ChannelError): string {
  return result instanceof ChannelError ? result.code : `${result.cols}x${result.rows}`;
}

function checkChannel(fuzzCase: FuzzCase): void {
  const bytes = fuzzCase.parts[0] ?? new Uint8Array(0);
  const mode = bits(fuzzCase.options, 0, 2);
  if (mode === MODE_RESIZE_BYTES || mode === MODE_RESIZE_STRING) {
    const textInput = new TextDecoder().decode(bytes);
    const result = typedOnly('parseResize', [ChannelError], () => parseResize(mode === MODE_RESIZE_BYTES ? bytes : textInput));
    if (result.value) checkSize(result.value, 'parseResize');
    // Bytes and their text give the same answer whenever both are under the size cap.
    if (bytes.length <= MAX_RESIZE_MESSAGE && textInput.length <= MAX_RESIZE_MESSAGE) {
      const other = typedOnly('parseResize', [ChannelError], () => parseResize(mode === MODE_RESIZE_BYTES ? textInput : bytes));
      const a = result.value ? resultKey(result.value) : (result.error as ChannelError).code;
      const b = other.value ? resultKey(other.value) : (other.error as ChannelError).code;
      invariant(a === b, () => `parseResize of bytes and of text differ: ${a} vs ${b}`);
    }
    return;
  }
  if (mode === MODE_RESIZE_STREAM) {
    const run = (chunks: Uint8Array[]) => {
      const decoder = new ResizeStreamDecoder();
      const results: string[] = [];
      for (const chunk of chunks) {
        const pushed = typedOnly('ResizeStreamDecoder.push', [], () => decoder.push(chunk));
        for (const item of pushed.value ?? []) {
          invariant(item instanceof ChannelError || typeof item.cols === 'number', 'decoder returned neither a size nor a ChannelError');
          if (!(item instanceof ChannelError)) checkSize(item, 'ResizeStreamDecoder');
          results.push(resultKey(item));
        }
      }
      return results;
    };
    const chunked = run(chunksOf(bytes, fuzzCase.chunking));
    // Below the pending-bytes cap, where the messages are cut does not matter.
    if (bytes.length <= MAX_RESIZE_MESSAGE) {
      const whole = run(chunksOf(bytes, 0));
      invariant(JSON.stringify(whole) === JSON.stringify(chunked), () => `whole ${JSON.stringify(whole).slice(0, 200)} vs chunked ${JSON.stringify(chunked).slice(0, 200)}`);
    }
    return;
  }
  const version = versionOf(fuzzCase.options);
  const result = typedOnly('parseErrorStream', [ChannelError], () => parseErrorStream(bytes, version));
  if (result.error) {
    if (version < 4) invariant((result.error as ChannelError).code === 'STATUS_TOO_LARGE', 'plain-text error stream (v1–v3) refused for its content');
    return;
  }
  const status = result.value;
  invariant(status.kind === 'success' || status.kind === 'exit' || status.kind === 'failure', 'unknown status kind');
  if (status.kind !== 'failure') invariant(Number.isInteger(status.code) && status.code >= 0 && status.code <= 255, () => `exit code ${status.code}`);
  if (status.kind === 'success') invariant(status.code === 0, 'success with a non-zero code');
  else invariant(typeof status.message === 'string', 'status message is not a string');
  const exit = exitCodeOf(status);
  invariant(Number.isInteger(exit) && exit >= 0 && exit <= 255, () => `kubectl would exit with ${exit}`);
}

export const channelTarget: FuzzTarget = {
  name: 'channel',
  about: 'parseResize (bytes and text), ResizeStreamDecoder (whole vs chunked), parseErrorStream v1–v5: typed errors only, sane sizes and exit codes',
  arbitrary: () => channelCaseArb,
  seeds: channelSeeds,
  check: checkChannel,
  quickRuns: 600,
};
