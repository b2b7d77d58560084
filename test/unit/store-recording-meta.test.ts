import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCast } from '../../src/cast';
import { EventTracker, exitCode, identityFromHeader } from '../../src/store/recording-meta';
import { castHeader, castText } from '../helpers/recordings';

function track(text: string) {
  const [head, ...rest] = text.split('\n');
  const header = JSON.parse(head) as Record<string, unknown>;
  const identity = identityFromHeader(header);
  const tracker = new EventTracker(header.version === 3 ? 3 : 2, identity.swapResize, { cols: identity.cols, rows: identity.rows });
  tracker.lines(Buffer.from(rest.join('\n')));
  return { identity, summary: tracker.current };
}

describe('recording metadata from cast bytes', () => {
  test('kubecast header: identity fields from kubecast and kubernetes', () => {
    const id = '3de8c67a-367c-48e6-bc38-bd08412f36cc';
    const identity = identityFromHeader(JSON.parse(JSON.stringify(castHeader({ user: 'ann', pod: 'web-0', namespace: 'prod', argv: ['sh', '-c', 'ls -l'], events: [] }, id))));
    assert.equal(identity.user, 'ann');
    assert.equal(identity.pod, 'web-0');
    assert.equal(identity.namespace, 'prod');
    assert.equal(identity.container, 'main');
    assert.equal(identity.cluster, 'local');
    assert.deepEqual(identity.argv, ['sh', '-c', 'ls -l']);
    assert.equal(identity.command, 'sh -c ls -l');
    assert.equal(identity.protocol, 'websocket');
    assert.equal(identity.sessionType, 'exec');
    assert.equal(identity.tty, true);
    assert.equal(identity.startedMs, Date.parse('2026-03-01T10:00:00Z'));
    assert.equal(identity.swapResize, false);
  });

  test('peer cast: user from srcNodeUser, no TTY at 0x0, rows-first resizes swapped', () => {
    const { identity, summary } = track(readFileSync('test/fixtures/casts/peer.cast', 'utf8'));
    assert.equal(identity.user, 'alice@example.com');
    assert.equal(identity.pod, 'web-0');
    assert.equal(identity.tty, false);
    assert.equal(identity.cols, null);
    assert.equal(identity.swapResize, true);
    // The peer wrote "50x132" meaning 50 rows, 132 columns.
    assert.equal(summary.cols, 132);
    assert.equal(summary.rows, 50);
    assert.equal(summary.duration, 2);
  });

  test('v3: times are intervals (the same clock as the reader)', () => {
    const text = readFileSync('test/fixtures/casts/v3.cast', 'utf8');
    const { summary, identity } = track(text.endsWith('\n') ? text : text + '\n');
    assert.equal(summary.duration, parseCast(text).duration);
    assert.equal(identity.cols, 100);
    assert.equal(identity.rows, 31);
  });

  test('duration, last size and exit code from the event lines; malformed lines skipped', () => {
    const text = castText({ events: [[0.5, 'o', 'a'], [1.25, 'r', '100x30'], [2, 'o', 'b'], [2.5, 'x', '3']] });
    const { summary } = track(text + 'garbage\n[1,"o"\n["x","o","y"]\n');
    assert.deepEqual(summary, { duration: 2.5, cols: 100, rows: 30, exitCode: 3, events: 4 });
  });

  test('hostile headers never throw and are capped', () => {
    for (const raw of [{}, { version: 2, width: -1, height: 1e9 }, { kubecast: 'x', kubernetes: [1] }, { kubecast: { command: [1, 2] } }]) {
      assert.doesNotThrow(() => identityFromHeader(raw as Record<string, unknown>));
    }
    const big = identityFromHeader({ version: 2, kubecast: { user: 'u'.repeat(100_000), command: Array(10_000).fill('x') } });
    assert.ok(big.user.length <= 512);
    assert.ok((big.argv?.length ?? 0) <= 256);
  });

  test('exit codes: integers only', () => {
    assert.equal(exitCode('0'), 0);
    assert.equal(exitCode('137'), 137);
    assert.equal(exitCode('-1'), -1);
    assert.equal(exitCode('signal: killed'), null);
    assert.equal(exitCode('99999999999'), null);
  });
});
