import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mask, unmask } from '../../src/protocol/ws/mask';

/** Byte-wise RFC 6455 §5.3 reference. */
function reference(source: Uint8Array, key: Uint8Array, phase = 0): Uint8Array {
  const out = new Uint8Array(source.length);
  for (let i = 0; i < source.length; i++) out[i] = source[i] ^ key[(phase + i) % 4];
  return out;
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const keys = [Uint8Array.of(0x37, 0xfa, 0x21, 0x3d), Uint8Array.of(0, 0, 0, 0), Uint8Array.of(0xff, 0xff, 0xff, 0xff), Uint8Array.of(1, 2, 3, 4)];

describe('unmask', () => {
  test('equals the byte-wise reference for every length 0..64 and every source alignment, source untouched', () => {
    const backing = pattern(64 + 8, 7);
    for (const key of keys) {
      for (let alignment = 0; alignment < 8; alignment++) {
        for (let length = 0; length <= 64; length++) {
          const source = backing.subarray(alignment, alignment + length);
          const before = Uint8Array.from(source);
          const result = unmask(source, key);
          assert.deepEqual(result, reference(source, key), `length ${length} alignment ${alignment}`);
          assert.deepEqual(source, before, 'source modified');
          assert.notEqual(result.buffer, source.buffer, 'result must be a fresh buffer');
          assert.equal(result.byteOffset, 0);
        }
      }
    }
  });

  test('every phase offset continues the key where the previous piece stopped', () => {
    const key = keys[0];
    const source = pattern(100, 3);
    for (let split = 0; split <= 100; split++) {
      const head = unmask(source.subarray(0, split), key);
      const tail = unmask(source.subarray(split), key, undefined, split);
      assert.deepEqual(Uint8Array.from([...head, ...tail]), reference(source, key), `split ${split}`);
    }
    for (let phase = 0; phase < 8; phase++) {
      assert.deepEqual(unmask(source, key, undefined, phase), reference(source, key, phase % 4), `phase ${phase}`);
    }
  });

  test('writes into a caller-provided target at any alignment, including in place', () => {
    const key = keys[0];
    for (let alignment = 0; alignment < 4; alignment++) {
      for (const length of [0, 3, 15, 16, 17, 63, 64, 1001]) {
        const source = pattern(length + 4, length).subarray(1, 1 + length);
        const target = new Uint8Array(length + 8).subarray(alignment, alignment + length);
        const result = unmask(source, key, target);
        assert.equal(result, target);
        assert.deepEqual(target, reference(source, key), `target alignment ${alignment} length ${length}`);

        const inPlace = Uint8Array.from(pattern(length + 8, 9)).subarray(alignment, alignment + length);
        const expected = reference(inPlace, key);
        unmask(inPlace, key, inPlace);
        assert.deepEqual(inPlace, expected, `in place, alignment ${alignment} length ${length}`);
      }
    }
  });

  test('large buffers (1 MiB + 3 at an odd offset) match the reference and round-trip through mask', () => {
    const backing = pattern((1 << 20) + 8, 11);
    const source = backing.subarray(5, 5 + (1 << 20) + 3);
    const before = Uint8Array.from(source);
    for (const key of keys) {
      const masked = mask(source, key);
      assert.deepEqual(masked, reference(source, key));
      assert.deepEqual(unmask(masked, key), before);
    }
    assert.deepEqual(source, before);
  });

  test('refuses a key that is not 4 bytes and a target that is too small', () => {
    assert.throws(() => unmask(new Uint8Array(4), new Uint8Array(3)), RangeError);
    assert.throws(() => unmask(new Uint8Array(20), keys[0], new Uint8Array(19)), RangeError);
  });
});
