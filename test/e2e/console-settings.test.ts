// Settings applied without a restart: switching the upstream in the Settings panel from the
// built-in local cluster to a second cluster (another `kubecast local-cluster`, standing in for a
// kubeconfig context) sends the next kubectl session there, while the same serve keeps running.

import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertNothingLeft,
  eventually,
  kubectlFor,
  openConsole,
  startLocalCluster,
  startServe,
  tempDir,
  type Child,
  type ConsoleBrowser,
  type ServeUrls,
} from './console-harness';

let serve: Child<ServeUrls>;
let second: Child<{ local: string }>;
let ui: ConsoleBrowser;
let dataDir: string;
let secondDir: string;

before(async () => {
  dataDir = tempDir('settings');
  secondDir = tempDir('second-cluster');
  // A pod only the second cluster has, so where a session ran is beyond doubt.
  const pods = join(secondDir, 'pods.json');
  writeFileSync(pods, JSON.stringify({ pods: [{ name: 'elsewhere', containers: [{ name: 'main', command: ['sh'] }] }] }));
  serve = await startServe(dataDir);
  second = await startLocalCluster(secondDir, ['--pods', pods]);
  ui = await openConsole(serve.info.console);
});

after(async () => {
  await ui?.close();
  await serve?.stop();
  await second?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(secondDir, { recursive: true, force: true });
  await assertNothingLeft();
});

test('switching the upstream in Settings sends the next session to the other cluster, without a restart', async () => {
  const { page } = ui;
  const { kubectl, sandbox } = kubectlFor(serve.info);
  try {
    const before = await kubectl.run(['exec', 'elsewhere', '--', 'echo', 'routed'], { timeoutMs: 30_000 });
    assert.notEqual(before.code, 0, 'the local cluster has no pod "elsewhere"');
    assert.match((await page.textContent('.status-line')) ?? '', /local cluster/);

    await page.click('.status-text'); // the status line opens Settings
    await page.waitForSelector('.settings-form fieldset');
    await page.getByRole('radio', { name: 'API server URL' }).check();
    await page.getByRole('textbox', { name: 'API server URL' }).fill(second.info.local);
    await page.getByRole('button', { name: 'Save' }).click();
    await eventually(async () => /Saved/.test((await page.textContent('.form-status')) ?? ''), 10_000, async () => `settings not saved: ${await page.textContent('.form-status')}`);
    assert.doesNotMatch((await page.textContent('.form-status')) ?? '', /restart/i, 'the upstream applies without a restart');

    const host = new URL(second.info.local).host;
    await eventually(async () => ((await page.textContent('.status-line')) ?? '').includes(host), 10_000, async () => `status line: ${await page.textContent('.status-line')}`);

    const after = await kubectl.run(['exec', 'elsewhere', '--', 'echo', 'routed-to-second'], { timeoutMs: 30_000 });
    assert.equal(after.code, 0, `kubectl exec in the second cluster failed: ${after.stderr}`);
    assert.equal(after.stdoutText.trim(), 'routed-to-second');
    assert.equal(serve.process.exitCode, null, 'serve kept running');

    // And it was recorded like any other session.
    await page.fill('.search-input', '');
    await eventually(async () => (await page.locator('.recordings-section [role="option"]', { hasText: 'elsewhere' }).count()) > 0, 10_000, () => 'the session in the second cluster is not listed');
  } finally {
    sandbox.cleanup();
  }
});

test('a refused change says it was not saved, and the panel keeps the running settings', async () => {
  const { page } = ui;
  await page.click('.status-text');
  await page.waitForSelector('.settings-form fieldset');
  const field = page.locator('input[name="dataDir"]');
  const running = await field.inputValue();
  // serve was started with --data, so the folder cannot be changed from Settings.
  await field.fill(`${running}-elsewhere`);
  await page.getByRole('button', { name: 'Save' }).click();
  await eventually(async () => /^Not saved, nothing changed: .*--data/.test((await page.textContent('.form-status')) ?? ''), 10_000, async () => `status: ${await page.textContent('.form-status')}`);
  assert.doesNotMatch((await page.textContent('.form-status')) ?? '', /Saved,/);
  const settings = await page.evaluate(async () => (await (await fetch('/api/settings')).json()) as { dataDir: string });
  assert.equal(settings.dataDir, running, 'nothing changed on the server');
});
