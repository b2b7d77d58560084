import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answeredProtocol, classify, execRequest, normalizePath, requestTargetProblem } from '../../src/proxy/routes';
import { apiServerBool, parseGoQuery } from '../../src/util/go-query';

describe('route classification', () => {
  const exec = '/api/v1/namespaces/default/pods/shell/exec';
  for (const path of [
    exec,
    exec + '/',
    '/api//v1///namespaces/default/pods/shell/exec',
    '/API/V1/Namespaces/default/Pods/shell/EXEC',
    '/api/v1/namespaces/default/pods/shell/%65xec',
    '/api/v1/namespaces/default/pods/shell/%2565xec',
    '/api/v1/namespaces/default/pods/shell%2Fexec',
    '/api/v1/./namespaces/default/pods/x/../shell/exec',
    '/api/v1/namespaces/default/pods/shell/exec?command=sh&tty=1',
    '\\api\\v1\\namespaces\\default\\pods\\shell\\exec',
  ]) {
    test(`${JSON.stringify(path)} is a recorded exec session`, () => {
      const route = classify(path, true);
      assert.equal(route.kind, 'session');
      assert.deepEqual(route.session, { namespace: 'default', pod: 'shell', sessionType: 'exec' });
    });
  }

  test('attach is a session too', () => {
    assert.equal(classify('/api/v1/namespaces/ns/pods/p/attach', true).session?.sessionType, 'attach');
  });

  test('shell-capable upgrades are recognised', () => {
    assert.equal(classify('/api/v1/namespaces/ns/pods/p/portforward', true).kind, 'shell-capable');
    assert.equal(classify('/api/v1/namespaces/ns/pods/p/proxy/ws', true).kind, 'shell-capable');
    assert.equal(classify('/api/v1/namespaces/ns/services/s/proxy', true).kind, 'shell-capable');
    assert.equal(classify('/api/v1/nodes/n1/proxy/exec/ns/p/c', true).kind, 'shell-capable');
    assert.equal(classify('/api/v1/nodes/n1/proxy/run/ns/p/c', true).label, 'nodes/proxy');
    assert.equal(classify('/api/v1/%6eodes/n1/proxy/attach/x', true).kind, 'shell-capable');
  });

  test('other upgrades and plain requests', () => {
    assert.equal(classify('/api/v1/namespaces/ns/pods?watch=1', true).kind, 'other-upgrade');
    assert.equal(classify(exec, false).kind, 'plain');
    // The application behind a pod or service proxy is reached over plain HTTP like any Service.
    assert.equal(classify('/api/v1/namespaces/ns/pods/p/proxy/x', false).kind, 'plain');
    assert.equal(classify('/api/v1/namespaces/ns/services/s/proxy/', false).kind, 'plain');
  });

  test('plain requests through nodes/{node}/proxy reach the kubelet API (it runs commands without an upgrade)', () => {
    for (const path of ['/api/v1/nodes/n1/proxy/run/default/shell/shell?cmd=id', '/api/v1/nodes/n1:10250/proxy/exec/ns/p/c', '/API/v1/%6Eodes/n1/Proxy/', '/api/v1/nodes/n1/proxy', '/api/v1/proxy/nodes/n1/run/ns/p/c']) {
      const route = classify(path, false);
      assert.equal(route.kind, 'shell-capable', path);
      assert.equal(route.label, 'nodes/proxy', path);
    }
    assert.equal(classify('/api/v1/nodes/n1', false).kind, 'plain');
    assert.equal(classify('/api/v1/nodes/n1/status', false).kind, 'plain');
  });

  test('only origin-form request targets are classified', () => {
    assert.equal(requestTargetProblem(exec), undefined);
    assert.equal(requestTargetProblem('//api/v1/x'), undefined);
    for (const target of ['http://x' + exec, 'https://x:6443' + exec, 'HTTP://x' + exec, '*', 'x' + exec, '', undefined, exec + '#frag', '/a#/../' + exec]) {
      assert.ok(requestTargetProblem(target), String(target));
    }
  });

  test('the stream protocol is the one the upstream answered, if the client offered it', () => {
    assert.deepEqual(answeredProtocol('SPDY/3.1', 'SPDY/3.1'), { protocol: 'spdy' });
    assert.deepEqual(answeredProtocol('websocket', 'websocket'), { protocol: 'websocket' });
    assert.deepEqual(answeredProtocol('websocket', 'WebSocket'), { protocol: 'websocket' });
    // Offered both: the answer decides, not the first offer.
    assert.deepEqual(answeredProtocol('websocket, SPDY/3.1', 'SPDY/3.1'), { protocol: 'spdy' });
    assert.deepEqual(answeredProtocol('SPDY/3.1, websocket', 'websocket'), { protocol: 'websocket' });
    assert.match((answeredProtocol('websocket', 'SPDY/3.1') as { error: string }).error, /did not offer/);
    assert.match((answeredProtocol('SPDY/3.1', 'websocket') as { error: string }).error, /did not offer/);
    assert.match((answeredProtocol('websocket, SPDY/3.1', undefined) as { error: string }).error, /not a single protocol/);
    assert.match((answeredProtocol('websocket, SPDY/3.1', 'websocket, SPDY/3.1') as { error: string }).error, /not a single protocol/);
    assert.match((answeredProtocol('h2c, websocket', 'h2c') as { error: string }).error, /cannot record/);
    assert.match((answeredProtocol('SPDY/3.1', 'SPDY/2') as { error: string }).error, /did not offer/);
  });

  test('normalisation never escapes above the root', () => {
    assert.deepEqual(normalizePath('/../../etc/passwd'), ['etc', 'passwd']);
  });
});

describe('query parameters as the API server reads them', () => {
  const tty = (q: string) => execRequest('/api/v1/namespaces/default/pods/shell/exec?' + q).tty;

  test('tty: first value wins; absent, "0" and "false" (any case) are false; anything else is true', () => {
    assert.equal(tty(''), false);
    assert.equal(tty('tty=false'), false);
    assert.equal(tty('tty=FALSE'), false);
    assert.equal(tty('tty=fAlSe'), false);
    assert.equal(tty('tty=0'), false);
    assert.equal(tty('tty=true'), true);
    assert.equal(tty('tty=1'), true);
    assert.equal(tty('tty=T'), true);
    assert.equal(tty('tty=TRUE'), true);
    assert.equal(tty('tty='), true);
    assert.equal(tty('tty'), true);
    // Not strconv.ParseBool: runtime.Convert_Slice_string_To_bool has no error case.
    assert.equal(tty('tty=yes'), true);
    assert.equal(tty('tty=f'), true);
    assert.equal(tty('tty=true&tty=false'), true);
    assert.equal(tty('tty=false&tty=true'), false);
  });

  test('tty: nothing is trimmed; pairs Go\'s ParseQuery drops are not read', () => {
    // " 0" is not "0": the API server gives this session a TTY.
    assert.equal(tty('tty=%200'), true);
    assert.equal(tty('tty=0%20'), true);
    assert.equal(tty('tty=+0'), true);
    // A malformed escape drops the pair, so the second value is the first the API server sees.
    assert.equal(tty('tty=%zz&tty=0'), false);
    assert.equal(tty('tty=%zz'), false);
    assert.equal(tty('tt%zzy=1&tty=0'), false);
    assert.equal(tty('tty=%2'), false);
    // A pair with ';' is dropped (Go 1.17+), so tty is absent.
    assert.equal(tty('tty=true;x=1'), false);
    assert.equal(tty('tty=true;x=1&tty=0'), false);
    // Escaped keys and values count.
    assert.equal(tty('%74ty=%31'), true);
    assert.equal(tty('tty=%66alse'), false);
    // strings.EqualFold folds U+017F (long s) to "s".
    assert.equal(tty('tty=fal%C5%BFe'), false);
  });

  test('Go ParseQuery: split on & only, + is a space, values in order', () => {
    assert.deepEqual([...parseGoQuery('a=1&&b=2+3&a=%41&c&d=x;y&e=%zz')], [
      ['a', ['1', 'A']],
      ['b', ['2 3']],
      ['c', ['']],
    ]);
    assert.equal(apiServerBool(parseGoQuery('x=1'), 'tty'), false);
  });

  test('command keeps argv boundaries; container takes the first value', () => {
    const req = execRequest('/x?command=sh&command=-c&command=echo+hi+there&container=a&container=b&stdin=true&tty=1');
    assert.deepEqual(req.command, ['sh', '-c', 'echo hi there']);
    assert.equal(req.container, 'a');
    assert.equal(req.tty, true);
    assert.equal(req.stdin, true);
    assert.equal(req.stderr, false);
  });
});
