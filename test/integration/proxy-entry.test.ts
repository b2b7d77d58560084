// The proxy's request entry, over raw sockets: request targets and routes that no kubectl sends but
// anyone holding the token can, and that must not run a session unrecorded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { withServe, type ServeFixture } from '../helpers/serve-fixture';
import { createLogger } from '../../src/util/log';
import { ProxyServer } from '../../src/proxy/server';
import type { Upstream } from '../../src/proxy/upstream';
import { counterTotal, counterValue, plainHead, rawRequest, spdyUpgradeHead, upgradingStub, wsUpgradeHead, type RawResponse } from '../helpers/raw-http';

const EXEC = '/api/v1/namespaces/default/pods/shell/exec?command=echo&command=ran-upstream&stdout=true&stderr=true';

function send(fx: ServeFixture, request: string, waitMs?: number): Promise<RawResponse> {
  return rawRequest(fx.handle.urls.proxy, request, { ca: readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8'), waitMs });
}

function status(response: RawResponse): { kind: string; code: number; reason: string; message: string } {
  return JSON.parse(response.body.toString('utf8')) as { kind: string; code: number; reason: string; message: string };
}

for (const policy of ['fail-open', 'fail-closed'] as const) {
  describe(`absolute-form request targets (${policy})`, () => {
    test('are refused with a 400 Status, upgrade or not, before anything reaches the API server', async () => {
      await withServe({ policy }, async (fx) => {
        const token = fx.handle.token;
        // The raw client works: the same exec in origin-form runs upstream (and is recorded).
        const control = await send(fx, wsUpgradeHead(EXEC, token));
        assert.equal(control.status, 101, control.raw.toString('latin1').slice(0, 300));
        assert.ok(control.body.includes('ran-upstream'), 'the origin-form exec ran');
        assert.equal(fx.handle.localCluster!.sessions.length, 1);
        await fx.waitForRecordings(1);
        const attemptedBefore = await counterTotal(fx.handle.proxy.metrics.attempted);

        const requests = {
          'WebSocket upgrade, http://': wsUpgradeHead('http://x' + EXEC, token),
          'WebSocket upgrade, https:// with port': wsUpgradeHead('https://kubernetes.default.svc:443' + EXEC, token),
          'SPDY upgrade': spdyUpgradeHead('http://x' + EXEC, token),
          'WebSocket upgrade, upper-case scheme': wsUpgradeHead('HTTP://x' + EXEC, token),
          'plain GET (list pods)': plainHead('GET', 'http://x/api/v1/namespaces/default/pods', token),
          'plain POST to exec': plainHead('POST', 'http://x' + EXEC, token),
          'plain POST through nodes/proxy': plainHead('POST', 'http://x/api/v1/nodes/n1/proxy/run/default/shell/shell?cmd=id', token),
          'asterisk-form': plainHead('OPTIONS', '*', token),
          'fragment in the path': wsUpgradeHead('/api/v1/namespaces/default/pods/x#/../shell/exec?command=echo&stdout=true', token),
        };
        for (const [name, request] of Object.entries(requests)) {
          const response = await send(fx, request);
          assert.equal(response.status, 400, `${name}: ${response.raw.toString('latin1').slice(0, 300)}`);
          const body = status(response);
          assert.equal(body.kind, 'Status', name);
          assert.equal(body.reason, 'BadRequest', name);
          assert.match(body.message, /request target/, name);
        }
        assert.equal(fx.handle.localCluster!.sessions.length, 1, 'no session started upstream');
        assert.equal(await counterTotal(fx.handle.proxy.metrics.attempted), attemptedBefore);
        assert.equal(await counterTotal(fx.handle.proxy.metrics.unrecorded), 0, 'nothing passed through unrecorded');
        assert.equal(await counterValue(fx.handle.proxy.metrics.refused, { type: 'upgrade', reason: 'bad-request-target' }), 5);
        assert.equal(fx.recordings().length, 1);
      });
    });
  });
}

describe('nodes/{node}/proxy without an upgrade (the kubelet API runs commands over plain POST)', () => {
  const run = '/api/v1/nodes/n1/proxy/run/default/shell/shell?cmd=id';
  test('fail-closed: refused with a 403 Status that says why, and counted', async () => {
    await withServe({ policy: 'fail-closed' }, async (fx) => {
      for (const [method, path] of [['POST', run], ['GET', '/api/v1/nodes/n1/proxy/pods'], ['POST', '/API/v1/%6eodes/n1/proxy/run/default/shell/shell']]) {
        const response = await send(fx, plainHead(method, path, fx.handle.token));
        assert.equal(response.status, 403, `${method} ${path}: ${response.raw.toString('latin1').slice(0, 300)}`);
        const body = status(response);
        assert.equal(body.kind, 'Status');
        assert.equal(body.reason, 'Forbidden');
        assert.match(body.message, /nodes\/\{node\}\/proxy .*kubelet API runs commands.*fail-closed.*cannot be recorded/);
      }
      assert.equal(await counterValue(fx.handle.proxy.metrics.refused, { type: 'nodes/proxy', reason: 'unrecordable-route' }), 3);
      // Plain requests through pods/{pod}/proxy reach the pod's own HTTP server, as a Service would: passed.
      const pods = await send(fx, plainHead('GET', '/api/v1/namespaces/default/pods/shell/proxy/', fx.handle.token));
      assert.notEqual(pods.status, 403, pods.raw.toString('latin1').slice(0, 300));
      assert.notEqual(pods.status, 0);
      // Without a token: 401 first, as for everything else.
      assert.equal((await send(fx, plainHead('POST', run, undefined))).status, 401);
    });
  });

  test('fail-open: passed to the API server, with a warning and the unrecorded metric', async () => {
    await withServe({ policy: 'fail-open' }, async (fx) => {
      const response = await send(fx, plainHead('POST', run, fx.handle.token));
      // The local cluster has no kubelet API: its own refusal proves the request went upstream.
      assert.equal(response.status, 405, response.raw.toString('latin1').slice(0, 300));
      assert.doesNotMatch(status(response).message, /kubecast refuses/);
      assert.equal(await counterValue(fx.handle.proxy.metrics.unrecorded, { type: 'nodes/proxy', reason: 'unrecordable-route' }), 1);
      assert.equal(await counterTotal(fx.handle.proxy.metrics.refused), 0);
    });
  });
});

describe('refusals at session start', () => {
  test('an upgrade without a token or with a wrong one gets a 401 Status', async () => {
    await withServe({}, async (fx) => {
      for (const token of [undefined, 'not-the-token']) {
        for (const request of [wsUpgradeHead(EXEC, token), spdyUpgradeHead(EXEC, token)]) {
          const response = await send(fx, request);
          assert.equal(response.status, 401, response.raw.toString('latin1').slice(0, 200));
          assert.equal(response.headers['content-type'], 'application/json');
          assert.deepEqual(status(response), {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'Unauthorized: kubecast proxy token missing or wrong',
            reason: 'Unauthorized',
            code: 401,
          });
        }
      }
      assert.equal(fx.handle.localCluster!.sessions.length, 0);
      assert.equal(await counterTotal(fx.handle.proxy.metrics.attempted), 0);
    });
  });

  test('fail-closed with no recorder: 403 before anything runs, counted as refused (recorder-unreachable)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await withServe({ policy: 'fail-closed', recorders: [`http://127.0.0.1:${port}`], dialTimeoutMs: 500 }, async (fx) => {
      const response = await send(fx, spdyUpgradeHead(EXEC, fx.handle.token));
      assert.equal(response.status, 403);
      assert.match(status(response).message, /session must be recorded, but no recorder is reachable/);
      assert.equal(fx.handle.localCluster!.sessions.length, 0);
      assert.equal(await counterValue(fx.handle.proxy.metrics.refused, { type: 'exec', reason: 'recorder-unreachable' }), 1);
      assert.equal(await counterTotal(fx.handle.proxy.metrics.unrecorded), 0);
    });
  });
});

describe('the stream protocol is taken from the upstream 101, not from the request', () => {
  test('offered "websocket, SPDY/3.1", answered SPDY/3.1: the session is tapped as SPDY', async () => {
    const stub = await upgradingStub();
    try {
      await withServe({ upstream: stub.url, policy: 'fail-closed' }, async (fx) => {
        const response = await send(fx, wsUpgradeHead(EXEC, fx.handle.token, { Upgrade: 'websocket, SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' }), 500);
        assert.equal(response.status, 101, response.raw.toString('latin1'));
        assert.equal(response.headers.upgrade, 'SPDY/3.1');
        assert.equal(await counterValue(fx.handle.proxy.metrics.recorded, { type: 'exec', protocol: 'spdy' }), 1);
        assert.equal(await counterValue(fx.handle.proxy.metrics.recorded, { type: 'exec', protocol: 'websocket' }), 0);
      });
    } finally {
      await stub.close();
    }
  });

  test('fail-closed: an answer the client did not offer, or that cannot be recorded, is refused with a Status', async () => {
    const stub = await upgradingStub();
    try {
      await withServe({ upstream: stub.url, policy: 'fail-closed' }, async (fx) => {
        for (const [offer, answer, why] of [
          ['websocket', 'SPDY/3.1', /did not offer/],
          ['SPDY/3.1', 'websocket', /did not offer/],
          ['websocket, h2c', 'h2c', /cannot record/],
          ['websocket', 'websocket, SPDY/3.1', /not a single protocol/],
        ] as const) {
          stub.answer.upgrade = answer;
          const response = await send(fx, wsUpgradeHead(EXEC, fx.handle.token, { Upgrade: offer }));
          assert.equal(response.status, 403, `${offer} → ${answer}: ${response.raw.toString('latin1').slice(0, 300)}`);
          const body = status(response);
          assert.equal(body.kind, 'Status');
          assert.match(body.message, /session must be recorded/);
          assert.match(body.message, why);
        }
        assert.equal(stub.upgrades.length, 4, 'each reached the upstream (the answer decides)');
        assert.equal(await counterValue(fx.handle.proxy.metrics.refused, { type: 'exec', reason: 'protocol-mismatch' }), 4);
        assert.equal(await counterTotal(fx.handle.proxy.metrics.recorded), 0);
      });
    } finally {
      await stub.close();
    }
  });

  test('fail-open: such an answer is passed through unrecorded, with the metric', async () => {
    const stub = await upgradingStub();
    try {
      await withServe({ upstream: stub.url, policy: 'fail-open' }, async (fx) => {
        stub.answer.upgrade = 'SPDY/3.1';
        const response = await send(fx, wsUpgradeHead(EXEC, fx.handle.token), 500);
        assert.equal(response.status, 101);
        assert.equal(response.headers.upgrade, 'SPDY/3.1');
        assert.equal(await counterValue(fx.handle.proxy.metrics.unrecorded, { type: 'exec', reason: 'protocol-mismatch' }), 1);
        assert.equal(await counterTotal(fx.handle.proxy.metrics.recorded), 0);
      });
    } finally {
      await stub.close();
    }
  });
});

describe('structured logs', () => {
  /** Runs `body` with serve's logger captured; returns the proxy's lines, each parsed (every line must be JSON). */
  async function captured(options: Parameters<typeof withServe>[0], body: (fx: ServeFixture) => Promise<void>): Promise<Array<Record<string, unknown>>> {
    const lines: string[] = [];
    await withServe({ ...options, logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) }, body);
    const text = lines.join('');
    assert.ok(text.endsWith('\n'));
    const records = text.trimEnd().split('\n').map((line) => {
      assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      return JSON.parse(line) as Record<string, unknown>;
    });
    return records.filter((r) => r.component === 'proxy');
  }

  test('every line of one session carries its session id (and its recording id once known)', async () => {
    let recordingId = '';
    const lines = await captured({ policy: 'fail-closed' }, async (fx) => {
      const response = await send(fx, wsUpgradeHead(EXEC, fx.handle.token));
      assert.ok(response.body.includes('ran-upstream'));
      const [recording] = await fx.waitForRecordings(1);
      recordingId = recording.cast.header.kubecast?.id ?? '';
    });
    const messages = lines.map((l) => l.msg);
    assert.ok(messages.includes('session recorded'), JSON.stringify(messages));
    assert.ok(messages.includes('session ended'), JSON.stringify(messages));
    const ids = new Set(lines.map((l) => l.session));
    assert.equal(ids.size, 1, JSON.stringify(lines));
    assert.match(String([...ids][0]), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    for (const line of lines.filter((l) => l.msg === 'session recorded' || l.msg === 'session ended')) assert.equal(line.recording, recordingId);
  });

  test('an unrecorded session (fail-open, no recorder) has its id on every line too, distinct per session', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    let unrecordedCount = 0;
    const lines = await captured({ policy: 'fail-open', recorders: [`http://127.0.0.1:${port}`], dialTimeoutMs: 500 }, async (fx) => {
      for (let i = 0; i < 2; i++) assert.ok((await send(fx, wsUpgradeHead(EXEC, fx.handle.token))).body.includes('ran-upstream'));
      unrecordedCount = await counterValue(fx.handle.proxy.metrics.unrecorded, { type: 'exec', reason: 'recorder-unreachable' });
      assert.equal(await counterTotal(fx.handle.proxy.metrics.recorded), 0);
      assert.equal(fx.recordings().length, 0);
    });
    assert.equal(unrecordedCount, 2);
    const unrecorded = lines.filter((l) => String(l.msg).startsWith('session runs unrecorded'));
    assert.equal(unrecorded.length, 2, JSON.stringify(lines));
    assert.ok(lines.every((l) => typeof l.session === 'string'), JSON.stringify(lines));
    assert.equal(new Set(lines.map((l) => l.session)).size, 2);
    for (const first of unrecorded) {
      const mine = lines.filter((l) => l.session === first.session);
      assert.ok(mine.some((l) => l.msg === 'session ended' && l.recorded === false), JSON.stringify(mine));
    }
  });
});

test('upstream credentials that fail give each kind of request a 502 Status, and the proxy lives on', async () => {
  const upstream: Upstream = {
    kind: 'url',
    label: 'http://127.0.0.1:9',
    url: new URL('http://127.0.0.1:9'),
    cluster: 'broken',
    requestOptions: () => Promise.reject(new Error('exec credential plugin failed')),
  };
  const proxy = new ProxyServer({
    host: '127.0.0.1',
    port: 0,
    auth: { tokens: [{ token: 'tok', user: 'alice' }] },
    settings: { upstream, recorders: [], policy: 'fail-open', recordStdin: false, spoolDir: '/nonexistent', connect: { ackTimeoutMs: 1000, dialTimeoutMs: 500, totalTimeoutMs: 1000 } },
  });
  const url = await proxy.start();
  try {
    for (const request of [
      wsUpgradeHead('/api/v1/namespaces/default/pods/shell/portforward?ports=80', 'tok'),
      wsUpgradeHead(EXEC, 'tok'),
      plainHead('GET', '/api/v1/namespaces/default/pods', 'tok'),
      plainHead('POST', '/api/v1/nodes/n1/proxy/run/default/shell/shell', 'tok'),
    ]) {
      const response = await rawRequest(url, request);
      assert.equal(response.status, 502, request.split('\r\n')[0]);
      assert.match(status(response).message, /exec credential plugin failed/);
    }
  } finally {
    await proxy.stop(500);
  }
});
