// The local cluster's HTTP API, in-process (no processes are started), over http and https.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { humanDuration, parseLabelSelector, requestedTable } from '../../src/localcluster/api';
import { ListenPolicyError, LocalCluster } from '../../src/localcluster';

test('humanDuration matches kubectl AGE formatting', () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [120 * s, '2m'],
    [303 * s, '5m3s'],
    [45 * 60 * s, '45m'],
    [3 * 3600 * s, '3h'],
    [(3 * 3600 + 12 * 60) * s, '3h12m'],
    [30 * 3600 * s, '30h'],
    [(2 * 24 + 4) * 3600 * s, '2d4h'],
    [30 * 24 * 3600 * s, '30d'],
    [(3 * 365 + 10) * 24 * 3600 * s, '3y10d'],
    [9 * 365 * 24 * 3600 * s, '9y'],
  ];
  for (const [ms, expected] of cases) assert.equal(humanDuration(ms), expected, String(ms));
});

test('requestedTable reads kubectl Accept headers', () => {
  assert.deepEqual(requestedTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), {
    apiVersion: 'meta.k8s.io/v1',
  });
  assert.deepEqual(requestedTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io'), { apiVersion: 'meta.k8s.io/v1beta1' });
  assert.equal(requestedTable('application/json'), null);
  assert.equal(requestedTable(undefined), null);
});

test('label selectors: =, ==, !=, existence, negated existence; others refused', () => {
  const match = (selector: string, labels: Record<string, string>) => {
    const reqs = parseLabelSelector(selector);
    assert.ok(Array.isArray(reqs));
    return reqs.every((r) => r(labels));
  };
  assert.equal(match('app=web', { app: 'web' }), true);
  assert.equal(match('app==web,tier', { app: 'web' }), false);
  assert.equal(match('app!=web', { app: 'db' }), true);
  assert.equal(match('!tier', { app: 'db' }), true);
  assert.ok(!Array.isArray(parseLabelSelector('app in (a,b)')));
});

describe('HTTP API', () => {
  const cluster = new LocalCluster();
  let url = '';
  let dataDir = '';
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kubecast-lc-unit-'));
    // Plain http with a token, as an embedding proxy runs it: fetch needs no CA.
    url = (await cluster.start({ dataDir, token: 'tok', tls: false })).url;
  });
  after(async () => {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(url + path, { headers: { Authorization: 'Bearer tok', ...headers } });

  test('discovery: /version, /api, /apis, /api/v1 with pods and their subresources', async () => {
    assert.equal(((await (await get('/version')).json()) as { major: string }).major, '1');
    assert.deepEqual(((await (await get('/api')).json()) as { versions: string[] }).versions, ['v1']);
    assert.deepEqual(await (await get('/apis')).json(), { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    const v1 = (await (await get('/api/v1')).json()) as { resources: Array<{ name: string }> };
    assert.deepEqual(
      v1.resources.map((r) => r.name),
      ['namespaces', 'pods', 'pods/attach', 'pods/exec', 'pods/log'],
    );
  });

  test('pods: object, list, Table (v1 and v1beta1), includeObject', async () => {
    const pod = (await (await get('/api/v1/namespaces/default/pods/web-0')).json()) as Record<string, never>;
    assert.equal(pod['kind'], 'Pod');
    assert.equal(pod['apiVersion'], 'v1');
    assert.deepEqual(pod['metadata']['name'], 'web-0');
    assert.deepEqual(pod['metadata']['namespace'], 'default');
    assert.deepEqual(pod['metadata']['annotations'], { 'kubectl.kubernetes.io/default-container': 'app' });
    assert.deepEqual(
      (pod['spec']['containers'] as Array<{ name: string; stdin: boolean; tty: boolean }>).map((c) => [c.name, c.stdin, c.tty]),
      [
        ['app', true, true],
        ['sidecar', true, true],
      ],
    );
    const list = (await (await get('/api/v1/namespaces/default/pods')).json()) as { kind: string; items: unknown[] };
    assert.equal(list.kind, 'PodList');
    assert.equal(list.items.length, 2);
    const table = (await (await get('/api/v1/namespaces/default/pods', { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })).json()) as {
      kind: string;
      apiVersion: string;
      columnDefinitions: Array<{ name: string; priority: number }>;
      rows: Array<{ cells: unknown[]; object: { kind: string; metadata: { name: string } } }>;
    };
    assert.equal(table.kind, 'Table');
    assert.equal(table.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(
      table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name),
      ['Name', 'Ready', 'Status', 'Restarts', 'Age'],
    );
    assert.deepEqual(table.rows[1].cells.slice(0, 4), ['web-0', '2/2', 'Running', '0']);
    assert.equal(table.rows[0].object.kind, 'PartialObjectMetadata');
    const beta = (await (await get('/api/v1/pods?includeObject=None', { Accept: 'application/json;as=Table;v=v1beta1;g=meta.k8s.io' })).json()) as {
      apiVersion: string;
      rows: Array<{ object?: unknown }>;
    };
    assert.equal(beta.apiVersion, 'meta.k8s.io/v1beta1');
    assert.equal(beta.rows[0].object, undefined);
  });

  test('errors: 401 without the token, 404 Status, 405 for writes, 400 for exec without an upgrade', async () => {
    const anonymous = await fetch(url + '/api');
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { reason: string }).reason, 'Unauthorized');
    const missing = await get('/api/v1/namespaces/default/pods/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      code: 404,
      details: { name: 'nope', kind: 'pods' },
    });
    const unknown = await get('/apis/apps/v1');
    assert.equal(unknown.status, 404);
    const write = await fetch(url + '/api/v1/namespaces/default/pods/shell', { method: 'DELETE', headers: { Authorization: 'Bearer tok' } });
    assert.equal(write.status, 405);
    const exec = await get('/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=true');
    assert.equal(exec.status, 400);
    assert.equal(((await exec.json()) as { message: string }).message, 'Upgrade request required');
  });

  test('logs of a container whose main process never ran are empty; errors for bad containers', async () => {
    const logs = await get('/api/v1/namespaces/default/pods/shell/log?container=shell');
    assert.equal(logs.status, 200);
    assert.equal(await logs.text(), '');
    const ambiguous = await get('/api/v1/namespaces/default/pods/web-0/log');
    assert.equal(ambiguous.status, 400);
    assert.match(((await ambiguous.json()) as { message: string }).message, /choose one of: \[app sidecar\]/);
  });
});

/** GET over https trusting `ca` (undefined: the system store only). Resolves with the status and body. */
function httpsGet(url: string, ca: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS', () => {
  let dataDir = '';
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kubecast-lc-tls-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('a token means https with a certificate from the local CA in DATA/local-cluster/tls, kept across restarts', async () => {
    const cluster = new LocalCluster();
    const info = await cluster.start({ dataDir, token: 'tok' });
    let ca: string;
    try {
      assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      ca = info.ca ?? '';
      assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
      assert.ok(existsSync(join(dataDir, 'local-cluster', 'tls', 'ca.crt')));
      const ok = await httpsGet(`${info.url}/api/v1/namespaces/default/pods/shell`, ca, { Authorization: 'Bearer tok' });
      assert.equal(ok.status, 200);
      assert.equal((JSON.parse(ok.body) as { metadata: { name: string } }).metadata.name, 'shell');
      assert.equal((await httpsGet(`${info.url}/api`, ca)).status, 401);
      await assert.rejects(httpsGet(`${info.url}/api`, undefined), /self[- ]signed|unable to verify|certificate/i);
    } finally {
      await cluster.stop();
    }
    const again = new LocalCluster();
    const second = await again.start({ dataDir, token: 'tok' });
    await again.stop();
    assert.equal(second.ca, ca, 'the CA (and so the kubeconfig) stays valid across restarts');
  });

  test('tls can be chosen either way; a token over plain http is refused off loopback', async () => {
    const secure = new LocalCluster();
    const info = await secure.start({ dataDir, tls: true });
    await secure.stop();
    assert.match(info.url, /^https:/);
    const plain = new LocalCluster();
    const plainInfo = await plain.start({ dataDir });
    await plain.stop();
    assert.match(plainInfo.url, /^http:/);
    assert.equal(plainInfo.ca, undefined);
    await assert.rejects(new LocalCluster().start({ dataDir, token: 'tok', tls: false, listen: { host: '0.0.0.0', port: 0 } }), ListenPolicyError);
  });

  test('listening on all addresses: the URL is loopback, the certificate also names this machine', async () => {
    const cluster = new LocalCluster();
    const info = await cluster.start({ dataDir, token: 'tok', listen: { host: '0.0.0.0', port: 0 } });
    try {
      assert.equal(info.host, '0.0.0.0');
      assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await httpsGet(`${info.url}/version`, info.ca, { Authorization: 'Bearer tok' })).status, 200);
      const cert = new X509Certificate(readFileSync(join(dataDir, 'local-cluster', 'tls', 'server.crt')));
      if (/^[a-z0-9.-]+$/i.test(hostname())) assert.equal(cert.checkHost(hostname()), hostname());
    } finally {
      await cluster.stop();
    }
  });
});
