// How `kubecast serve` wires its parts: observers of ingested recordings, and the data folder
// chosen in Settings taking effect at the next start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { startKubecast, tempDir } from '../helpers/kubecast';
import { consoleRequest } from '../helpers/console-client';
import { shellQuote } from '../../src/util/shell';
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

  test('a data folder set in Settings is used by the next `kubecast serve` without --data (a pointer outside the data folder)', async () => {
    const home = tempDir('data-folder');
    // Everything the default lookup touches lives in the temporary folder, never the real home.
    const env = { HOME: home.path, XDG_DATA_HOME: join(home.path, 'share'), XDG_CONFIG_HOME: join(home.path, 'config'), KUBECAST_CONFIG_DIR: join(home.path, 'config', 'kubecast'), KUBECAST_DATA: '', KUBECAST_LOG_LEVEL: 'error' };
    const firstDir = join(home.path, 'share', 'kubecast');
    const newDir = join(home.path, 'Application Support', 'kubecast data');
    try {
      const first = await startKubecast(['serve'], { env });
      try {
        assert.equal(first.ready.data, firstDir, 'the platform default to start with');
        const put = await consoleRequest(first.ready.console!, '/api/settings', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ dataDir: newDir, policy: 'fail-open' }),
        });
        assert.equal(put.status, 200, put.body);
        assert.deepEqual(put.json(), { applied: true, restartRequired: true });
        assert.equal(((await consoleRequest(first.ready.console!, '/api/settings')).json() as { dataDir: string }).dataDir, newDir);
        const relative = await consoleRequest(first.ready.console!, '/api/settings', { method: 'PUT', body: JSON.stringify({ dataDir: 'relative/folder' }) });
        assert.match((relative.json() as { error: string }).error, /absolute path/);
      } finally {
        assert.equal(await first.stop(), 0, first.stderr());
      }
      assert.deepEqual(JSON.parse(readFileSync(join(home.path, 'config', 'kubecast', 'data-folder.json'), 'utf8')), { dataDir: newDir });

      const second = await startKubecast(['serve'], { env });
      try {
        assert.equal(second.ready.data, newDir, 'restarted in the new folder');
        assert.equal(second.ready.kubeconfig, join(newDir, 'kubeconfig'));
        assert.ok(existsSync(join(newDir, 'kubeconfig')));
        const status = (await consoleRequest(second.ready.console!, '/api/status')).json<{ dataDir: string; policy: string; kubectlCommand: string }>();
        assert.equal(status.dataDir, newDir);
        assert.equal(status.policy, 'fail-open', 'the settings came along to the new folder');
        // The folder has spaces: the command to paste must quote it.
        assert.equal(status.kubectlCommand, `kubectl --kubeconfig ${shellQuote(join(newDir, 'kubeconfig'))} exec -it shell -- sh`);
        assert.match(status.kubectlCommand, /--kubeconfig '.*kubecast data\/kubeconfig' exec/);
      } finally {
        assert.equal(await second.stop(), 0, second.stderr());
      }

      // With --data the folder is fixed by the command line: Settings says so and changes nothing.
      const fixed = await startKubecast(['serve', '--data', firstDir], { env });
      try {
        const put = await consoleRequest(fixed.ready.console!, '/api/settings', { method: 'PUT', body: JSON.stringify({ dataDir: join(home.path, 'elsewhere') }) });
        const result = put.json<{ applied: boolean; error: string }>();
        assert.equal(result.applied, false);
        assert.match(result.error, /--data/);
        assert.equal(existsSync(join(home.path, 'elsewhere')), false);
      } finally {
        assert.equal(await fixed.stop(), 0, fixed.stderr());
      }
      assert.equal(JSON.parse(readFileSync(join(home.path, 'config', 'kubecast', 'data-folder.json'), 'utf8')).dataDir, newDir, 'the pointer is unchanged');
    } finally {
      home.cleanup();
    }
  });
});
