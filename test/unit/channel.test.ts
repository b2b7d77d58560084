import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Channel,
  ResizeStreamDecoder,
  encodeResize,
  exitCodeOf,
  exitCodeStatus,
  failureStatus,
  parseErrorStream,
  parseResize,
  protocolInfo,
  roleFromChannel,
  roleFromStreamType,
  successStatus,
} from '../../src/protocol/channel';
import { ChannelError } from '../../src/protocol/errors';

const bytes = (s: string) => new TextEncoder().encode(s);

function assertChannelError(fn: () => unknown, code: string) {
  assert.throws(fn, (err: unknown) => err instanceof ChannelError && err.code === code, `expected ${code}`);
}

describe('stream roles', () => {
  test('SPDY streamtype values map to roles, case-insensitively; others are unknown', () => {
    for (const role of ['stdin', 'stdout', 'stderr', 'error', 'resize']) {
      assert.equal(roleFromStreamType(role), role);
      assert.equal(roleFromStreamType(role.toUpperCase()), role);
    }
    assert.equal(roleFromStreamType('data'), undefined);
    assert.equal(roleFromStreamType(undefined), undefined);
  });

  test('WebSocket channels 0–4 map to roles; 255 is the v5 close signal, not a role', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(roleFromChannel), ['stdin', 'stdout', 'stderr', 'error', 'resize']);
    assert.equal(roleFromChannel(Channel.CLOSE), undefined);
    assert.equal(roleFromChannel(5), undefined);
  });

  test('subprotocol names give version and encoding; absent means v1', () => {
    assert.deepEqual(protocolInfo('v5.channel.k8s.io'), { version: 5, base64: false });
    assert.deepEqual(protocolInfo('V4.channel.k8s.io'), { version: 4, base64: false });
    assert.deepEqual(protocolInfo('v4.base64.channel.k8s.io'), { version: 4, base64: true });
    assert.deepEqual(protocolInfo('base64.channel.k8s.io'), { version: 1, base64: true });
    assert.deepEqual(protocolInfo(undefined), { version: 1, base64: false });
  });
});

describe('resize', () => {
  test('kubectl form with capitalised keys and trailing newline', () => {
    assert.deepEqual(parseResize(bytes('{"Width":120,"Height":33}\n')), { cols: 120, rows: 33 });
  });

  test('lower-case and mixed-case keys, as Go decodes them', () => {
    assert.deepEqual(parseResize(bytes('{"width":10,"height":20}')), { cols: 10, rows: 20 });
    assert.deepEqual(parseResize(bytes('{"wIdTh":1,"HEIGHT":10000}')), { cols: 1, rows: 10000 });
  });

  test('encodeResize writes what kubectl writes', () => {
    assert.equal(encodeResize({ cols: 120, rows: 33 }), '{"Width":120,"Height":33}\n');
  });

  test('malformed payloads are typed errors (peer fuzz seeds)', () => {
    for (const bad of ['', '{', 'null', '[0,0]', '"x"', '{"Width":"80","Height":24}', '{"Width":1.5,"Height":2}', '{"Height":24}']) {
      assertChannelError(() => parseResize(bytes(bad)), 'RESIZE_BAD_JSON');
    }
  });

  test('sizes outside 1..10000 are typed errors', () => {
    for (const bad of ['{"Width":0,"Height":0}', '{"Width":-1,"Height":24}', '{"Width":10001,"Height":24}', '{"Width":9223372036854775808,"Height":1}']) {
      assertChannelError(() => parseResize(bytes(bad)), 'RESIZE_OUT_OF_RANGE');
    }
  });

  test('oversized resize JSON is refused before parsing', () => {
    const huge = `{"Width":80,"Height":24,"pad":"${'x'.repeat(70_000)}"}`;
    assertChannelError(() => parseResize(bytes(huge)), 'RESIZE_TOO_LARGE');
  });

  test('stream decoder: objects split across frames and several in one frame', () => {
    const decoder = new ResizeStreamDecoder();
    assert.deepEqual(decoder.push(bytes('{"Width":101,')), []);
    assert.deepEqual(decoder.push(bytes('"Height":31}\n{"Width":100,"Height":30}\n')), [
      { cols: 101, rows: 31 },
      { cols: 100, rows: 30 },
    ]);
  });

  test('stream decoder: a bad object is reported and the stream goes on', () => {
    const decoder = new ResizeStreamDecoder();
    const results = decoder.push(bytes('{"Width":0,"Height":0}\n{"Width":80,"Height":24}\n'));
    assert.equal(results.length, 2);
    assert.ok(results[0] instanceof ChannelError && results[0].code === 'RESIZE_OUT_OF_RANGE');
    assert.deepEqual(results[1], { cols: 80, rows: 24 });
  });

  test('stream decoder: braces inside strings do not confuse it', () => {
    const decoder = new ResizeStreamDecoder();
    assert.deepEqual(decoder.push(bytes('{"x":"}{\\"","Width":5,"Height":6}')), [{ cols: 5, rows: 6 }]);
  });

  test('stream decoder: an unterminated object is bounded', () => {
    const decoder = new ResizeStreamDecoder();
    assert.deepEqual(decoder.push(bytes('{"Width":' + ' '.repeat(40_000))), []);
    const results = decoder.push(bytes(' '.repeat(40_000)));
    assert.equal(results.length, 1);
    assert.ok(results[0] instanceof ChannelError && results[0].code === 'RESIZE_TOO_LARGE');
    assert.deepEqual(decoder.push(bytes('{"Width":7,"Height":8}')), [{ cols: 7, rows: 8 }]);
  });
});

describe('error stream Status', () => {
  const json = (v: unknown) => bytes(JSON.stringify(v));

  test('empty and Success mean exit 0', () => {
    assert.deepEqual(parseErrorStream(new Uint8Array(0), 4), { kind: 'success', code: 0 });
    assert.deepEqual(parseErrorStream(json(successStatus()), 4), { kind: 'success', code: 0 });
  });

  test('NonZeroExitCode with an ExitCode cause gives the code', () => {
    const status = parseErrorStream(json(exitCodeStatus(3)), 4);
    assert.equal(status.kind, 'exit');
    assert.equal(exitCodeOf(status), 3);
  });

  test('the kubelet form from the reference', () => {
    const text =
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: …","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}';
    assert.deepEqual(parseErrorStream(bytes(text), 5), { kind: 'exit', code: 7, message: 'command terminated with non-zero exit code: …' });
  });

  test('NonZeroExitCode without a usable cause is a failure, as client-go treats it', () => {
    const missing = parseErrorStream(json({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode' }), 4);
    assert.equal(missing.kind, 'failure');
    const bogus = parseErrorStream(
      json({ metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '999' }] } }),
      4,
    );
    assert.equal(bogus.kind, 'failure');
  });

  test('other failures carry the message', () => {
    const status = parseErrorStream(json(failureStatus('recording failed', 'InternalError', 500)), 4);
    assert.deepEqual(status, { kind: 'failure', message: 'recording failed', reason: 'InternalError', httpCode: 500 });
    assert.equal(exitCodeOf(status), 1);
  });

  test('v1–v3 error streams are plain text: any content is a failure', () => {
    assert.deepEqual(parseErrorStream(bytes('exec failed: boom\n'), 3), { kind: 'failure', message: 'exec failed: boom' });
  });

  test('garbage Status JSON is a typed error', () => {
    assertChannelError(() => parseErrorStream(bytes('{"status":'), 4), 'STATUS_BAD_JSON');
    assertChannelError(() => parseErrorStream(bytes('42'), 4), 'STATUS_BAD_JSON');
    assertChannelError(() => parseErrorStream(json({ status: 'Maybe' }), 4), 'STATUS_BAD_JSON');
  });

  test('an oversized error stream is refused', () => {
    assertChannelError(() => parseErrorStream(new Uint8Array(70_000).fill(0x20), 4), 'STATUS_TOO_LARGE');
  });
});
