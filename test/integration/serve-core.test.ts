// How `kubecast serve` wires its parts: observers of ingested recordings.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withServe } from '../helpers/serve-fixture';
import type { IngestObserver } from '../../src/recorder/ingest';
import { createLogger } from '../../src/util/log';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

describe('kubecast serve core', () => {
  test('an observer that throws is logged through serve\'s logger and the recording is still stored and indexed', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const logger = createLogger({ level: 'error', write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>) });
    const broken: IngestObserver = {
      started: () => {
        throw new Error('broken observer');
      },
      lines: () => {},
      ended: () => {},
    };
    await withServe({ observers: [broken], logger }, async (fx) => {
      const run = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'still-recorded']);
      assert.equal(run.code, 0, run.stderr);
      const [recording] = await fx.waitForRecordings(1);
      assert.match(recording.text, /still-recorded/);
      const deadline = Date.now() + 10_000;
      while (fx.handle.library.list({}).items.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(fx.handle.library.list({}).items.length, 1, 'the library (an observer before the broken one) indexed it');
    });
    const failures = logged.filter((line) => line.msg === 'an ingest observer failed');
    assert.equal(failures.length, 1, JSON.stringify(logged));
    assert.equal(failures[0].error, 'broken observer');
    assert.equal(failures[0].component, 'recorder');
  });
});
