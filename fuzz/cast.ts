// The cast reader: parseCast on whole files and CastLineParser fed line by line from chunks, on
// valid v1/v2/v3 recordings, line- and byte-mutated ones, and garbage. Seeds: "casts with broken
// lines, huge header lines, v1/v3 edge cases" (performance-reliability.md §7, the brief).
import fc from 'fast-check';
import { CastLineParser, CastParseError, MAX_DIMENSION, MAX_HEADER_LINE, parseCast, type CastEvent, type ParsedCast } from '../src/cast/reader';
import { bits, chunksOf, type FuzzCase } from './lib/case';
import { mutatedArb } from './lib/mutate';
import { FuzzFinding, chunkingArb, invariant, typedOnly, type FuzzTarget, type NamedSeed } from './lib/target';

const MODE_STREAM = 1;
const utf8 = (s: string) => Uint8Array.from(Buffer.from(s));
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Valid recordings

const eventArb = fc.record({
  delay: fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.constantFrom(0, 1e-7, 0.1, 0.2, 86400)),
  code: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('o', 'i', 'r', 'm', 'x') }, { weight: 1, arbitrary: fc.constantFrom('z', '', 'oo', 'O') }),
  data: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('80x24', '24x80', '0', '\u001b[31mred\u001b[0m', '\r\n', '"\\', '\ud83d\ude00', '\ud800')),
});

const sizeArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 300 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(0, 10000, 10001, -1, 1.5, '80', null) });

const castArb: fc.Arbitrary<string> = fc
  .record({
    version: fc.constantFrom(1, 2, 2, 3),
    cols: sizeArb,
    rows: sizeArb,
    identity: fc.constantFrom('none', 'kubecast', 'peer'),
    extras: fc.dictionary(fc.constantFrom('title', 'command', 'env', 'idle_time_limit', 'timestamp', 'theme'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    events: fc.array(eventArb, { maxLength: 8 }),
    pretty: fc.boolean(),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map(({ version, cols, rows, identity, extras, events, pretty, crlf, finalNewline }) => {
    const header: Record<string, unknown> = { version, ...extras };
    if (version === 3) header.term = { cols, rows };
    else Object.assign(header, { width: cols, height: rows });
    if (identity === 'kubecast') header.kubecast = { id: 'x', protocol: 'spdy', tty: true };
    if (identity === 'peer') Object.assign(header, { srcNode: 'n', kubernetes: { PodName: 'p', Namespace: 'd', Container: 'c', SessionType: 'exec' } });
    if (version === 1) {
      header.stdout = events.map((e) => [e.delay, e.data]);
      return JSON.stringify(header, null, pretty ? 2 : undefined) + (finalNewline ? '\n' : '');
    }
    let clock = 0;
    const lines = [JSON.stringify(header)];
    for (const e of events) {
      clock += e.delay;
      lines.push(JSON.stringify([version === 3 ? e.delay : clock, e.code, e.data]));
      if (version === 3 && pretty) lines.push('# a comment');
    }
    return lines.join(crlf ? '\r\n' : '\n') + (finalNewline ? '\n' : '');
  });

type LineOp =
  | { op: 'delete' | 'duplicate' | 'blank'; line: number }
  | { op: 'cut'; line: number; at: number }
  | { op: 'insert'; line: number; text: string }
  | { op: 'swap'; line: number; other: number };

const lineOpArb: fc.Arbitrary<LineOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const, 'blank' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('cut' as const), line: fc.nat(), at: fc.nat() }),
  fc.record({
    op: fc.constant('insert' as const),
    line: fc.nat(),
    text: fc.oneof(fc.constantFrom('[', '[1,"o"]', '[1,"o",1]', '[-1,"o","x"]', '[1e999,"o","x"]', '["1","o","x"]', '{}', '# c', '\t ', '\ufeff', '[1,2,"x"]', '[0.5,"x",5]'), fc.json()),
  }),
  fc.record({ op: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
);

function applyLineOps(textInput: string, ops: readonly LineOp[]): string {
  const lines = textInput.split('\n');
  for (const op of ops) {
    const i = op.line % lines.length;
    switch (op.op) {
      case 'delete':
        lines.splice(i, 1);
        if (lines.length === 0) lines.push('');
        break;
      case 'duplicate':
        lines.splice(i, 0, lines[i]);
        break;
      case 'blank':
        lines[i] = '';
        break;
      case 'cut':
        lines[i] = lines[i].slice(0, op.at % (lines[i].length + 1));
        break;
      case 'insert':
        lines.splice(i, 0, op.text);
        break;
      case 'swap': {
        const j = op.other % lines.length;
        [lines[i], lines[j]] = [lines[j], lines[i]];
        break;
      }
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Seeds

function castSeeds(): NamedSeed[] {
  const seed = (name: string, body: string, mode = 0, chunking = 0): NamedSeed => ({ name, fuzzCase: { options: mode, chunking, parts: [utf8(body)] } });
  const v2 = '{"version":2,"width":80,"height":24}\n[0.1,"o","hi"]\n[0.2,"r","100x30"]\n[0.3,"x","0"]\n';
  return [
    seed('a valid v2 cast', v2),
    seed('a valid v2 cast, streamed in 1-byte chunks', v2, MODE_STREAM, 1),
    seed('last line cut short by a crash', v2.slice(0, -5)),
    seed('a broken line in the middle', '{"version":2,"width":80,"height":24}\n[0.1,"o","hi"]\n[0.2,"o\n[0.3,"o","x"]\n'),
    seed('data after a truncated last line (streamed)', '{"version":2,"width":80,"height":24}\n[0.1,"o', MODE_STREAM, 3),
    seed('event with 2 elements', '{"version":2}\n[1,"o"]\n'),
    seed('negative and infinite times', '{"version":2}\n[-1,"o","x"]\n'),
    seed('time 1e999 (Infinity)', '{"version":2}\n[1e999,"o","x"]\n'),
    seed('non-string data', '{"version":2}\n[1,"o",5]\n[1,"x",3]\n'),
    seed('times going backwards', '{"version":2}\n[5,"o","a"]\n[1,"o","b"]\n'),
    seed('huge header line (over 1 MiB)', `{"version":2,"title":"${'t'.repeat(MAX_HEADER_LINE)}"}\n[0,"o","x"]\n`),
    seed('huge header line, streamed', `{"version":2,"title":"${'t'.repeat(MAX_HEADER_LINE)}"}\n`, MODE_STREAM, 4),
    seed('header line just under the cap', `{"version":2,"title":"${'t'.repeat(MAX_HEADER_LINE - 30)}"}\n`),
    seed('a 4 MiB event line', `{"version":2}\n[0,"o","${'x'.repeat(4 * 1024 * 1024)}"]\n`),
    seed('empty file', ''),
    seed('only blank lines', '\n\n \n\t\n'),
    seed('a UTF-8 BOM before the header', '\ufeff' + v2),
    seed('CRLF line ends', v2.replace(/\n/g, '\r\n')),
    seed('v1 on one line', '{"version":1,"width":80,"height":24,"stdout":[[0.5,"hi"],[1,"there"]]}'),
    seed('v1 pretty-printed', JSON.stringify({ version: 1, width: 80, height: 24, stdout: [[0.5, 'hi']] }, null, 2)),
    seed('v1 then junk', '{"version":1,"stdout":[]}\n[1,"o","x"]\n'),
    seed('v1 without stdout', '{"version":1,"width":80}'),
    seed('v1 with a bad frame', '{"version":1,"stdout":[[-1,"x"],[1]]}'),
    seed('v1 line-by-line (streamed)', '{"version":1,"stdout":[]}\n', MODE_STREAM),
    seed('v3 with intervals and comments', '{"version":3,"term":{"cols":80,"rows":24}}\n# note\n[0.1,"o","a"]\n[0.2,"r","90x30"]\n[0.1,"z","?"]\n[0.1,"o","b"]\n'),
    seed('v3 with term not an object', '{"version":3,"term":5}\n'),
    seed('v3 with a 10001-column terminal', '{"version":3,"term":{"cols":10001,"rows":24}}\n'),
    seed('width 0 (peer, non-TTY)', '{"version":2,"width":0,"height":0}\n[0,"o","x"]\n'),
    seed('peer header: rows-first resize', '{"version":2,"width":80,"height":24,"srcNode":"n","kubernetes":{"PodName":"p"}}\n[1,"r","30x100"]\n'),
    seed('kubecast header with __proto__', '{"version":2,"kubecast":{"__proto__":{"x":1},"id":5,"tty":"yes"},"env":{"__proto__":"x","A":"b"}}\n'),
    seed('version 4', '{"version":4}\n'),
    seed('a JSON array as header', '[0,"o","x"]\n'),
  ];
}

let corpusCache: Uint8Array[] | undefined;
function castCorpus(): Uint8Array[] {
  corpusCache ??= [
    ...fc.sample(castArb, { seed: 2002, numRuns: 60 }).map(utf8),
    ...castSeeds().filter((s) => s.fuzzCase.parts[0].length < 4096).map((s) => s.fuzzCase.parts[0]),
  ];
  return corpusCache;
}

const castTextArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: castArb.map(utf8) },
  { weight: 4, arbitrary: fc.tuple(castArb, fc.array(lineOpArb, { minLength: 1, maxLength: 4 })).map(([t, ops]) => utf8(applyLineOps(t, ops))) },
  { weight: 4, arbitrary: mutatedArb(castCorpus, { maxLength: 256 * 1024 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }).map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
);

const castCaseArb: fc.Arbitrary<FuzzCase> = fc.record({ options: fc.nat({ max: 1 }), chunking: chunkingArb, parts: fc.tuple(castTextArb) });

// ---------------------------------------------------------------------------------------------
// Check

/** CastLineParser driven like a file reader: lines split across chunks, the last one flagged when unterminated. */
function parseStreamed(chunks: readonly Uint8Array[]): ParsedCast {
  const parser = new CastLineParser();
  const events: CastEvent[] = [];
  const streamDecoder = new TextDecoder();
  let carry = '';
  let first = true;
  const take = (line: string, unterminated: boolean) => {
    const event = parser.line(line, { unterminated });
    if (event) events.push(event);
  };
  for (const chunk of chunks) {
    let textChunk = carry + streamDecoder.decode(chunk, { stream: true });
    if (first && textChunk.length > 0) {
      if (textChunk.charCodeAt(0) === 0xfeff) textChunk = textChunk.slice(1); // as parseCast does
      first = false;
    }
    let start = 0;
    for (let nl = textChunk.indexOf('\n'); nl !== -1; nl = textChunk.indexOf('\n', start)) {
      take(textChunk.slice(start, nl), false);
      start = nl + 1;
    }
    carry = textChunk.slice(start);
  }
  carry += streamDecoder.decode();
  if (carry.length > 0) take(carry, true);
  const header = parser.header;
  if (header === undefined || parser.version === undefined) throw new CastParseError(Math.max(1, parser.lineNumber), 'no asciicast header (empty file)');
  return { version: parser.version, header, events, duration: parser.duration, truncated: parser.truncated };
}

function checkParsed(result: ParsedCast, textInput: string, what: string): void {
  invariant([1, 2, 3].includes(result.version), `${what}: version ${result.version}`);
  for (const value of [result.header.cols, result.header.rows]) {
    invariant(Number.isInteger(value) && value >= 1 && value <= MAX_DIMENSION, () => `${what}: terminal dimension ${value}`);
  }
  let last = 0;
  for (const event of result.events) {
    invariant(Number.isFinite(event.time) && event.time >= 0, () => `${what}: event time ${event.time}`);
    invariant(event.time >= last, () => `${what}: time goes back from ${last} to ${event.time}`);
    invariant(['o', 'i', 'r', 'm', 'x'].includes(event.code), () => `${what}: event code ${JSON.stringify(event.code)}`);
    invariant(typeof event.data === 'string', `${what}: event data is not a string`);
    last = event.time;
  }
  invariant(Number.isFinite(result.duration) && result.duration >= last, () => `${what}: duration ${result.duration} before the last event ${last}`);
  if (result.truncated) invariant(!textInput.endsWith('\n'), `${what}: truncated although the file ends with a newline`);
}

function checkError(error: Error, textInput: string, what: string): string {
  const parseError = error as CastParseError;
  const lines = textInput.split('\n').length;
  invariant(Number.isInteger(parseError.line) && parseError.line >= 1 && parseError.line <= lines + 1, () => `${what}: error on line ${parseError.line} of ${lines}`);
  return parseError.message;
}

function checkCast(fuzzCase: FuzzCase): void {
  const bytes = fuzzCase.parts[0] ?? new Uint8Array(0);
  const textInput = decoder.decode(bytes);
  const whole = typedOnly('parseCast', [CastParseError], () => parseCast(textInput));
  if (whole.value) checkParsed(whole.value, textInput, 'parseCast');
  else checkError(whole.error, textInput, 'parseCast');

  if (bits(fuzzCase.options, 0, 1) === MODE_STREAM && whole.value?.version !== 1) {
    // v2/v3 read line by line from any chunking must match the whole-file reader.
    const streamed = typedOnly('CastLineParser', [CastParseError], () => parseStreamed(chunksOf(bytes, fuzzCase.chunking)));
    if (streamed.value) checkParsed(streamed.value, textInput, 'CastLineParser');
    // Same model, or an error on the same line (the messages may differ: parseCast tries v1 first,
    // and a v1 document, pretty-printed or not, is refused by the line reader at line 1).
    const summary = (run: typeof whole) =>
      run.value
        ? JSON.stringify([run.value.events, run.value.duration, run.value.truncated, run.value.header.cols, run.value.header.rows])
        : `error at line ${(run.error as CastParseError).line}`;
    const a = summary(whole);
    const b = summary(streamed);
    invariant(a === b, () => `parseCast and CastLineParser disagree:\n  ${a.slice(0, 300)} (${whole.error?.message ?? ''})\n  ${b.slice(0, 300)} (${streamed.error?.message ?? ''})`);
  }

  if (whole.value) {
    // What was read, written back as a plain v2 file (with a kubecast key: resizes are already
    // cols-first), reads back the same.
    const { header, events } = whole.value;
    const rewritten = [JSON.stringify({ version: 2, width: header.cols, height: header.rows, kubecast: {} }), ...events.map((e) => JSON.stringify([e.time, e.code, e.data]))].join('\n') + '\n';
    let again: ParsedCast;
    try {
      again = parseCast(rewritten);
    } catch (error) {
      throw new FuzzFinding(`a cast rewritten from what was read does not parse: ${String(error)}`);
    }
    invariant(JSON.stringify(again.events) === JSON.stringify(events), 'events do not survive a rewrite as v2');
  }
}

export const castTarget: FuzzTarget = {
  name: 'cast-reader',
  about: 'parseCast and CastLineParser (streamed from chunks) on valid, line-mutated, byte-mutated and garbage v1/v2/v3: CastParseError only, sane model, both readers agree, read→write→read is stable',
  arbitrary: () => castCaseArb,
  seeds: castSeeds,
  check: checkCast,
  quickRuns: 1000,
};
