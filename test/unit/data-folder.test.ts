// Which data folder kubecast uses without --data: KUBECAST_DATA, the pointer Settings writes, the platform folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataFolderPointerPath, resolveDataFolder, writeDataFolderPointer } from '../../src/util/paths';

test('--data, then KUBECAST_DATA, then the pointer, then the platform folder; only the last two may be repointed', () => {
  const root = mkdtempSync(join(tmpdir(), 'kubecast-paths-'));
  try {
    const env = { KUBECAST_CONFIG_DIR: join(root, 'config'), XDG_DATA_HOME: join(root, 'share') };
    const pointer = dataFolderPointerPath(env, 'linux');
    assert.equal(pointer, join(root, 'config', 'data-folder.json'));
    assert.deepEqual(resolveDataFolder(undefined, env, 'linux'), { dataDir: join(root, 'share', 'kubecast'), pointer });
    writeDataFolderPointer(pointer, join(root, 'chosen'));
    assert.deepEqual(resolveDataFolder(undefined, env, 'linux'), { dataDir: join(root, 'chosen'), pointer });
    assert.deepEqual(resolveDataFolder(undefined, { ...env, KUBECAST_DATA: join(root, 'env') }, 'linux'), { dataDir: join(root, 'env') });
    assert.deepEqual(resolveDataFolder(join(root, 'flag'), env, 'linux'), { dataDir: join(root, 'flag') });
    // A pointer that is not JSON or names a relative folder is ignored, never followed.
    writeFileSync(pointer, JSON.stringify({ dataDir: 'relative' }));
    assert.equal(resolveDataFolder(undefined, env, 'linux').dataDir, join(root, 'share', 'kubecast'));
    writeFileSync(pointer, '{');
    assert.equal(resolveDataFolder(undefined, env, 'linux').dataDir, join(root, 'share', 'kubecast'));
    assert.equal(dataFolderPointerPath({ XDG_CONFIG_HOME: '/x' }, 'linux'), '/x/kubecast/data-folder.json');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
