// The recorder's ingest with a real RecordingStore in a temporary folder: uploads valid, mutated and
// garbage, in random chunks and at random moments relative to the store's own I/O (microtask and
// macrotask yields between pushes), finished, cut off, or cut off and resumed as a client would.
// Invariant: the stored file is always whole lines and a prefix of the upload's whole lines; a
// finished upload stores every whole line; only IngestError ever escapes.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Ingest, IngestError, type IngestObserver, type IngestOutcome, type IngestedRecording } from '../src/recorder/ingest';
import { MAX_HEADER_BYTES } from '../src/recorder/protocol';
import { RecordingStore } from '../src/store/store';
import { Prng, bits, chunksOf, type FuzzCase } from './lib/case';
import { mutatedArb } from './lib/mutate';
import { FuzzFinding, bytesEqual, chunkingArb, invariant, optionBits, optionsArb, typedOnlyAsync, type FuzzTarget, type NamedSeed } from './lib/target';

/** Option bits: 0 abort instead of finish, 1 cut off then resume, 2–3 schedule, 8–23 where the cut falls. */
const ABORT = 1;
const RESUME = 2;
const SCHEDULE_SYNC = 0;
const SCHEDULE_MICRO = 1;
const SCHEDULE_MACRO = 2;
const SCHEDULE_MIXED = 3;

let dataDir: string | undefined;

/** One folder for the whole process (tmpfs when there is one: every case fsyncs). */
function storeDir(): string {
  if (dataDir) return dataDir;
  const base = existsSync('/dev/shm') && statSync('/dev/shm').isDirectory() ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'kubecast-fuzz-ingest-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  dataDir = dir;
  return dir;
}

const utf8 = (s: string) => Uint8Array.from(Buffer.from(s));

// ---------------------------------------------------------------------------------------------
// Inputs

const headerArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('{"version":2,"width":80,"height":24}', '{"version":3,"term":{"cols":80,"rows":24}}', '{"version":2,"width":0,"height":0,"kubecast":{"id":"x"}}') },
  { weight: 1, arbitrary: fc.constantFrom('{"version":1}', '{"version":"2"}', '[2]', 'null', '', '\ufeff{"version":2}', '{"version":2', ' {"version":2} ') },
);

const lineArb = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom('o', 'i', 'r', 'x', 'm'), fc.string({ maxLength: 40 })).map((event) => JSON.stringify(event)),
  fc.constantFrom('', '[', 'garbage', '\r', '[1,"o","\u0000"]'),
);

const uploadArb: fc.Arbitrary<Uint8Array> = fc
  .record({ header: headerArb, lines: fc.array(lineArb, { maxLength: 12 }), end: fc.constantFrom('\n', '', '\r\n'), crlf: fc.boolean() })
  .map(({ header, lines, end, crlf }) => utf8([header, ...lines].join(crlf ? '\r\n' : '\n') + end));

function ingestSeeds(): NamedSeed[] {
  const seed = (name: string, body: string | Uint8Array, options = 0, chunking = 0): NamedSeed => ({
    name,
    fuzzCase: { options, chunking, parts: [typeof body === 'string' ? utf8(body) : body] },
  });
  const v2 = '{"version":2,"width":80,"height":24}\n[0.1,"o","hi"]\n[0.2,"o","there"]\n';
  const cut = (fraction: number) => Math.floor(fraction * 0xffff) * 256;
  return [
    seed('a valid v2 upload', v2),
    seed('a valid v3 upload in 1-byte chunks', '{"version":3,"term":{"cols":80,"rows":24}}\n[0.1,"o","a"]\n', 0, 1),
    seed('a last line without its newline', v2 + '[0.3,"o","cut'),
    seed('header only, no newline', '{"version":2,"width":80,"height":24}'),
    seed('header with CRLF', '{"version":2}\r\n[0,"o","x"]\r\n'),
    seed('version 1 header', '{"version":1,"stdout":[]}\n'),
    seed('header not JSON', 'hello\n[0,"o","x"]\n'),
    seed('a blank first line', '\n{"version":2}\n'),
    seed('a BOM before the header', '\ufeff' + v2),
    seed('huge header line (1 MiB + 1, no newline)', `{"version":2,"t":"${'x'.repeat(MAX_HEADER_BYTES)}"}`),
    seed('huge header line (1 MiB + 1) with newline', `{"version":2,"t":"${'x'.repeat(MAX_HEADER_BYTES)}"}\n`),
    seed('a header just under 1 MiB in 16-byte chunks', `{"version":2,"t":"${'x'.repeat(MAX_HEADER_BYTES - 40)}"}\n[0,"o","x"]\n`, 0, 1 + 5 * 12345),
    seed('NUL bytes and invalid UTF-8 in lines', Uint8Array.from([...Buffer.from('{"version":2}\n'), 0, 0xff, 0xfe, 0x0a, 0x5b, 0x0a])),
    seed('cut off mid-line, then resumed', v2, RESUME | cut(0.6)),
    seed('cut off in the header, then resumed', v2, RESUME | cut(0.1)),
    seed('cut off and resumed, chunks racing the store', v2 + v2.slice(37), RESUME | (SCHEDULE_MIXED << 2) | cut(0.5), 7),
    seed('aborted while the file is being created', v2, ABORT | (SCHEDULE_MACRO << 2)),
    seed('chunks arriving while the file is created (microtasks)', v2 + v2.slice(37), SCHEDULE_MICRO << 2, 2 + 5 * 99),
  ];
}

let corpusCache: Uint8Array[] | undefined;
function ingestCorpus(): Uint8Array[] {
  corpusCache ??= [...fc.sample(uploadArb, { seed: 303, numRuns: 30 }), ...ingestSeeds().filter((s) => s.fuzzCase.parts[0].length < 4096).map((s) => s.fuzzCase.parts[0])];
  return corpusCache;
}

/** A header line near or past the 1 MiB cap, then a few lines: the recorder must not do quadratic work while it waits for the newline. */
const longHeaderArb = fc
  .tuple(fc.integer({ min: 64 * 1024, max: MAX_HEADER_BYTES + 64 }), fc.array(lineArb, { maxLength: 3 }))
  .map(([length, lines]) => utf8([`{"version":2,"t":"${'x'.repeat(length)}"}`, ...lines].join('\n') + '\n'));

const ingestCaseArb: fc.Arbitrary<FuzzCase> = fc.record({
  options: optionsArb(optionBits(0, 1, fc.nat({ max: 3 }).map((n) => (n === 0 ? 1 : 0))), optionBits(1, 1), optionBits(2, 2), optionBits(8, 16)),
  chunking: chunkingArb,
  parts: fc.tuple(
    fc.oneof(
      { weight: 40, arbitrary: uploadArb },
      { weight: 30, arbitrary: mutatedArb(ingestCorpus, { maxLength: 64 * 1024 }) },
      { weight: 10, arbitrary: fc.uint8Array({ maxLength: 100 }) },
      { weight: 1, arbitrary: longHeaderArb },
    ),
  ),
});

// ---------------------------------------------------------------------------------------------
// Check

/** Pauses between pushes the way an upload's chunks and the store's I/O can interleave. */
async function pause(schedule: number, random: Prng): Promise<void> {
  const kind = schedule === SCHEDULE_MIXED ? random.below(3) : schedule;
  if (kind === SCHEDULE_SYNC) return;
  if (kind === SCHEDULE_MICRO) {
    for (let i = random.below(4); i >= 0; i--) await Promise.resolve();
    return;
  }
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Whole lines of `upload` up to and including its last newline. */
function wholeLines(upload: Uint8Array): Uint8Array {
  const last = Buffer.from(upload.buffer, upload.byteOffset, upload.byteLength).lastIndexOf(0x0a);
  return upload.subarray(0, last + 1);
}

function readStored(path: string | undefined): Buffer | undefined {
  return path !== undefined && existsSync(path) ? readFileSync(path) : undefined;
}

function checkStored(stored: Buffer | undefined, upload: Uint8Array, when: string): void {
  if (stored === undefined || stored.length === 0) return;
  invariant(stored[stored.length - 1] === 0x0a, () => `${when}: the stored file ends mid-line`);
  invariant(bytesEqual(stored, upload.subarray(0, stored.length)), () => `${when}: the stored file is not a prefix of the upload`);
}

async function checkIngest(fuzzCase: FuzzCase): Promise<void> {
  const upload = fuzzCase.parts[0] ?? new Uint8Array(0);
  const options = fuzzCase.options;
  const abortAtEnd = bits(options, 0, 1) === 1;
  const resume = bits(options, 1, 1) === 1;
  const schedule = bits(options, 2, 2);
  const cut = resume ? Math.floor((upload.length * bits(options, 8, 16)) / 0x10000) : upload.length;
  const random = new Prng(fuzzCase.chunking ^ 0x5bd1e995);
  const dir = storeDir();
  const id = randomUUID();
  const observed = { started: [] as IngestedRecording[], lines: [] as Buffer[], ended: [] as IngestOutcome[] };
  const observer: IngestObserver = {
    started: (recording) => observed.started.push(recording),
    lines: (_id, lines) => {
      if (lines.byteLength === 0 || lines[lines.byteLength - 1] !== 0x0a) throw new FuzzFinding('observer got lines that are not whole');
      observed.lines.push(Buffer.from(lines));
    },
    ended: (_id, outcome) => observed.ended.push(outcome),
  };
  const failures: Error[] = [];
  let path: string | undefined;

  const feed = async (ingest: Ingest, bytes: Uint8Array, salt: number) => {
    for (const chunk of chunksOf(bytes, fuzzCase.chunking, salt)) {
      try {
        ingest.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (error) {
        throw new FuzzFinding(`Ingest.push threw: ${String(error)}`, { cause: error });
      }
      await pause(schedule, random);
    }
  };
  const watch = (ingest: Ingest) => {
    ingest.onFailure = (error) => failures.push(error);
  };

  try {
    let ingest = Ingest.fresh(new RecordingStore(dir), id, observer);
    watch(ingest);
    await feed(ingest, upload.subarray(0, cut), 1);
    let expected = upload;
    if (resume) {
      // The connection drops; the client reconnects and sends from the offset the recorder holds.
      await typedOnlyAsync('Ingest.abort', [], () => ingest.abort('fuzz: cut off'));
      path = observed.started[0]?.path;
      const stored = readStored(path);
      checkStored(stored, upload, 'after the cut');
      const resumed = await typedOnlyAsync('Ingest.resume', [IngestError], () => Ingest.resume(new RecordingStore(dir), id, observer));
      if (resumed.error || resumed.value === undefined) {
        invariant(stored === undefined, 'a stored recording could not be resumed');
        return;
      }
      ingest = resumed.value;
      watch(ingest);
      invariant(ingest.offset === stored?.length, () => `resume offset ${ingest.offset}, stored ${stored?.length}`);
      await feed(ingest, upload.subarray(ingest.offset), 2);
    }
    let finished = false;
    if (abortAtEnd) {
      await typedOnlyAsync('Ingest.abort', [], () => ingest.abort('fuzz: cut off'));
    } else {
      const result = await typedOnlyAsync('Ingest.finish', [IngestError], () => ingest.finish());
      finished = result.error === undefined;
      if (finished) invariant(ingest.durable === ingest.offset, () => `finished with ${ingest.offset - ingest.durable} bytes not durable`);
    }
    for (const failure of failures) invariant(failure instanceof IngestError, () => `onFailure got an untyped error: ${failure.name}: ${failure.message}`);

    path ??= observed.started[0]?.path;
    const stored = readStored(path);
    checkStored(stored, upload, 'at the end');
    if (finished && stored !== undefined) {
      expected = wholeLines(upload);
      invariant(stored.length === expected.length, () => `a finished upload stored ${stored.length} of ${expected.length} bytes of whole lines`);
    }
    // Observers see the header through started() and then exactly the stored lines.
    if (stored !== undefined && stored.length > 0) {
      const afterHeader = stored.subarray(stored.indexOf(0x0a) + 1);
      invariant(bytesEqual(Buffer.concat(observed.lines), afterHeader), 'observers saw other lines than were stored');
    } else {
      invariant(observed.lines.length === 0, 'observers saw lines that were not stored');
    }
    // (finish() also reports the end of an upload that never stored a header; observers ignore unknown ids.)
    for (const outcome of observed.ended) invariant(!outcome.complete || observed.started.length > 0, 'an upload that never started was reported complete');
    if (finished && stored !== undefined) invariant(observed.ended.at(-1)?.complete === true, 'a finished upload was not reported complete');
  } finally {
    if (path !== undefined && existsSync(path)) unlinkSync(path);
  }
}

export const ingestTarget: FuzzTarget = {
  name: 'ingest',
  about: 'Ingest + a real RecordingStore: uploads chunked and interleaved with the store I/O, finished, cut off or resumed: whole-line prefix on disk, everything whole stored on finish, IngestError only',
  arbitrary: () => ingestCaseArb,
  seeds: ingestSeeds,
  check: checkIngest,
  quickRuns: 60,
  caseTimeMs: 5000,
  async: true,
};

