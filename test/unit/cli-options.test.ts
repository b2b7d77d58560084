// Size and day options of serve and recorder: what they accept, what they refuse, and in what unit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError } from '../../src/commands/command';
import { parseRetainDays, parseSeekIndexMib } from '../../src/commands/options';

test('--seek-index-mib: MiB to bytes, 0 turns seek indexes off, anything else is refused with the flag named', () => {
  assert.equal(parseSeekIndexMib(undefined), undefined, 'absent: the library default (8 MiB)');
  assert.equal(parseSeekIndexMib('8'), 8 * 1024 * 1024);
  assert.equal(parseSeekIndexMib('0.5'), 512 * 1024);
  assert.equal(parseSeekIndexMib('0'), 0);
  for (const bad of ['', ' ', '-1', 'lots', 'NaN', 'Infinity', '2097152']) {
    assert.throws(() => parseSeekIndexMib(bad), (err: unknown) => err instanceof CliError && /--seek-index-mib/.test(err.message), bad);
  }
});

test('--retain-days: whole days; 0 or off turns retention off', () => {
  assert.equal(parseRetainDays(undefined), undefined);
  assert.equal(parseRetainDays('30'), 30);
  assert.equal(parseRetainDays('0'), null);
  assert.equal(parseRetainDays('off'), null);
  for (const bad of ['1.5', '-3', 'week', '']) {
    assert.throws(() => parseRetainDays(bad), (err: unknown) => err instanceof CliError && /--retain-days/.test(err.message), bad);
  }
});
