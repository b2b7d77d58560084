// Runs a target's cases through fast-check (generation, per-case time bound, shrinking) and
// replays single cases; shared by the CLI (fuzz/run.ts) and the fixed-seed pass in `npm test`.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { caseHash, decodeCase, encodeCase, type FuzzCase } from './lib/case';
import { FuzzFinding, type FuzzTarget } from './lib/target';

/** Regression corpus: test/fixtures/fuzz/<target>/<hash>.bin, replayed by test/unit/fuzz-regressions.test.ts. */
export const FIXTURES_DIR = join(__dirname, '..', 'test', 'fixtures', 'fuzz');

const DEFAULT_CASE_TIME_MS = 2000;

export interface BatchOptions {
  seed: number;
  numRuns: number;
  /** Replays one counterexample of an earlier run (with its seed). */
  path?: string;
  /** Bound on the whole batch, shrinking included (shrinking a slow finding can take long). */
  timeLimitMs?: number;
  /** Called before each case runs, shrinking runs included (the CLI's hang watchdog records it). */
  onCase?: (target: FuzzTarget, fuzzCase: FuzzCase) => void;
  onCaseEnd?: () => void;
  /** Scales the per-case time bound (a loaded CI machine). */
  caseTimeScale?: number;
  /** Minimise a failing case (default true); `npm test` reports the first failure at once instead. */
  shrink?: boolean;
}

export interface BatchResult {
  /** Property runs, shrinking runs included. */
  cases: number;
  failed: boolean;
  seed: number;
  path?: string;
  counterexample?: FuzzCase;
  error?: unknown;
  shrinks: number;
}

function caseBound(target: FuzzTarget, caseTimeScale: number): number {
  return (target.caseTimeMs ?? DEFAULT_CASE_TIME_MS) * caseTimeScale;
}

function runSync(target: FuzzTarget, fuzzCase: FuzzCase, caseTimeScale: number): void {
  const bound = caseBound(target, caseTimeScale);
  const started = performance.now();
  void target.check(fuzzCase);
  // A synchronous case cannot be stopped from inside the thread: it is timed once it returns, and
  // the CLI's watchdog thread catches one that never does.
  const elapsed = performance.now() - started;
  if (elapsed > bound) throw new FuzzFinding(`one case took ${elapsed.toFixed(0)} ms, above the ${bound} ms bound`);
}

async function runAsync(target: FuzzTarget, fuzzCase: FuzzCase, caseTimeScale: number): Promise<void> {
  const bound = caseBound(target, caseTimeScale);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFinding(`no answer within ${bound} ms (hang)`)), bound);
  });
  try {
    await Promise.race([target.check(fuzzCase), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one case under the target's time bound; throws what the check throws, or a FuzzFinding for a slow case. */
export async function runCase(target: FuzzTarget, fuzzCase: FuzzCase, caseTimeScale = 1): Promise<void> {
  if (target.async) await runAsync(target, fuzzCase, caseTimeScale);
  else runSync(target, fuzzCase, caseTimeScale);
}

export async function runBatch(target: FuzzTarget, options: BatchOptions): Promise<BatchResult> {
  const arbitrary = target.arbitrary();
  const scale = options.caseTimeScale ?? 1;
  const parameters: fc.Parameters<[FuzzCase]> = {
    seed: options.seed,
    numRuns: options.numRuns,
    path: options.path,
    // With a path, fast-check starts from the counterexample it names (and shrinks on from there).
    endOnFailure: options.shrink === false,
    // The plugin is typed for any property; its instance does not depend on the value type.
    plugins: options.timeLimitMs === undefined ? [] : [fc.interruptAfterTimeLimit(options.timeLimitMs) as fc.Plugin<[FuzzCase]>],
  };
  let cases = 0;
  let result: fc.RunDetails<[FuzzCase]>;
  if (target.async) {
    const property = fc.asyncProperty(arbitrary, async (fuzzCase) => {
      cases++;
      options.onCase?.(target, fuzzCase);
      try {
        await runAsync(target, fuzzCase, scale);
      } finally {
        options.onCaseEnd?.();
      }
    });
    result = await fc.check(property, parameters);
  } else {
    const property = fc.property(arbitrary, (fuzzCase) => {
      cases++;
      options.onCase?.(target, fuzzCase);
      try {
        runSync(target, fuzzCase, scale);
      } finally {
        options.onCaseEnd?.();
      }
    });
    result = fc.check(property, parameters);
  }
  // Interrupted before any case ran: not a finding.
  if (!result.failed || result.counterexample === null) return { cases, failed: false, seed: result.seed, shrinks: 0 };
  return {
    cases,
    failed: true,
    seed: result.seed,
    path: result.counterexamplePath ?? undefined,
    counterexample: result.counterexample[0],
    error: result.errorInstance,
    shrinks: result.numShrinks,
  };
}

/** A finding written to the regression corpus; returns its path. Same case, same file. */
export function saveFinding(target: FuzzTarget, fuzzCase: FuzzCase): string {
  const dir = join(FIXTURES_DIR, target.name);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${caseHash(fuzzCase)}.bin`);
  if (!existsSync(path)) writeFileSync(path, encodeCase(fuzzCase));
  return path;
}

/** The regression corpus of a target: every file in its folder, decoded. */
export function fixturesOf(target: FuzzTarget): Array<{ file: string; fuzzCase: FuzzCase }> {
  const dir = join(FIXTURES_DIR, target.name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => !file.startsWith('.') && !file.endsWith('.md'))
    .sort()
    .map((file) => ({ file: join(dir, file), fuzzCase: decodeCase(readFileSync(join(dir, file))) }));
}
