// The console API of kubecast serve, with real kubectl sessions behind it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { CLI, tempDir } from '../helpers/kubecast';
import { consoleRequest } from '../helpers/console-client';
import { withServe } from '../helpers/serve-fixture';
import { parseCast } from '../../src/cast';
import { ConsoleListenError, ConsoleServer, type ConsoleBackend } from '../../src/console/server';
import { createLogger } from '../../src/util/log';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

interface Listing {
  items: Array<{ id: string; exitCode: number | null; complete: boolean; live: boolean; hits?: Array<{ time: number; text: string }> }>;
  next: string | null;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console API', () => {
  test('search finds a word typed in a TTY session, with a hit inside that command\'s output; CLI ls --json and export agree', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const needle = `kubecast-needle-${Math.floor(Math.random() * 1e9)}`;
      const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
      try {
        await term.waitForText(/[$#] $/m);
        term.type('echo one two three\r');
        await term.waitForText('one two three');
        await new Promise((r) => setTimeout(r, 400));
        term.type(`echo ${needle}\r`);
        await term.waitForText(new RegExp(`^${needle}`, 'm'));
        await new Promise((r) => setTimeout(r, 400));
        term.type('exit\r');
        await term.waitForExit();
      } finally {
        term.dispose();
      }
      const listing = await waitFor('the search hit', async () => {
        const answer = await consoleRequest(consoleUrl, `/api/recordings?q=${encodeURIComponent(needle)}`);
        assert.equal(answer.status, 200);
        assert.equal(answer.headers['cache-control'], 'no-store');
        const body = answer.json<Listing>();
        // Sealed (digest signed) and search-indexed, so later listings do not change under the test.
        const item = body.items[0] as (typeof body.items)[0] & { integrity?: string; searchIndex?: string };
        return body.items.length > 0 && (item.hits?.length ?? 0) > 0 && item.complete && item.integrity !== 'pending' && item.searchIndex === 'done' ? body : undefined;
      });
      const recording = listing.items[0];
      // The hit's time falls within the output of `echo <needle>`.
      const cast = parseCast((await consoleRequest(consoleUrl, `/api/recordings/${recording.id}/cast`)).body);
      const outputs = cast.events.filter((e) => e.code === 'o');
      const typedAt = outputs.find((e) => e.data.includes(`echo ${needle}`))!.time;
      const printed = outputs.find((e) => new RegExp(`(^|\\n)${needle}`).test(e.data))!;
      const hit = recording.hits!.find((h) => h.text.trim() === needle);
      assert.ok(hit, `a hit on the output line: ${JSON.stringify(recording.hits)}`);
      assert.ok(hit.time >= typedAt && hit.time <= printed.time + 0.001, `hit at ${hit.time}, command typed at ${typedAt}, output at ${printed.time}`);

      const all = (await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>();
      const cli = spawnSync(process.execPath, [CLI, 'ls', '--json', '--data', fx.dataDir], { encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.deepEqual(JSON.parse(cli.stdout), all, 'kubecast ls --json lists what the API lists');
      const text = spawnSync(process.execPath, [CLI, 'export', recording.id, '--format', 'txt', '--data', fx.dataDir], { encoding: 'utf8' });
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^${needle}$`, 'm'));
      assert.ok(!text.stdout.includes("\u001b"), "no escape sequences");
      const apiText = await consoleRequest(consoleUrl, `/api/recordings/${recording.id}/text`);
      assert.equal(apiText.body, text.stdout);
    });
  });

  test('ids are validated before anything touches the disk; token, Host and method rules', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const before = readdirSync(fx.dataDir).sort();
      for (const path of [
        '/api/recordings/../../etc/passwd',
        '/api/recordings/..%2f..%2fetc%2fpasswd',
        '/api/recordings/%2e%2e',
        '/api/recordings/not-a-uuid',
        '/api/recordings/not-a-uuid/cast',
        '/api/recordings/%2e%2e%2f%2e%2e%2fkubeconfig/cast',
        '/api/recordings/00000000-0000-4000-8000-000000000000/cast',
      ]) {
        const answer = await consoleRequest(consoleUrl, path);
        assert.ok(answer.status === 400 || answer.status === 404, `${path}: ${answer.status}`);
        assert.doesNotMatch(answer.body, /BEGIN|token|root:/);
      }
      const del = await consoleRequest(consoleUrl, '/api/recordings/..%2f..%2fkubeconfig', { method: 'DELETE' });
      assert.ok(del.status === 400 || del.status === 404);
      assert.deepEqual(readdirSync(fx.dataDir).sort(), before, 'nothing created or removed');

      assert.equal((await consoleRequest(consoleUrl, '/api/recordings', { token: null })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/api/live', { token: 'wrong' })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/metrics', { token: null })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/api/recordings', { headers: { host: 'evil.example' } })).status, 403);
      const foreignDelete = await consoleRequest(consoleUrl, '/api/recordings/00000000-0000-4000-8000-000000000000', { method: 'DELETE', headers: { origin: 'http://evil.example' } });
      assert.equal(foreignDelete.status, 403);
      const health = await consoleRequest(consoleUrl, '/healthz', { token: null });
      assert.equal(health.status, 200);
      const metrics = await consoleRequest(consoleUrl, '/metrics');
      assert.match(metrics.body, /kubecast_sessions_attempted_total/);
      const api = await consoleRequest(consoleUrl, '/api/live');
      assert.equal(api.headers['access-control-allow-origin'], undefined, 'no CORS');
      assert.deepEqual(api.json(), { items: [] });
      // The console URL's token becomes an HttpOnly cookie and leaves the address bar.
      const page = await consoleRequest(consoleUrl, new URL(consoleUrl).pathname + new URL(consoleUrl).search, { token: null });
      assert.equal(page.status, 302);
      assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
      assert.equal(page.headers.location, '/');
    });
  });

  test('a malformed percent-escape in a page path is a 400, not a 500 with an error in the log', async () => {
    const logged: string[] = [];
    const logger = createLogger({ level: 'error', write: (line) => logged.push(line) });
    await withServe({ logger }, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      for (const path of ['/%zz', '/assets/%E0%A4%A', '/%']) {
        const answer = await consoleRequest(consoleUrl, path);
        assert.equal(answer.status, 400, `${path}: ${answer.body}`);
        assert.deepEqual(answer.json(), { error: 'bad path' });
      }
      assert.equal((await consoleRequest(consoleUrl, '/healthz')).status, 200, 'still serving');
    });
    assert.deepEqual(logged, [], 'nothing logged as an internal error');
  });

  test('the console refuses a non-loopback listen address before it listens; kubecast serve says so', async () => {
    const server = new ConsoleServer({ host: '0.0.0.0', port: 0, token: 't', rendererDir: '/nonexistent', backend: {} as ConsoleBackend });
    await assert.rejects(server.start(), ConsoleListenError);
    const data = tempDir('console-listen');
    try {
      const cli = spawnSync(process.execPath, [CLI, 'serve', '--data', data.path, '--console-listen', '0.0.0.0:0', '--json'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KUBECAST_LOG_LEVEL: 'error' } });
      assert.equal(cli.status, 2, cli.stderr);
      assert.equal(cli.stdout, '', 'no ready line');
      assert.match(cli.stderr, /^kubecast: --console-listen: the console is loopback-only .*0\.0\.0\.0 is not a loopback address/);
      assert.deepEqual(readdirSync(data.path), [], 'refused before anything started');
    } finally {
      data.cleanup();
    }
  });

  test('an unreadable kubeconfig gives contexts {items: [], error}; a refused settings change is neither applied nor saved', async () => {
    const dir = tempDir('bad-kubeconfig');
    const kubeconfig = join(dir.path, 'config');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncontexts: [unclosed\n');
    try {
      await withServe({ kubeconfig }, async (fx) => {
        const consoleUrl = fx.handle.urls.console!;
        const contexts = await consoleRequest(consoleUrl, '/api/contexts');
        assert.equal(contexts.status, 200);
        const body = contexts.json<{ items: unknown[]; error?: string }>();
        assert.deepEqual(body.items, []);
        assert.ok(typeof body.error === 'string' && body.error.length > 0, contexts.body);

        const before = (await consoleRequest(consoleUrl, '/api/settings')).json();
        const put = await consoleRequest(consoleUrl, '/api/settings', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ upstream: 'context:no-such-context', policy: 'fail-open', retainDays: 3 }),
        });
        assert.equal(put.status, 200);
        const result = put.json<{ applied: boolean; error?: string }>();
        assert.equal(result.applied, false);
        assert.ok(result.error, put.body);
        assert.deepEqual((await consoleRequest(consoleUrl, '/api/settings')).json(), before, 'nothing changed');
        const status = (await consoleRequest(consoleUrl, '/api/status')).json<{ upstream: { kind: string }; policy: string; retainDays: number | null }>();
        assert.equal(status.upstream.kind, 'local');
        assert.equal(status.policy, 'fail-closed');
        assert.equal(fx.handle.proxy.settings.policy, 'fail-closed', 'the proxy kept its policy');
        assert.equal(existsSync(join(fx.dataDir, 'settings.json')), false, 'nothing saved');
      });
    } finally {
      dir.cleanup();
    }
  });

  test('deleting needs the token and removes file and index entry', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const run = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'to-delete']);
      assert.equal(run.code, 0, run.stderr);
      const listing = await waitFor('the recording', async () => {
        const body = (await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>();
        return body.items.length === 1 && body.items[0].complete ? body : undefined;
      });
      const id = listing.items[0].id;
      assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${id}`, { method: 'DELETE', token: null })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${id}`, { method: 'DELETE' })).status, 200);
      assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${id}`)).status, 404);
      assert.equal(fx.recordings().length, 0);
      void join;
    });
  });
});
