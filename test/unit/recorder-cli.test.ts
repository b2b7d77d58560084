// `kubecast recorder --auth none` off loopback: refused unless acknowledged with
// --allow-unauthenticated, and then started with a loud warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { CLI, startKubecast, tempDir } from '../helpers/kubecast';

/**
 * SIGTERM at once after the ready line can kill a Node child before its signal handler is live
 * (seen with a bare `process.once('SIGTERM')` script too), so stops wait a moment.
 */
async function stopSoon(proc: Awaited<ReturnType<typeof startKubecast>>): Promise<number | null> {
  await new Promise((r) => setTimeout(r, 300));
  return proc.stop();
}

/** A non-loopback address of this machine (the check is about leaving loopback). */
function nonLoopbackAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  return '0.0.0.0';
}

test('--auth none on a non-loopback address is refused without --allow-unauthenticated', () => {
  const data = tempDir('recorder-cli');
  try {
    const result = spawnSync(process.execPath, [CLI, 'recorder', '--data', data.path, '--auth', 'none', '--listen', `${nonLoopbackAddress()}:0`, '--json'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--allow-unauthenticated/);
    assert.equal(result.stdout, '', 'never became ready');
  } finally {
    data.cleanup();
  }
});

test('--auth none --allow-unauthenticated on a non-loopback address starts, with a warning line', async () => {
  const data = tempDir('recorder-cli');
  const host = nonLoopbackAddress();
  const proc = await startKubecast(['recorder', '--data', data.path, '--auth', 'none', '--allow-unauthenticated', '--listen', `${host}:0`]);
  try {
    assert.match(proc.ready.recorder!, new RegExp(`^http://${host.replace(/\./g, '\\.')}:\\d+$`));
    assert.equal(proc.ready.token, null);
    assert.match(proc.stderr(), /^WARNING: .*UNAUTHENTICATED/m);
  } finally {
    assert.equal(await stopSoon(proc), 0);
    data.cleanup();
  }
});

test('--auth none on loopback needs no acknowledgement and prints no warning', async () => {
  const data = tempDir('recorder-cli');
  const proc = await startKubecast(['recorder', '--data', data.path, '--auth', 'none', '--listen', '127.0.0.1:0']);
  try {
    assert.doesNotMatch(proc.stderr(), /WARNING/);
  } finally {
    assert.equal(await stopSoon(proc), 0);
    data.cleanup();
  }
});
