// The plain API surface through real kubectl: get pods (server-side table), logs, errors, bearer token
// (https by default, plain http for an embedding proxy).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KUBECTL_PROFILES } from '../helpers/kubectl';
import { withLocalCluster } from './localcluster-fixture';

for (const profile of KUBECTL_PROFILES) {
  describe(`local cluster API, ${profile.label}`, () => {
    test('kubectl get pods lists the pods as a table', () =>
      withLocalCluster({}, async (fx) => {
        const r = await fx.kubectl(profile).run(['get', 'pods']);
        assert.equal(r.stderr, '');
        assert.equal(r.code, 0);
        const lines = r.stdoutText.trimEnd().split('\n');
        assert.match(lines[0], /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
        assert.match(lines[1], /^shell\s+1\/1\s+Running\s+0\s+\d+s$/);
        assert.match(lines[2], /^web-0\s+2\/2\s+Running\s+0\s+\d+s$/);
        assert.equal(lines.length, 3);
      }));

    test('get pods variants: -o wide, -A, by name, -o name, a label selector, another namespace', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const wide = await kubectl.run(['get', 'pods', '-o', 'wide']);
        assert.match(wide.stdoutText, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES\n/);
        assert.match(wide.stdoutText, /^shell\s+1\/1\s+Running\s+0\s+\S+\s+127\.0\.0\.1\s+kubecast-local\s+<none>\s+<none>$/m);
        const all = await kubectl.run(['get', 'pods', '-A']);
        assert.match(all.stdoutText, /^NAMESPACE\s+NAME\s+READY/);
        assert.match(all.stdoutText, /^default\s+web-0\s+2\/2\s+Running/m);
        const one = await kubectl.run(['get', 'pod', 'web-0']);
        assert.match(one.stdoutText, /^web-0\s+2\/2\s+Running/m);
        const names = await kubectl.run(['get', 'pods', '-o', 'name']);
        assert.equal(names.stdoutText, 'pod/shell\npod/web-0\n');
        const selected = await kubectl.run(['get', 'pods', '-l', 'app=web', '-o', 'name']);
        assert.equal(selected.stdoutText, 'pod/web-0\n');
        const json = await kubectl.run(['get', 'pod', 'shell', '-o', 'jsonpath={.spec.containers[0].name} {.status.phase}']);
        assert.equal(json.stdoutText, 'shell Running');
        const empty = await kubectl.run(['get', 'pods', '-n', 'elsewhere']);
        assert.equal(empty.code, 0);
        assert.match(empty.stderr, /No resources found in elsewhere namespace/);
        const missing = await kubectl.run(['get', 'pod', 'nope']);
        assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
        assert.equal(missing.code, 1);
      }));

    test('errors are Kubernetes Status objects kubectl prints', () =>
      withLocalCluster({}, async (fx) => {
        const kubectl = fx.kubectl(profile);
        const badContainer = await kubectl.run(['exec', 'web-0', '-c', 'nope', '--', 'true']);
        assert.match(badContainer.stderr, /container nope is not valid for pod web-0|container not found \("nope"\)/);
        assert.equal(badContainer.code, 1);
        // kubectl ≥1.30 logs words it its own way (also against a real cluster).
        const logsMissing = await kubectl.run(['logs', 'nope']);
        assert.match(logsMissing.stderr, /^(Error from server \(NotFound\): pods "nope" not found|error: error from server \(NotFound\): pods "nope" not found in namespace "default")\n$/);
        assert.equal(logsMissing.code, 1);
      }));

    test('with a token it serves https: kubectl trusting its CA is served, a wrong token is Unauthorized', () =>
      withLocalCluster({ token: 's3cret-token' }, async (fx) => {
        assert.match(fx.url, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.match(fx.ca ?? '', /^-----BEGIN CERTIFICATE-----/);
        const kubectl = fx.kubectl(profile);
        const hi = await kubectl.run(['exec', 'shell', '--', 'echo', 'hi']);
        assert.equal(hi.stdoutText, 'hi\n', hi.stderr);
        assert.equal(hi.code, 0);
        const pods = await kubectl.run(['get', 'pods', '-o', 'name']);
        assert.equal(pods.stdoutText, 'pod/shell\npod/web-0\n', pods.stderr);

        // A fresh kubectl fails at discovery, whose client cannot decode the Status: it words the 401
        // generically, as against a real API server. With discovery cached it prints the Status reason.
        const wrong = fx.kubectl(profile, { token: 's3cret-tokeN' });
        const refused = await wrong.run(['get', 'pods']);
        assert.match(refused.stderr, /error: You must be logged in to the server \(the server has asked for the client to provide credentials\)\n$/);
        assert.equal(refused.code, 1);
        const cached = ['--cache-dir', kubectl.sandbox.cacheDir];
        const exec = await wrong.run([...cached, 'exec', 'shell', '--', 'echo', 'hi']);
        assert.equal(exec.stderr, 'error: You must be logged in to the server (Unauthorized)\n');
        assert.equal(exec.code, 1);
        assert.equal(fx.cluster.sessions.length, 1, 'only the session with the right token was accepted');
      }));

    test('tls: false with a token (an embedding proxy sets the header): kubectl, which sends tokens only over TLS, is refused; a client with the header is served', () =>
      withLocalCluster({ token: 's3cret-token', tls: false }, async (fx) => {
        assert.match(fx.url, /^http:\/\//);
        // clientcmd applies user credentials only to TLS transports: over http kubectl sends no token at all.
        const refused = await fx.kubectl(profile).run(['get', 'pods']);
        assert.match(refused.stderr, /error: You must be logged in to the server \(the server has asked for the client to provide credentials\)\n$/);
        assert.equal(refused.code, 1);
        const exec = await fx.kubectl(profile).run(['exec', 'shell', '--', 'echo', 'hi']);
        assert.match(exec.stderr, /You must be logged in to the server/);
        assert.equal(exec.code, 1);
        assert.equal(fx.cluster.sessions.length, 0, 'no session was accepted without the token');

        const url = `${fx.url}/api/v1/namespaces/default/pods/shell`;
        const ok = await fetch(url, { headers: { Authorization: 'Bearer s3cret-token' } });
        assert.equal(ok.status, 200);
        assert.equal(((await ok.json()) as { metadata: { name: string } }).metadata.name, 'shell');
        const wrong = await fetch(url, { headers: { Authorization: 'Bearer s3cret-tokeN' } });
        assert.equal(wrong.status, 401);
        assert.deepEqual(await wrong.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      }));
  });
}
