// The local cluster's HTTP API, in-process (no processes are started).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { humanDuration, parseLabelSelector, requestedTable } from '../../src/localcluster/api';
import { LocalCluster } from '../../src/localcluster';

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
    url = (await cluster.start({ dataDir, token: 'tok' })).url;
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
