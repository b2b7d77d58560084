// The console API of kubecast serve, with real kubectl sessions behind it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { CLI, tempDir } from '../helpers/kubecast';
import { consoleRequest } from '../helpers/console-client';
import { withServe } from '../helpers/serve-fixture';
import { parseCast } from '../../src/cast';
import { ConsoleListenError, ConsoleServer, type ConsoleBackend } from '../../src/console/server';
import { createLogger } from '../../src/util/log';
import { waitFor } from '../unit/live-fixtures';

const profile = KUBECTL_PROFILES.find((p) => p.version === '1.33')!;

interface Listing {
  items: Array<{ id: string; exitCode: number | null; complete: boolean; live: boolean; hits?: Array<{ time: number; text: string }> }>;
  next: string | null;
}

/** Every file and folder under `dir`: size and modification time, so any write shows. */
function dataTree(dir: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const rel = join(sub, name);
      const stat = statSync(join(dir, rel));
      if (stat.isDirectory()) {
        tree[rel + '/'] = 'dir';
        walk(rel);
      } else tree[rel] = `${stat.size} bytes, mtime ${stat.mtimeMs}`;
    }
  };
  walk('');
  return tree;
}

/** Sends a WebSocket upgrade for `path` and returns the status of the answer. `null` leaves a header out. */
function upgradeStatus(consoleUrl: string, path: string, override: Record<string, string | null> = {}): Promise<number> {
  const base = new URL(consoleUrl);
  const headers: Record<string, string | null> = {
    host: base.host,
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
    authorization: `Bearer ${base.searchParams.get('token')}`,
    ...override,
  };
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    let got = '';
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(got);
      if (status) {
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => reject(new Error(`no status line for ${path}: ${JSON.stringify(got)}`)));
    const lines = Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== null);
    socket.write(`GET ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  });
}

describe('console API', () => {
  test('after `echo kubecast-needle-$RANDOM` was typed, search finds the number the shell printed, with a hit inside that command\'s output; CLI ls --json and export agree', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const command = 'echo kubecast-needle-$RANDOM';
      // bash: the local cluster's sh is dash here, which has no $RANDOM.
      const term = fx.kubectl(profile).terminal(['exec', '-it', 'shell', '--', 'bash', '--norc', '--noprofile', '-i'], { cols: 100, rows: 30 });
      let needle: string;
      try {
        await term.waitForText(/[$#] $/m);
        term.type('echo one two three\r');
        await term.waitForText(/^one two three/m);
        await new Promise((r) => setTimeout(r, 400));
        term.type(command);
        await term.waitForText(command);
        await new Promise((r) => setTimeout(r, 300)); // the Enter comes clearly after the typing
        const from = term.mark();
        term.type('\r');
        const printed = await term.waitForText(/^kubecast-needle-(\d+)$/m, { from });
        needle = `kubecast-needle-${(printed as RegExpMatchArray)[1]}`;
        await term.waitForText(/[$#] $/m, { from: term.text.indexOf(needle, from) });
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
      assert.equal(listing.items.length, 1);
      const recording = listing.items[0];
      // From the recording's events: when the Enter was echoed after the typed command, and when
      // the next prompt came after the printed number. The hit lies between the two.
      const cast = parseCast((await consoleRequest(consoleUrl, `/api/recordings/${recording.id}/cast`)).body);
      const outputs = cast.events.filter((e) => e.code === 'o');
      const starts: number[] = [];
      let screenText = '';
      for (const event of outputs) {
        starts.push(screenText.length);
        screenText += event.data;
      }
      const timeOfChar = (index: number) => outputs[starts.findLastIndex((start) => start <= index)].time;
      const typed = screenText.indexOf(command);
      assert.ok(typed >= 0, 'the typed command is in the recording');
      const enter = screenText.indexOf('\n', typed + command.length);
      const output = screenText.indexOf(needle, enter); // the typed line has $RANDOM, not the number
      const prompt = screenText.slice(output + needle.length).search(/[$#] /) + output + needle.length;
      assert.ok(enter > typed && output > enter && prompt > output + needle.length, `positions: typed ${typed}, enter ${enter}, output ${output}, prompt ${prompt}`);
      const enteredAt = timeOfChar(enter);
      const promptAt = timeOfChar(prompt);
      assert.ok(enteredAt - timeOfChar(typed + command.length - 1) >= 0.2, 'the Enter is told apart from the typing');
      const hit = recording.hits!.find((h) => h.text.trim() === needle);
      assert.ok(hit, `a hit on the output line: ${JSON.stringify(recording.hits)}`);
      assert.ok(hit.time >= enteredAt && hit.time <= promptAt, `hit at ${hit.time}, Enter echoed at ${enteredAt}, next prompt at ${promptAt}`);

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

  test('traversal and malformed ids get 400/404 on GET, DELETE and the live route, and touch nothing; token, Host and method rules', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const run = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'keep-me']);
      assert.equal(run.code, 0, run.stderr);
      // Sealed and search-indexed: nothing is left for the library to write on its own.
      const id = await waitFor('a sealed recording', async () => {
        const items = (await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>().items as Array<Listing['items'][0] & { integrity: string; searchIndex: string }>;
        return items.length === 1 && items[0].complete && items[0].integrity !== 'pending' && items[0].searchIndex === 'done' ? items[0].id : undefined;
      });
      await new Promise((r) => setTimeout(r, 500)); // the index's periodic flush
      const before = dataTree(fx.dataDir);
      const attempts: string[] = [];
      for (const suffix of ['', '/text', '/cast', '/index']) {
        attempts.push(
          `/api/recordings/${id}/..${suffix}`,
          `/api/recordings/..%2f${id}${suffix}`,
          `/api/recordings/..%2F..%2F${id}${suffix}`,
          `/api/recordings/%2E%2E${suffix}`,
          `/api/recordings/%2e%2e${suffix}`,
          `/api/recordings/not-a-uuid${suffix}`,
          `/api/recordings/${id.toUpperCase()}x${suffix}`,
        );
      }
      attempts.push('/api/recordings/../../etc/passwd', '/api/recordings/%2e%2e%2f%2e%2e%2fkubeconfig/cast', `/api/recordings/${id}%00/cast`, '/api/recordings/00000000-0000-4000-8000-000000000000/cast');
      for (const path of attempts) {
        for (const method of ['GET', 'DELETE']) {
          const answer = await consoleRequest(consoleUrl, path, { method });
          assert.ok(answer.status === 400 || answer.status === 404, `${method} ${path}: ${answer.status}`);
          assert.doesNotMatch(answer.body, /BEGIN|token|root:|keep-me/, `${method} ${path} leaks nothing`);
        }
      }
      for (const path of [`/api/live/${id}/..`, `/api/live/..%2f${id}`, '/api/live/%2E%2E', '/api/live/%2e%2e', '/api/live/not-a-uuid', `/api/live/${id}/cast`]) {
        const status = await upgradeStatus(consoleUrl, path);
        assert.ok(status === 400 || status === 404, `upgrade ${path}: ${status}`);
      }
      assert.deepEqual(dataTree(fx.dataDir), before, 'no file in the data folder created, removed, resized or touched');
      const listing = (await consoleRequest(consoleUrl, '/api/recordings')).json<Listing>();
      assert.deepEqual(listing.items.map((r) => r.id), [id], 'the recording is still listed');
      assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${id}`)).status, 200);
      assert.match((await consoleRequest(consoleUrl, `/api/recordings/${id}/cast`)).body, /keep-me/);

      assert.equal((await consoleRequest(consoleUrl, '/api/recordings', { token: null })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/api/live', { token: 'wrong' })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/metrics', { token: null })).status, 401);
      assert.equal((await consoleRequest(consoleUrl, '/api/recordings', { headers: { host: 'evil.example' } })).status, 403);
      const foreignDelete = await consoleRequest(consoleUrl, `/api/recordings/${id}`, { method: 'DELETE', headers: { origin: 'http://evil.example' } });
      assert.equal(foreignDelete.status, 403);
      assert.equal((await consoleRequest(consoleUrl, `/api/recordings/${id}`)).status, 200, 'a refused DELETE deletes nothing');
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

  test('the live WebSocket route: no token 401, wrong token 401, foreign Host or Origin 403, not-a-uuid 404, a valid id 101', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const id = '00000000-0000-4000-8000-000000000000';
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`, { authorization: null }), 401);
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`, { authorization: 'Bearer wrong' }), 401);
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`, { host: 'evil.example' }), 403);
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`, { host: `evil.example:${new URL(consoleUrl).port}` }), 403);
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`, { origin: 'http://evil.example' }), 403);
      assert.equal(await upgradeStatus(consoleUrl, '/api/live/not-a-uuid'), 404);
      // A well-formed id is upgraded (then closed with 4404 when no such session is live).
      assert.equal(await upgradeStatus(consoleUrl, `/api/live/${id}`), 101);
    });
  });

  test('the live WebSocket route refuses dot segments like the HTTP routes do', async () => {
    await withServe({}, async (fx) => {
      const consoleUrl = fx.handle.urls.console!;
      const id = '00000000-0000-4000-8000-000000000000';
      for (const path of [`/api/live/x/../${id}`, `/api/live/../live/${id}`, `/api/live/%2e%2e/live/${id}`]) {
        const status = await upgradeStatus(consoleUrl, path);
        assert.ok(status === 400 || status === 404, `upgrade ${path}: ${status}`);
      }
    });
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
