import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const cli = 'bin/kubecast.js';

test('kubecast --help lists every subcommand and exits 0', () => {
  const result = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  for (const name of ['serve', 'proxy', 'recorder', 'local-cluster', 'ls', 'export', 'play', 'verify']) {
    assert.match(result.stdout, new RegExp(`^  ${name} `, 'm'), `missing ${name}`);
  }
});

test('an unknown subcommand is refused with exit 2 and the usage', () => {
  const result = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /unknown command "frobnicate"/);
  assert.match(result.stderr, /Usage: kubecast <command>/);
});
