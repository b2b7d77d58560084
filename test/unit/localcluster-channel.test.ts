// Resize handling, Status shapes and request validation of the local cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitCodeStatus, internalErrorStatus, parseErrorStream, ResizeStreamDecoder, successStatus, type TerminalSize } from '../../src/protocol/channel';
import { bearerAuthorized, checkListenPolicy, isLoopbackHost, parseTokenFile } from '../../src/localcluster/auth';
import { expectedStreamCount, negotiateStreamProtocol, offeredStreamProtocols } from '../../src/localcluster/exec-spdy';
import { pickWsSubprotocol } from '../../src/localcluster/exec-ws';
import { localClusterKubeconfig } from '../../src/localcluster/kubeconfig';
import { defaultPods, PodSet } from '../../src/localcluster/pods';
import { resolveExecutable } from '../../src/localcluster/process';
import { applyResize, type ContainerSession } from '../../src/localcluster/session';
import { ApiError, internalError, legacyErrorText, resultStatus } from '../../src/localcluster/status';
import { resolveStreamRequest } from '../../src/localcluster/stream-request';
import { silentLogger, type Logger } from '../../src/util/log';

/** A session that records the sizes it is given. */
function sizingSession(): { session: ContainerSession; sizes: TerminalSize[] } {
  const sizes: TerminalSize[] = [];
  const session: ContainerSession = {
    start: () => {},
    stdin: () => true,
    onStdinDrain: () => {},
    stdinEnd: () => {},
    resize: (size) => void sizes.push(size),
    abort: () => {},
  };
  return { session, sizes };
}

test('resize: Go encoder output, lower-case keys, split and joined messages reach the session', () => {
  const decoder = new ResizeStreamDecoder();
  const { session, sizes } = sizingSession();
  const feed = (text: string) => applyResize(decoder, Buffer.from(text), session, silentLogger);
  assert.equal(feed('{"Width":120,"Height":33}\n'), null);
  assert.equal(feed('{"width":80,'), null);
  assert.equal(feed('"height":24}\n{"Width":1,"Height":2}\n'), null);
  assert.deepEqual(sizes, [
    { cols: 120, rows: 33 },
    { cols: 80, rows: 24 },
    { cols: 1, rows: 2 },
  ]);
});

test('resize: 0×0 (a terminal kubectl cannot measure) is skipped with a log line; the session goes on', () => {
  const decoder = new ResizeStreamDecoder();
  const { session, sizes } = sizingSession();
  const lines: string[] = [];
  const log: Logger = { ...silentLogger, info: (msg, fields) => void lines.push(`${msg} ${JSON.stringify(fields)}`) };
  assert.equal(applyResize(decoder, Buffer.from('{"Width":0,"Height":0}\n{"Width":90,"Height":30}\n'), session, log), null);
  assert.deepEqual(sizes, [{ cols: 90, rows: 30 }]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^ignoring resize .*outside 1\.\.10000/);
});

test('resize: a malformed message is returned to the transport, which ends the session with it', () => {
  for (const bad of ['[1,2]\n', '{"Width":"80","Height":1}\n', '{"Width":1,,}\n']) {
    const { session, sizes } = sizingSession();
    const err = applyResize(new ResizeStreamDecoder(), Buffer.from(bad), session, silentLogger);
    assert.equal(err?.code, 'RESIZE_BAD_JSON', bad);
    assert.deepEqual(sizes, []);
  }
  const endless = applyResize(new ResizeStreamDecoder(), Buffer.from('{"Width":' + ' '.repeat(70_000)), sizingSession().session, silentLogger);
  assert.equal(endless?.code, 'RESIZE_TOO_LARGE');
});

test('Status shapes on the error stream are exactly what kubectl decodes', () => {
  assert.equal(JSON.stringify(resultStatus({ kind: 'success' })), '{"metadata":{},"status":"Success"}');
  const exit = resultStatus({ kind: 'exit', code: 3, command: ['sh', '-c', 'exit 3'] });
  assert.equal(
    JSON.stringify(exit),
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  );
  assert.deepEqual(parseErrorStream(Buffer.from(JSON.stringify(exit)), 4), { kind: 'exit', code: 3, message: exit.message });
  const failure = resultStatus({ kind: 'failure', message: 'boom' });
  assert.equal(
    JSON.stringify(failure),
    '{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}',
  );
  assert.deepEqual(resultStatus({ kind: 'exit', code: 0, command: ['true'] }), successStatus());
  assert.equal(legacyErrorText(successStatus()), '');
  assert.equal(legacyErrorText(failure), 'Internal error occurred: boom');
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
  assert.deepEqual(internalError(new Error('disk on fire')).toStatus(), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Internal error occurred: disk on fire',
    reason: 'InternalError',
    code: 500,
    details: { causes: [{ message: 'disk on fire' }] },
  });
});

test('channel.ts builders: exit detail defaults to Go exec wording; internal errors carry their cause', () => {
  assert.equal(exitCodeStatus(2).message, 'command terminated with non-zero exit code: exit status 2');
  assert.equal(exitCodeStatus(2, 'custom').message, 'command terminated with non-zero exit code: custom');
  assert.deepEqual(internalErrorStatus('x').details, { causes: [{ message: 'x' }] });
  assert.deepEqual(parseErrorStream(Buffer.from(JSON.stringify(internalErrorStatus('x'))), 4), {
    kind: 'failure',
    message: 'Internal error occurred: x',
    reason: 'InternalError',
    httpCode: 500,
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
  // Query booleans as the API server reads them: anything but absent, "0" and "false" is true.
  assert.equal(message('/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=maybe'), 'ok');
  assert.equal(message('/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=%zz&stdout=0'), '400 you must specify at least 1 of stdin, stdout, stderr');
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
  assert.doesNotThrow(() => checkListenPolicy('127.0.0.1', 'token', false));
  assert.throws(() => checkListenPolicy('0.0.0.0', 'token', false), /over plain http with a token/);
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

test('kubeconfig: the token and, for https, the CA as certificate-authority-data', () => {
  const plain = JSON.parse(localClusterKubeconfig({ server: 'http://127.0.0.1:1' }));
  assert.deepEqual(plain.clusters[0].cluster, { server: 'http://127.0.0.1:1' });
  assert.deepEqual(plain.users[0].user, {});
  const ca = '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n';
  const secure = JSON.parse(localClusterKubeconfig({ server: 'https://127.0.0.1:1', token: 't', ca }));
  assert.deepEqual(secure.clusters[0].cluster, { server: 'https://127.0.0.1:1', 'certificate-authority-data': Buffer.from(ca).toString('base64') });
  assert.deepEqual(secure.users[0].user, { token: 't' });
});
