import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { duration, parseSince, relativeTime } from '../../src/commands/ls';
import { PlaybackFilter } from '../../src/commands/play-filter';

describe('library CLI helpers', () => {
  test('--since: durations and dates', () => {
    const now = Date.parse('2026-03-10T12:00:00Z');
    assert.equal(parseSince('30m', now).toISOString(), '2026-03-10T11:30:00.000Z');
    assert.equal(parseSince('2h', now).toISOString(), '2026-03-10T10:00:00.000Z');
    assert.equal(parseSince('7d', now).toISOString(), '2026-03-03T12:00:00.000Z');
    assert.equal(parseSince('2026-03-01T00:00:00Z', now).toISOString(), '2026-03-01T00:00:00.000Z');
    assert.throws(() => parseSince('yesterday', now), /--since/);
  });

  test('durations and relative times for the table', () => {
    assert.equal(duration(3400), '3s');
    assert.equal(duration(83_000), '1m23s');
    assert.equal(duration(7_500_000), '2h05m');
    const now = new Date('2026-03-10T12:00:00Z');
    assert.equal(relativeTime(new Date('2026-03-10T11:59:30Z'), now), '30s ago');
    assert.equal(relativeTime(new Date('2026-03-10T09:00:00Z'), now), '3h ago');
    assert.equal(relativeTime(new Date('2025-01-01T00:00:00Z'), now), '2025-01-01');
  });

  test('playback filter: colours and cursor pass, terminal queries and dangerous strings do not', () => {
    const f = new PlaybackFilter();
    assert.equal(f.write('\x1b[01;34mdir\x1b[0m \x1b[2J\x1b[H'), '\x1b[01;34mdir\x1b[0m \x1b[2J\x1b[H');
    assert.equal(f.write('a\x1b[cb\x1b[>cc\x1b[6nd\x1b[5ne\x1b[18tf\x1b[?2026$pg'), 'abcdefg', 'DA, DSR, window reports, DECRQM dropped');
    assert.equal(f.write('x\x1bP$qm\x1b\\y'), 'xy', 'DCS (DECRQSS) dropped');
    assert.equal(f.write('x\x1b]50;?\x07y\x1b]52;c;Zm9v\x07z'), 'xyz', 'OSC 50 (fonts) and 52 (clipboard) dropped');
    assert.equal(f.write('x\x1b]11;?\x1b\\y'), 'xy', 'colour queries dropped');
    assert.equal(f.write('\x1b]0;my title\x07ok'), '\x1b]0;my title\x07ok', 'titles kept');
    assert.equal(f.write('\x1bZq'), 'q', 'DECID dropped');
    assert.equal(f.write('\x1b(B\x1b7\x1b8'), '\x1b(B\x1b7\x1b8');
  });

  test('playback filter: sequences split across events, and the modes to restore', () => {
    const f = new PlaybackFilter();
    assert.equal(f.write('a\x1b[') + f.write('6') + f.write('nb'), 'ab');
    assert.equal(f.write('\x1b[?104') + f.write('9h\x1b[?25l'), '\x1b[?1049h\x1b[?25l');
    const restore = f.restore();
    assert.ok(restore.includes('\x1b[?1049l'));
    assert.ok(restore.includes('\x1b[?25h'));
    f.write('\x1b[?1049l');
    assert.doesNotMatch(f.restore(), /1049l/);
  });
});
