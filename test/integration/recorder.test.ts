import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createH2Server } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { RecorderServer } from '../../src/recorder/server';
import { connectRecorder, RecorderConnectError } from '../../src/recorder/client';
import { RecordingStore } from '../../src/store/store';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function startRecorder(token: string | null = 'secret') {
  const dir = await mkdtemp(join(tmpdir(), 'kubecast-recorder-'));
  dirs.push(dir);
  const store = new RecordingStore(dir);
  const server = new RecorderServer({ host: '127.0.0.1', port: 0, store, token, ackIntervalMs: 200 });
  const url = await server.start();
  return { server, url, store, dir };
}

function castLines(n: number): Buffer {
  const lines = ['{"version":2,"width":80,"height":24,"timestamp":1700000000}'];
  for (let i = 0; i < n; i++) lines.push(JSON.stringify([i / 1000, 'o', `line ${i} ${'x'.repeat(i % 300)}\r\n`]));
  return Buffer.from(lines.join('\n') + '\n');
}

describe('recorder server and client', () => {
  test('v2 upload: acks reach the byte count and the file holds exactly what was sent', async () => {
    const { server, url, store } = await startRecorder();
    try {
      const upload = await connectRecorder([{ url, token: 'secret' }]);
      assert.equal(upload.version, 2);
      assert.ok(upload.recordingId);
      const data = castLines(5000);
      const acks: number[] = [];
      upload.onAck = (n) => acks.push(n);
      for (let i = 0; i < data.byteLength; i += 7777) upload.write(data.subarray(i, i + 7777));
      await upload.end();
      assert.equal(upload.acked, data.byteLength);
      assert.ok(acks.length >= 1);
      const path = await store.locate(upload.recordingId!);
      assert.ok(path);
      assert.deepEqual(await readFile(path), data);
    } finally {
      await server.stop();
    }
  });

  test('v1 upload (POST /record, Expect: 100-continue) stores the cast', async () => {
    const { server, url, dir } = await startRecorder(null);
    try {
      // A v1-only recorder in front: refuses HTTP/2, relays HTTP/1.1 to the real one.
      const h1only = createNetServer((socket) => {
        const upstream = new URL(url);
        // Refuse the h2 preface, then relay HTTP/1.1 bytes.
        socket.once('data', (first) => {
          if (first.toString('latin1').startsWith('PRI * HTTP/2.0')) {
            socket.end('HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\n\r\n');
            return;
          }
          const conn = netConnect(Number(upstream.port), upstream.hostname, () => {
            conn.write(first);
            socket.pipe(conn).pipe(socket);
          });
          conn.on('error', () => socket.destroy());
          socket.on('error', () => conn.destroy());
        });
      });
      await new Promise<void>((resolve) => h1only.listen(0, '127.0.0.1', resolve));
      const port = (h1only.address() as AddressInfo).port;
      try {
        const upload = await connectRecorder([{ url: `http://127.0.0.1:${port}` }]);
        assert.equal(upload.version, 1);
        const data = castLines(100);
        upload.write(data);
        await upload.end();
        const store = new RecordingStore(dir);
        const path = await store.locate(upload.recordingId!);
        assert.ok(path, 'recording id from the final response');
        assert.deepEqual(await readFile(path), data);
      } finally {
        h1only.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('a wrong or missing token is refused', async () => {
    const { server, url } = await startRecorder('secret');
    try {
      await assert.rejects(connectRecorder([{ url, token: 'wrong' }]), /401/);
      await assert.rejects(connectRecorder([{ url }]), /401/);
    } finally {
      await server.stop();
    }
  });

  test('errors from every address are reported together', async () => {
    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await connectRecorder([{ url: `http://127.0.0.1:${port}` }, { url: 'http://127.0.0.1:1' }], { dialTimeoutMs: 1000 }).catch((e: unknown) => e);
    assert.ok(err instanceof RecorderConnectError);
    assert.equal(err.attempts.length, 2);
    assert.match(err.message, new RegExp(`127.0.0.1:${port}`));
    assert.match(err.message, /127.0.0.1:1/);
  });

  test('a v2 recorder that stops acking trips the ack window', async () => {
    const silent = createH2Server();
    silent.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers[':method'] === 'HEAD') {
        stream.respond({ ':status': 200 });
        stream.end();
        return;
      }
      stream.respond({ ':status': 200 });
      stream.resume(); // reads, never acks
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const upload = await connectRecorder([{ url: `http://127.0.0.1:${port}` }], { ackTimeoutMs: 300 });
      const failed = new Promise<Error>((resolve) => (upload.onFailure = resolve));
      upload.write(castLines(10));
      const started = Date.now();
      const error = await failed;
      assert.match(error.message, /no ack|stopped acknowledging/);
      assert.ok(Date.now() - started < 2000);
    } finally {
      silent.close();
    }
  });
});

describe('resuming an upload', () => {
  test('a resumed upload appends after what the recorder holds (not over it)', async () => {
    const { server, url, store } = await startRecorder();
    try {
      const first = await connectRecorder([{ url, token: 'secret' }]);
      const data = castLines(50);
      const cut = data.indexOf(0x0a, 1000) + 1;
      first.write(data.subarray(0, cut));
      await new Promise<void>((resolve) => {
        first.onAck = (n) => n >= cut && resolve();
      });
      first.abort('simulated outage');
      await new Promise((r) => setTimeout(r, 200));
      const second = await connectRecorder([{ url, token: 'secret' }], { resumeId: first.recordingId });
      assert.equal(second.recordingId, first.recordingId);
      assert.equal(second.startOffset, cut);
      second.write(data.subarray(cut));
      await second.end();
      assert.deepEqual(await readFile((await store.locate(first.recordingId!))!), data);
    } finally {
      await server.stop();
    }
  });
});
