import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classify, execRequest, normalizePath, queryBool } from '../../src/proxy/routes';

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
  });

  test('normalisation never escapes above the root', () => {
    assert.deepEqual(normalizePath('/../../etc/passwd'), ['etc', 'passwd']);
  });
});

describe('query parameters as the API server reads them', () => {
  test('tty truthiness: first value wins; absent/0/false are false; anything else true', () => {
    const read = (q: string) => queryBool(new URLSearchParams(q), 'tty');
    assert.equal(read(''), false);
    assert.equal(read('tty=false'), false);
    assert.equal(read('tty=FALSE'), false);
    assert.equal(read('tty=0'), false);
    assert.equal(read('tty=true'), true);
    assert.equal(read('tty=1'), true);
    assert.equal(read('tty=TRUE'), true);
    assert.equal(read('tty='), true);
    assert.equal(read('tty=yes'), true);
    assert.equal(read('tty=true&tty=false'), true);
    assert.equal(read('tty=false&tty=true'), false);
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
