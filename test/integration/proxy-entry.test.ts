// The proxy's request entry, over raw sockets: request targets and routes that no kubectl sends but
// anyone holding the token can, and that must not run a session unrecorded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withServe, type ServeFixture } from '../helpers/serve-fixture';
import { counterTotal, counterValue, plainHead, rawRequest, spdyUpgradeHead, wsUpgradeHead, type RawResponse } from '../helpers/raw-http';

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
