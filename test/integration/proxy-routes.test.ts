// The proxy's front door: tokens, pass-through of ordinary requests, and path tricks that must not
// slip a session past the recorder.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get } from 'node:https';
import WebSocket from 'ws';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withServe, type ServeFixture } from '../helpers/serve-fixture';
import { counterTotal, rawRequest, upgradingStub, wsUpgradeHead } from '../helpers/raw-http';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

/** Opens a v5 WebSocket exec/other upgrade through the proxy and collects what comes back. */
function upgrade(fx: ServeFixture, path: string, token = fx.handle.token): Promise<{ status: number | null; messages: Buffer[]; body: string }> {
  const ca = readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8');
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    const ws = new WebSocket(fx.handle.urls.proxy.replace('https:', 'wss:') + path, ['v5.channel.k8s.io'], { headers: { authorization: `Bearer ${token}` }, ca });
    ws.on('message', (data: Buffer) => messages.push(data));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? null, messages, body }));
    });
    ws.on('close', () => resolve({ status: 101, messages, body: '' }));
    ws.on('error', () => {});
  });
}

describe('proxy authentication and pass-through', () => {
  test('without a token or with a wrong one kubectl is refused (401)', async () => {
    await withServe({}, async (fx) => {
      const wrong = await fx.kubectl(profile, { token: 'not-the-token' }).run(['get', 'pods']);
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr, /You must be logged in to the server/);
      // Without any credentials kubectl asks for a username (stdin is not a terminal here: EOF).
      const none = await fx.kubectl(profile, { token: null }).run(['get', 'pods']);
      assert.equal(none.code, 1, none.stderr);
      // What the proxy answers, seen directly: a 401 Status.
      const ca = readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8');
      for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          get(fx.handle.urls.proxy + '/api/v1/namespaces/default/pods', { ca, headers }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          }).on('error', reject);
        });
        assert.equal(status, 401);
        assert.equal(JSON.parse(body).reason, 'Unauthorized');
      }
      const exec = await fx.kubectl(profile, { token: 'not-the-token' }).run(['exec', 'shell', '--', 'echo', 'hi']);
      assert.equal(exec.code, 1);
      assert.equal(fx.handle.localCluster!.sessions.length, 0);
    });
  });

  test('get pods and logs pass through unchanged', async () => {
    await withServe({}, async (fx) => {
      const kubectl = fx.kubectl(profile);
      const pods = await kubectl.run(['get', 'pods']);
      assert.equal(pods.code, 0, pods.stderr);
      assert.match(pods.stdoutText, /^NAME\s+READY\s+STATUS/m);
      assert.match(pods.stdoutText, /^shell\s+1\/1\s+Running/m);
      const logs = await kubectl.run(['logs', 'shell']);
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(fx.recordings().length, 0, 'nothing recorded for non-exec requests');
    });
  });
});

describe('path tricks cannot slip a session past the recorder', () => {
  const query = '?command=echo&command=recorded&stdout=true&stderr=true&container=shell';
  // Sent byte for byte over a raw socket: URL-based clients would normalise them first.
  const tricks = [
    '/api/v1/namespaces/default/pods/shell/exec',
    '/api/v1/namespaces/default/pods/shell/exec/',
    '//api/v1//namespaces/default/pods/shell/exec',
    '/api/v1/namespaces/default/pods/shell/%65xec',
    '/api/v1/namespaces/default/pods/shell/%2565xec',
    '/api/v1/namespaces/default/pods/shell/EXEC',
    '/api/v1/namespaces/default/pods/x/../shell/exec',
    '/api/v1/namespaces/default/pods/./shell/./exec',
    '/api/v1/namespaces/default/pods/shell%2Fexec',
  ];
  test('each trick is classified as a session; every session that ran was recorded; absolute-form is refused', async () => {
    await withServe({}, async (fx) => {
      const ca = readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8');
      for (const path of tricks) {
        const sessionsBefore = fx.handle.localCluster!.sessions.length;
        const recordingsBefore = fx.recordings().length;
        const attemptedBefore = await counterTotal(fx.handle.proxy.metrics.attempted);
        const result = await rawRequest(fx.handle.urls.proxy, wsUpgradeHead(path + query, fx.handle.token), { ca });
        // The proxy's own classification: whatever the local cluster makes of the path, the proxy
        // treated it as a session to record (this is what fail-open would otherwise pass unrecorded).
        assert.equal(await counterTotal(fx.handle.proxy.metrics.attempted), attemptedBefore + 1, `${path}: not classified as a session`);
        const ran = fx.handle.localCluster!.sessions.length - sessionsBefore;
        if (ran > 0) await fx.waitForRecordings(recordingsBefore + ran);
        const recorded = fx.recordings().length - recordingsBefore;
        assert.equal(recorded, ran, `${path}: ${ran} session(s) ran upstream, ${recorded} recorded (status ${result.status})`);
        if (path === tricks[0]) {
          assert.equal(ran, 1);
          assert.ok(result.body.includes('recorded'));
        }
      }
      const sessionsBefore = fx.handle.localCluster!.sessions.length;
      const absolute = await rawRequest(fx.handle.urls.proxy, wsUpgradeHead('http://kubernetes' + tricks[0] + query, fx.handle.token), { ca });
      assert.equal(absolute.status, 400);
      assert.equal(fx.handle.localCluster!.sessions.length, sessionsBefore);
    });
  });

  test('fail-open, an upstream that upgrades any path: every trick that reached it was recorded', async () => {
    const stub = await upgradingStub();
    stub.answer.upgrade = 'websocket';
    try {
      await withServe({ upstream: stub.url, policy: 'fail-open' }, async (fx) => {
        const all = [
          ...tricks,
          '/API/V1/Namespaces/default/Pods/shell/ATTACH',
          '/api/v1/namespaces/default/pods/./shell/%2e/exec',
          '/api/v1/namespaces/default/pods/shell/exec%20',
          '/api\\v1\\namespaces\\default\\pods\\shell\\exec',
        ];
        for (const path of all) {
          const response = await rawRequest(fx.handle.urls.proxy, wsUpgradeHead(path + '?command=sh&stdin=true&tty=1', fx.handle.token), { ca: readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8'), waitMs: 300 });
          assert.equal(response.status, 101, path);
        }
        assert.equal(stub.upgrades.length, all.length, 'every trick reached the upstream');
        assert.equal(await counterTotal(fx.handle.proxy.metrics.recorded), all.length, 'and every one was recorded');
        assert.equal(await counterTotal(fx.handle.proxy.metrics.unrecorded), 0);
      });
    } finally {
      await stub.close();
    }
  });

  test('fail-closed refuses port-forward and proxy upgrades with a Status that says why', async () => {
    await withServe({ policy: 'fail-closed' }, async (fx) => {
      for (const path of ['/api/v1/namespaces/default/pods/shell/portforward?ports=80', '/api/v1/namespaces/default/pods/shell/proxy/', '/api/v1/nodes/n1/proxy/exec/default/shell/shell?command=sh']) {
        const result = await upgrade(fx, path);
        assert.equal(result.status, 403, path);
        const status = JSON.parse(result.body);
        assert.equal(status.kind, 'Status');
        assert.match(status.message, /cannot be recorded/);
      }
      assert.equal(fx.handle.localCluster!.sessions.length, 0);
    });
  });

  test('fail-open passes them through unrecorded, counted in a metric', async () => {
    await withServe({ policy: 'fail-open' }, async (fx) => {
      const result = await upgrade(fx, '/api/v1/namespaces/default/pods/shell/portforward?ports=80');
      assert.notEqual(result.status, 403, 'not refused by kubecast');
      const metrics = await fx.handle.proxy.metrics.registry.metrics();
      assert.match(metrics, /kubecast_sessions_unrecorded_total\{type="pods\/portforward",reason="unrecordable-route"\} 1/);
    });
  });
});
