// What a fuzz target is, and the helpers its check function uses to state invariants.
import fc from 'fast-check';
import type { FuzzCase } from './case';

export interface NamedSeed {
  /** Which bad input of the reference notes (or which valid shape) this is. */
  name: string;
  fuzzCase: FuzzCase;
}

export interface FuzzTarget {
  name: string;
  /** One line: what is fed in and what must hold. */
  about: string;
  /** Generator of cases: random bytes, mutated seeds and valid streams, structured hostile inputs. */
  arbitrary: () => fc.Arbitrary<FuzzCase>;
  /** Named cases from the reference notes; also the base of the mutations. */
  seeds: () => NamedSeed[];
  /** Runs one case; throws FuzzFinding (or any error) when an invariant does not hold. */
  check: (fuzzCase: FuzzCase) => void | Promise<void>;
  /** Cases of the fixed-seed pass `npm test` runs (sized to take about a second). */
  quickRuns: number;
  /** Time one case may take before it counts as a hang (default 2 s). */
  caseTimeMs?: number;
  /** The check returns a promise (it does I/O). */
  async?: boolean;
}

/** An invariant that did not hold. */
export class FuzzFinding extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzFinding';
  }
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new FuzzFinding(typeof message === 'string' ? message : message());
}

type ErrorClass = abstract new (...args: never[]) => Error;

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-Error ${typeof error}: ${String(error)}`;
}

/**
 * Runs `fn`; an error of one of the `allowed` classes is returned, anything else is a finding
 * (a TypeError or RangeError escaping a parser is a bug, whatever input caused it).
 */
export function typedOnly<T>(what: string, allowed: readonly ErrorClass[], fn: () => T): { value: T; error?: undefined } | { value?: undefined; error: Error } {
  try {
    return { value: fn() };
  } catch (error) {
    if (allowed.some((cls) => error instanceof cls)) return { error: error as Error };
    throw new FuzzFinding(`${what} threw an untyped error: ${describeError(error)}`, { cause: error });
  }
}

export async function typedOnlyAsync<T>(
  what: string,
  allowed: readonly ErrorClass[],
  fn: () => Promise<T>,
): Promise<{ value: T; error?: undefined } | { value?: undefined; error: Error }> {
  try {
    return { value: await fn() };
  } catch (error) {
    if (allowed.some((cls) => error instanceof cls)) return { error: error as Error };
    throw new FuzzFinding(`${what} threw an untyped error: ${describeError(error)}`, { cause: error });
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Arbitrary for the chunking recipe: mostly random cuts, often whole, sometimes byte by byte. */
export const chunkingArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constant(1) },
  { weight: 8, arbitrary: fc.integer({ min: 2, max: 0xffffffff }) },
);

/** `count` option bits, as a number arbitrary placed at `shift`. */
export function optionBits(shift: number, count: number, values?: fc.Arbitrary<number>): fc.Arbitrary<number> {
  return (values ?? fc.nat({ max: 2 ** count - 1 })).map((v) => (v % 2 ** count) * 2 ** shift);
}

/** Sums option fields built with optionBits (fields must not overlap). */
export function optionsArb(...fields: fc.Arbitrary<number>[]): fc.Arbitrary<number> {
  return fc.tuple(...fields).map((values) => values.reduce((sum, v) => sum + v, 0));
}
