// Mutations of valid inputs: the classic byte-level ones (bit flips, overwrites, truncation, drops,
// duplication, insertion), splicing with another corpus entry, and "length-field lies" that rewrite
// a format's length/count field with a boundary value. Mutations are data (fast-check shrinks them:
// fewer mutations, smaller offsets, simpler values), applied to a corpus entry chosen by index.
import fc from 'fast-check';

/** A length or count field inside an input: `size` bytes big-endian at `offset`; `mask` limits a 1-byte field to some bits. */
export interface LengthField {
  offset: number;
  size: 1 | 2 | 3 | 4 | 8;
  mask?: number;
}

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'drop'; at: number; count: number }
  | { kind: 'duplicate'; at: number; count: number; times: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'splice'; at: number; donor: number; from: number; count: number }
  | { kind: 'lie'; field: number; value: number; relative: boolean };

/** Values that sit on the boundaries parsers get wrong. */
export const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 0x7e, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000,
  0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63,
];

const position = fc.nat({ max: 1 << 20 });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: position, value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5c, 0x7b)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), at: position, count: fc.integer({ min: 1, max: 32 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: position, count: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('splice' as const), at: position, donor: fc.nat(), from: position, count: fc.integer({ min: 1, max: 512 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('lie' as const),
      field: fc.nat({ max: 255 }),
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 0xffff }), fc.integer({ min: -4, max: 4 })),
      relative: fc.boolean(),
    }),
  },
);

function writeField(bytes: Uint8Array, field: LengthField, value: number): void {
  if (field.offset + field.size > bytes.length) return;
  if (field.size === 1) {
    const mask = field.mask ?? 0xff;
    bytes[field.offset] = (bytes[field.offset] & ~mask) | (value & mask);
    return;
  }
  // BigInt keeps 64-bit values exact (2^63 is not a safe integer, but is exactly representable).
  let v = BigInt.asUintN(field.size * 8, BigInt(Math.trunc(value)));
  for (let i = field.size - 1; i >= 0; i--) {
    bytes[field.offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readField(bytes: Uint8Array, field: LengthField): number {
  if (field.offset + field.size > bytes.length) return 0;
  if (field.size === 1) return bytes[field.offset] & (field.mask ?? 0xff);
  let v = 0;
  for (let i = 0; i < field.size; i++) v = v * 256 + bytes[field.offset + i];
  return v;
}

export interface MutationContext {
  /** Other inputs to splice from. */
  donors: readonly Uint8Array[];
  /** Where the length fields of this input are (recomputed after each mutation). */
  lengthFields?: (bytes: Uint8Array) => LengthField[];
  /** Cap on the result, so duplication cannot run away. */
  maxLength?: number;
}

export function applyMutation(input: Uint8Array, mutation: Mutation, context: MutationContext): Uint8Array {
  const length = input.length;
  const at = length === 0 ? 0 : mutation.kind === 'lie' ? 0 : mutation.at % (length + (mutation.kind === 'insert' || mutation.kind === 'splice' ? 1 : 0));
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  switch (mutation.kind) {
    case 'flip': {
      if (length === 0) return input;
      const copy = Uint8Array.from(input);
      copy[at % length] ^= 1 << mutation.bit;
      return copy;
    }
    case 'set': {
      if (length === 0) return input;
      const copy = Uint8Array.from(input);
      copy[at % length] = mutation.value;
      return copy;
    }
    case 'truncate':
      return input.slice(0, at);
    case 'drop':
      return concatBytes([buf.subarray(0, at), buf.subarray(at + mutation.count)]);
    case 'duplicate': {
      const slice = buf.subarray(at, at + mutation.count);
      return concatBytes([buf.subarray(0, at + slice.length), ...Array.from({ length: mutation.times }, () => slice), buf.subarray(at + slice.length)]);
    }
    case 'insert':
      return concatBytes([buf.subarray(0, at), mutation.bytes, buf.subarray(at)]);
    case 'splice': {
      if (context.donors.length === 0) return input;
      const donor = context.donors[mutation.donor % context.donors.length];
      const from = donor.length === 0 ? 0 : mutation.from % donor.length;
      return concatBytes([buf.subarray(0, at), donor.subarray(from, from + mutation.count), buf.subarray(at)]);
    }
    case 'lie': {
      const fields = context.lengthFields?.(input) ?? [];
      if (fields.length === 0) return input;
      const field = fields[mutation.field % fields.length];
      const copy = Uint8Array.from(input);
      writeField(copy, field, mutation.relative ? readField(input, field) + mutation.value : mutation.value);
      return copy;
    }
  }
}

function concatBytes(pieces: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(pieces));
}

export function applyMutations(input: Uint8Array, mutations: readonly Mutation[], context: MutationContext): Uint8Array {
  let current = input;
  for (const mutation of mutations) {
    current = applyMutation(current, mutation, context);
    if (context.maxLength !== undefined && current.length > context.maxLength) current = current.slice(0, context.maxLength);
  }
  return current;
}

/** A corpus entry with 1–6 mutations applied. The corpus is built lazily (first use), then kept. */
export function mutatedArb(corpus: () => readonly Uint8Array[], context: Omit<MutationContext, 'donors'> = {}): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat(), fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([index, mutations]) => {
    const entries = corpus();
    return applyMutations(entries[index % entries.length], mutations, { ...context, donors: entries });
  });
}

/** A small pattern repeated into a long input: the shape that exposes quadratic work and unbounded state. */
export function repeatedArb(pattern: fc.Arbitrary<Uint8Array>, maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.tuple(pattern, fc.integer({ min: 1024, max: maxLength })).map(([unit, length]) => {
    if (unit.length === 0) return new Uint8Array(0);
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += unit.length) out.set(unit.subarray(0, length - offset), offset);
    return out;
  });
}
