// kubectl cp (exec + tar, reference §6) of a 3 MiB file in both directions, byte-identical.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withLocalCluster } from './localcluster-fixture';

for (const profile of KUBECTL_PROFILES) {
  describe(`local cluster cp, ${profile.label}`, () => {
    test('kubectl cp of a 3 MiB file round-trips byte-identically', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const content = randomBytes(3 * 1024 * 1024);
        const local = join(kubectl.sandbox.dir, 'upload.bin');
        writeFileSync(local, content);

        const up = await kubectl.run(['cp', 'upload.bin', 'shell:uploaded.bin']);
        assert.equal(up.code, 0, up.stderr);
        assert.ok(readFileSync(join(fx.workDir('shell', 'shell'), 'uploaded.bin')).equals(content), 'the file in the container differs');

        const down = await kubectl.run(['cp', 'shell:uploaded.bin', 'downloaded.bin']);
        assert.equal(down.code, 0, down.stderr);
        assert.ok(readFileSync(join(kubectl.sandbox.dir, 'downloaded.bin')).equals(content), 'the downloaded file differs');
        // Upload = `test -d` + `tar -xmf -`, download = `tar cf -`: three exec sessions.
        assert.equal(fx.cluster.sessions.length, 3);
        assert.ok(fx.cluster.sessions.every((s) => s.transport === profile.transport));
      }));
  });
}
