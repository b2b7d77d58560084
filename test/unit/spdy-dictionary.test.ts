import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spdy3Dictionary } from '../../src/protocol/spdy/index';

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe('SPDY/3 header dictionary', () => {
  const dictionary = spdy3Dictionary();

  test('is 1423 bytes long', () => {
    assert.equal(dictionary.length, 1423);
  });

  test('has Adler-32 0xE3C6A7C2 (the DICTID kubectl puts after 78 f9)', () => {
    assert.equal(adler32(dictionary), 0xe3c6a7c2);
  });

  test('has the reference SHA-256', () => {
    assert.equal(
      createHash('sha256').update(dictionary).digest('hex'),
      '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
    );
  });

  test('starts 00 00 00 07 "options" 00 00 00 04 "head"', () => {
    const expected = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('options'), Buffer.from([0, 0, 0, 4]), Buffer.from('head')]);
    assert.deepEqual(Buffer.from(dictionary.subarray(0, expected.length)), expected);
  });

  test('ends with "enq=0."', () => {
    assert.equal(Buffer.from(dictionary.subarray(-6)).toString('latin1'), 'enq=0.');
  });

  test('is decoded once and shared', () => {
    assert.equal(spdy3Dictionary(), dictionary);
  });
});
