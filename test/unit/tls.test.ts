import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadOrCreateTls } from '../../src/util/tls';

test('a loopback https server with the generated certificate is trusted through the generated CA only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-tls-'));
  try {
    const tls = await loadOrCreateTls(dir);
    assert.equal((await stat(join(dir, 'server.key'))).mode & 0o777, 0o600);
    const server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fetchWith = (ca?: string) =>
      new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port, ca, path: '/' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    try {
      assert.equal(await fetchWith(tls.ca), 'ok');
      await assert.rejects(fetchWith(undefined), /self-signed|unable to verify|certificate/i);
    } finally {
      server.close();
    }
    const again = await loadOrCreateTls(dir);
    assert.equal(again.cert, tls.cert, 'reused, not regenerated');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
