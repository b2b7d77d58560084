// Resize decoding, Status shapes and request validation of the local cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bearerAuthorized, checkListenPolicy, isLoopbackHost, parseTokenFile } from '../../src/localcluster/auth';
import { expectedStreamCount, negotiateStreamProtocol, offeredStreamProtocols } from '../../src/localcluster/exec-spdy';
import { pickWsSubprotocol } from '../../src/localcluster/exec-ws';
import { defaultPods, PodSet } from '../../src/localcluster/pods';
import { resolveExecutable } from '../../src/localcluster/process';
import { ResizeDecoder } from '../../src/localcluster/resize';
import { ApiError, exitCodeStatus, internalErrorStatus, legacyErrorText, resultStatus, successStatus } from '../../src/localcluster/status';
import { resolveStreamRequest } from '../../src/localcluster/stream-request';

test('resize: Go encoder output, lower-case keys, split and joined messages', () => {
  const d = new ResizeDecoder();
  assert.deepEqual(d.push(Buffer.from('{"Width":120,"Height":33}\n')), [{ width: 120, height: 33 }]);
  assert.deepEqual(d.push(Buffer.from('{"width":80,')), []);
  assert.deepEqual(d.push(Buffer.from('"height":24}\n{"Width":1,"Height":2}\n')), [
    { width: 80, height: 24 },
    { width: 1, height: 2 },
  ]);
  assert.deepEqual(d.push(Buffer.from('{"Width":0,"Height":0}')), [{ width: 0, height: 0 }]);
});

test('resize: malformed, out of range and endless input is rejected', () => {
  assert.throws(() => new ResizeDecoder().push(Buffer.from('[1,2]\n')), /not a JSON object/);
  assert.throws(() => new ResizeDecoder().push(Buffer.from('{"Width":"80"}\n')), /Width must be an integer/);
  assert.throws(() => new ResizeDecoder().push(Buffer.from('{"Width":70000,"Height":1}\n')), /between 0 and 65535/);
  assert.throws(() => new ResizeDecoder().push(Buffer.from('{"Width":1,,}\n')), /not valid JSON/);
  assert.throws(() => new ResizeDecoder().push(Buffer.from('{"Width":' + ' '.repeat(2000))), /longer than 1024 bytes/);
});

test('Status shapes on the error stream are exactly what kubectl decodes', () => {
  assert.equal(JSON.stringify(successStatus()), '{"metadata":{},"status":"Success"}');
  assert.equal(
    JSON.stringify(exitCodeStatus(3, ['sh', '-c', 'exit 3'])),
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  );
  assert.equal(
    JSON.stringify(internalErrorStatus('boom')),
    '{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}',
  );
  assert.deepEqual(resultStatus({ kind: 'exit', code: 0, command: ['true'] }), successStatus());
  assert.equal(legacyErrorText(successStatus()), '');
  assert.equal(legacyErrorText(internalErrorStatus('x')), 'Internal error occurred: x');
  assert.deepEqual(new ApiError(404, 'NotFound', 'pods "x" not found', { name: 'x', kind: 'pods' }).toStatus(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'pods "x" not found',
    reason: 'NotFound',
    code: 404,
    details: { name: 'x', kind: 'pods' },
  });
});

test('SPDY negotiation: all header lines, comma-split; kubelet order; v5 last resort; 400/403', () => {
  const raw = ['Host', 'x', 'X-Stream-Protocol-Version', 'v5.channel.k8s.io', 'x-stream-protocol-version', 'v4.channel.k8s.io, channel.k8s.io'];
  assert.deepEqual(offeredStreamProtocols(raw), ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io']);
  assert.deepEqual(negotiateStreamProtocol(offeredStreamProtocols(raw)), { protocol: 'v4.channel.k8s.io', version: 4 });
  assert.deepEqual(negotiateStreamProtocol(['v5.channel.k8s.io']), { protocol: 'v5.channel.k8s.io', version: 5 });
  assert.deepEqual(negotiateStreamProtocol(['channel.k8s.io']), { protocol: 'channel.k8s.io', version: 1 });
  assert.throws(() => negotiateStreamProtocol([]), (e: unknown) => e instanceof ApiError && e.code === 400);
  assert.throws(
    () => negotiateStreamProtocol(['v9']),
    (e: unknown) => e instanceof ApiError && e.code === 403 && e.headers.every(([name]) => name === 'X-Accepted-Stream-Protocol-Versions') && e.headers.length === 5,
  );
  const request = { kind: 'exec' as const, namespace: 'default', pod: 'shell', container: 'shell', command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true };
  assert.equal(expectedStreamCount(request, 4), 4);
  assert.equal(expectedStreamCount(request, 2), 3);
  assert.equal(pickWsSubprotocol(['v4.channel.k8s.io', 'v5.channel.k8s.io']), 'v5.channel.k8s.io');
  assert.equal(pickWsSubprotocol(['base64.channel.k8s.io']), null);
});

test('exec/attach URLs: defaults, kubelet rules and the errors kubectl prints', () => {
  const pods = new PodSet(defaultPods());
  const url = (path: string) => new URL(`http://x${path}`);
  const ok = resolveStreamRequest(url('/api/v1/namespaces/default/pods/shell/exec?command=sh&command=-c&command=echo+hi&stdout=true&stderr=1&tty=true'), pods);
  assert.ok(!(ok instanceof ApiError));
  assert.deepEqual(ok.request, { kind: 'exec', namespace: 'default', pod: 'shell', container: 'shell', command: ['sh', '-c', 'echo hi'], stdin: false, stdout: true, stderr: false, tty: true });
  const attach = resolveStreamRequest(url('/api/v1/namespaces/default/pods/web-0/attach?container=sidecar&stdin=true&stdout=true'), pods);
  assert.ok(!(attach instanceof ApiError));
  assert.equal(attach.request.container, 'sidecar');
  const message = (path: string) => {
    const r = resolveStreamRequest(url(path), pods);
    return r instanceof ApiError ? `${r.code} ${r.message}` : 'ok';
  };
  assert.equal(message('/api/v1/namespaces/default/pods/nope/exec?command=true&stdout=true'), '404 pods "nope" not found');
  assert.equal(message('/api/v1/namespaces/other/pods/shell/exec?command=true&stdout=true'), '404 pods "shell" not found');
  assert.equal(message('/api/v1/namespaces/default/pods/web-0/exec?command=true&stdout=true'), '400 a container name must be specified for pod web-0, choose one of: [app sidecar]');
  assert.equal(message('/api/v1/namespaces/default/pods/web-0/exec?command=true&container=db&stdout=true'), '400 container db is not valid for pod web-0');
  assert.equal(message('/api/v1/namespaces/default/pods/shell/exec?stdout=true'), '400 you must specify at least one command for the container');
  assert.equal(message('/api/v1/namespaces/default/pods/shell/exec?command=true'), '400 you must specify at least 1 of stdin, stdout, stderr');
  assert.match(message('/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=maybe'), /^400 invalid value for stdout/);
});

test('bearer token: constant-time compare; loopback policy; token files', () => {
  assert.equal(bearerAuthorized(undefined, undefined), true);
  assert.equal(bearerAuthorized('Bearer abc', 'abc'), true);
  assert.equal(bearerAuthorized('bearer  abc ', 'abc'), true);
  assert.equal(bearerAuthorized('Bearer abcd', 'abc'), false);
  assert.equal(bearerAuthorized('Basic abc', 'abc'), false);
  assert.equal(bearerAuthorized(undefined, 'abc'), false);
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) assert.equal(isLoopbackHost(host), false, host);
  assert.doesNotThrow(() => checkListenPolicy('127.0.0.1', undefined));
  assert.doesNotThrow(() => checkListenPolicy('0.0.0.0', 'token'));
  assert.throws(() => checkListenPolicy('0.0.0.0', undefined), /refusing to listen on 0\.0\.0\.0 without a token/);
  assert.equal(parseTokenFile('  abc\n', 'f'), 'abc');
  assert.throws(() => parseTokenFile('\n', 'f'), /empty/);
  assert.throws(() => parseTokenFile('a b', 'f'), /single word/);
});

test('executable lookup words failures like runc', () => {
  assert.deepEqual(resolveExecutable('no-such-binary-kc', '/usr/bin:/bin', '/'), { ok: false, reason: 'exec: "no-such-binary-kc": executable file not found in $PATH' });
  assert.deepEqual(resolveExecutable('./nope', '/usr/bin', '/tmp'), { ok: false, reason: 'exec: "./nope": stat ./nope: no such file or directory' });
  assert.deepEqual(resolveExecutable('/tmp', '/usr/bin', '/'), { ok: false, reason: 'exec: "/tmp": is a directory' });
  const sh = resolveExecutable('sh', '/usr/bin:/bin', '/');
  assert.ok(sh.ok && sh.path.endsWith('/sh'));
});
