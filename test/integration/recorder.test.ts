import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as h2Connect, createServer as createH2Server, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { RecorderServer } from '../../src/recorder/server';
import { connectRecorder, RecorderConnectError } from '../../src/recorder/client';
import { RecordingStore } from '../../src/store/store';
import { SessionRecording } from '../../src/proxy/recording';
import { ProxyMetrics } from '../../src/proxy/metrics';
import { silentLogger, type Logger } from '../../src/util/log';
import { startKubecast, tempDir } from '../helpers/kubecast';
import { listCasts as listCastFiles } from '../helpers/serve-fixture';

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
    const silent = h2Recorder((stream) => stream.resume()); // reads, never acks
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

/** An h2c recorder of our own making: HEAD /v2/record → 200, each POST answered 200 and handed to `onPost`. */
function h2Recorder(onPost: (stream: ServerHttp2Stream) => void): Http2Server {
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':method'] === 'HEAD') {
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200 });
    onPost(stream);
  });
  return server;
}

async function listen(server: Http2Server | Server | ReturnType<typeof createHttpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A third-party v2 recorder shaped like the peer's tsrecorder: acks count bytes received (not
 * stored), come every few ms, and the response ends as soon as the request body does — with no
 * final ack for the last bytes.
 */
function peerStyleRecorder() {
  const received: Buffer[] = [];
  const server = h2Recorder((stream) => {
    let count = 0;
    const timer = setInterval(() => stream.write(`{"ack":${count}}\n`), 3);
    stream.on('data', (chunk: Buffer) => {
      count += chunk.byteLength;
      received.push(chunk);
    });
    stream.on('end', () => {
      clearInterval(timer);
      stream.end();
    });
    stream.on('close', () => clearInterval(timer));
  });
  return { server, received: () => Buffer.concat(received) };
}

function capturingLogger(lines: Array<{ level: string; msg: string }>): Logger {
  const log = (level: string) => (msg: string) => void lines.push({ level, msg });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

describe('third-party recorders', () => {
  test('a peer-style v2 recorder that ends its response when the body ends, acks short of sent: a clean end, not a failure', async () => {
    const peer = peerStyleRecorder();
    const url = await listen(peer.server);
    try {
      const upload = await connectRecorder([{ url }], { ackTimeoutMs: 2000 });
      assert.equal(upload.version, 2);
      const failures: Error[] = [];
      upload.onFailure = (err) => failures.push(err);
      const data = castLines(3000);
      upload.write(data.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 50));
      // The rest goes with the end of the body: the recorder ends before acking it.
      upload.write(data.subarray(1000));
      await upload.end();
      assert.ok(upload.acked < upload.sent, `precondition: the last ack (${upload.acked}) is short of what was sent (${upload.sent})`);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(failures, [], 'the transport closing after the end is not a failure');
      assert.equal(upload.failed, undefined);
      assert.deepEqual(peer.received(), data);
    } finally {
      peer.server.close();
    }
  });

  test('fail-open session recording to a peer-style recorder ends delivered, with a warning and no spool', async () => {
    const peer = peerStyleRecorder();
    const url = await listen(peer.server);
    const spoolDir = join(await mkdtemp(join(tmpdir(), 'kubecast-spool-')), 'spool');
    dirs.push(spoolDir);
    const lines: Array<{ level: string; msg: string }> = [];
    try {
      const upload = await connectRecorder([{ url }], { ackTimeoutMs: 2000 });
      let fatal: string | undefined;
      const recording = new SessionRecording({
        upload,
        targets: [{ url }],
        connect: { ackTimeoutMs: 2000 },
        policy: 'fail-open',
        spoolDir,
        log: capturingLogger(lines),
        metrics: new ProxyMetrics(),
        onFatal: (reason) => (fatal = reason),
        onBackpressure: () => {},
      });
      const data = castLines(3000);
      recording.write(data);
      await recording.end();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(recording.delivered, true);
      assert.equal(fatal, undefined);
      assert.equal(existsSync(spoolDir), false, 'nothing was spooled');
      assert.ok(!lines.some((l) => /recorder failed/.test(l.msg)), JSON.stringify(lines));
      assert.deepEqual(peer.received(), data);
      if (upload.acked < upload.sent) assert.ok(lines.some((l) => l.level === 'warn' && /without acknowledging all/.test(l.msg)), JSON.stringify(lines));
    } finally {
      peer.server.close();
    }
  });

  test('an HTTP/1.1-only recorder that ignores the h2 preface is used over v1 within the dial budget', async () => {
    const received: Buffer[] = [];
    let finished = false;
    const h1 = createHttpServer();
    // Swallowing the parse error of the h2 preface leaves that connection open and silent.
    h1.on('clientError', () => {});
    h1.on('checkContinue', (req, res) => {
      res.writeContinue();
      req.on('data', (chunk: Buffer) => received.push(chunk));
      req.on('end', () => {
        finished = true;
        res.writeHead(200).end();
      });
    });
    const url = await listen(h1);
    try {
      const started = Date.now();
      const upload = await connectRecorder([{ url }], { dialTimeoutMs: 1000 });
      assert.ok(Date.now() - started < 1000, `connected in ${Date.now() - started} ms`);
      assert.equal(upload.version, 1);
      const data = castLines(100);
      upload.write(data);
      await upload.end();
      assert.ok(finished);
      assert.deepEqual(Buffer.concat(received), data);
    } finally {
      h1.closeAllConnections();
      h1.close();
    }
  });

  test('default 5 s ack window: a recorder that stops acking is reported failed within 5 s + 300 ms of its last ack', async () => {
    let lastAckAt = 0;
    let silent = false;
    const server = h2Recorder((stream) => {
      let count = 0;
      const ack = () => {
        if (silent || stream.destroyed) return;
        stream.write(`{"ack":${count}}\n`);
        lastAckAt = Date.now();
      };
      const idle = setInterval(ack, 200);
      stream.on('data', (chunk: Buffer) => {
        count += chunk.byteLength;
        ack();
      });
      stream.on('close', () => clearInterval(idle));
    });
    const url = await listen(server);
    try {
      const upload = await connectRecorder([{ url }]);
      const failed = new Promise<{ error: Error; at: number }>((resolve) => (upload.onFailure = (error) => resolve({ error, at: Date.now() })));
      const data = castLines(200);
      upload.write(data);
      await new Promise<void>((resolve) => (upload.onAck = (n) => n === data.byteLength && resolve()));
      await new Promise((r) => setTimeout(r, 700));
      silent = true;
      upload.write(Buffer.from('[1,"o","unacked"]\n'));
      const { error, at } = await failed;
      const after = at - lastAckAt;
      assert.match(error.message, /no ack|stopped acknowledging/);
      assert.ok(after >= 4900, `failed only ${after} ms after the last ack`);
      assert.ok(after <= 5300, `failed ${after} ms after the last ack`);
    } finally {
      server.close();
    }
  });
});

describe('v1 backpressure', () => {
  test('a v1 recorder that reads slowly pauses the session output: proxy-side buffered bytes stay bounded', async () => {
    let received = 0;
    const slow = createHttpServer();
    slow.on('checkContinue', (req, res) => {
      res.writeContinue();
      req.pause();
      // Reads a little now and then: far slower than the producer below.
      const tick = setInterval(() => {
        req.resume();
        setImmediate(() => req.pause());
      }, 50);
      req.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      req.on('end', () => res.writeHead(200).end());
      req.on('close', () => clearInterval(tick));
    });
    const url = await listen(slow);
    try {
      const upload = await connectRecorder([{ url }]);
      assert.equal(upload.version, 1);
      let paused = false;
      let pauses = 0;
      const recording = new SessionRecording({
        upload,
        targets: [{ url }],
        connect: {},
        policy: 'fail-closed',
        spoolDir: join(tmpdir(), 'kubecast-unused-spool'),
        log: silentLogger,
        metrics: new ProxyMetrics(),
        onFatal: () => {},
        onBackpressure: (p) => {
          paused = p;
          if (p) pauses++;
        },
      });
      recording.write(castLines(1));
      // The session: sends output whenever it is not paused, as the tap does with the upstream.
      const chunk = Buffer.from(JSON.stringify([1, 'o', 'y'.repeat(64 * 1024 - 20)]).slice(0, 64 * 1024 - 1) + '\n');
      let maxBacklog = 0;
      const until = Date.now() + 2000;
      while (Date.now() < until && upload.sent < 256 * 1024 * 1024) {
        if (!paused) recording.write(chunk);
        maxBacklog = Math.max(maxBacklog, upload.sent - received);
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(pauses > 0, 'the session was asked to pause');
      assert.ok(maxBacklog < 16 * 1024 * 1024, `sent but not yet read by the recorder peaked at ${maxBacklog} bytes`);
      upload.abort('test over');
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });
});

/** A raw h2c POST /v2/record as the peer's client makes it: returns the response lines as they come. */
function rawV2Upload(url: string, headers: Record<string, string> = {}) {
  const session = h2Connect(url);
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': '/v2/record', ...headers }, { endStream: false });
  const lines: string[] = [];
  let status = 0;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('response', (h) => (status = Number(h[':status'])));
  stream.on('data', (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  // The response's end (the recorder may end it before our body ends), or the stream's close.
  const ended = new Promise<void>((resolve) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
  });
  return { session, stream, lines, ended, status: () => status };
}

describe('recorder server guarantees', () => {
  test('idle acks come at least every second: a v2 upload idle for 2.5 s gets ≥ 2 acks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubecast-recorder-'));
    dirs.push(dir);
    // The default idle ack period (no ackIntervalMs).
    const server = new RecorderServer({ host: '127.0.0.1', port: 0, store: new RecordingStore(dir), token: null });
    const url = await server.start();
    const upload = rawV2Upload(url);
    try {
      upload.stream.write(castLines(1));
      await new Promise((r) => setTimeout(r, 2500));
      const acks = upload.lines.filter((l) => /^\{"ack":\d+\}$/.test(l));
      assert.ok(acks.length >= 2, `acks in 2.5 s idle: ${JSON.stringify(upload.lines)}`);
    } finally {
      upload.session.destroy();
      await server.stop();
    }
  });

  test('on failure {"error":…} is the last line of the response', async () => {
    const { server, url } = await startRecorder(null);
    const bad = rawV2Upload(url);
    try {
      bad.stream.write('this is not an asciicast header\n');
      await bad.ended;
      assert.equal(bad.status(), 200);
      assert.ok(bad.lines.length >= 1);
      const last = JSON.parse(bad.lines.at(-1)!) as { error?: string };
      assert.equal(typeof last.error, 'string', JSON.stringify(bad.lines));
      assert.ok(bad.lines.slice(0, -1).every((l) => /^\{"ack":\d+\}$/.test(l)), JSON.stringify(bad.lines));
    } finally {
      bad.session.destroy();
      await server.stop();
    }
  });
});

/** A listener that accepts connections and never says a word. */
async function blackhole(): Promise<{ url: string; close: () => void }> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  const url = await listen(server);
  return {
    url,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('dial limits and order', () => {
  test('a listener that accepts but never answers costs one per-address dial timeout (h2 probe, then v1)', async () => {
    const hole = await blackhole();
    try {
      const started = Date.now();
      const err = await connectRecorder([{ url: hole.url }], { dialTimeoutMs: 400, totalTimeoutMs: 5000 }).catch((e: unknown) => e);
      const took = Date.now() - started;
      assert.ok(err instanceof RecorderConnectError, String(err));
      assert.match(err.message, /100 Continue/, 'v1 was tried after the silent h2 probe');
      assert.ok(took >= 380 && took < 800, `took ${took} ms`);
    } finally {
      hole.close();
    }
  });

  test('the total dial budget caps all addresses: later ones are not tried once it runs out', async () => {
    const holes = [await blackhole(), await blackhole(), await blackhole()];
    try {
      const started = Date.now();
      const err = await connectRecorder(holes.map((h) => ({ url: h.url })), { dialTimeoutMs: 400, totalTimeoutMs: 600 }).catch((e: unknown) => e);
      const took = Date.now() - started;
      assert.ok(err instanceof RecorderConnectError, String(err));
      assert.equal(err.attempts.length, 3);
      assert.match(err.attempts[2].error, /not tried: the total dial budget ran out/);
      assert.ok(took < 1000, `took ${took} ms`);
    } finally {
      for (const h of holes) h.close();
    }
  });

  test('addresses are tried in order: the first that answers gets the recording', async () => {
    const closed = createNetServer();
    const closedUrl = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const hole = await blackhole();
    const first = await startRecorder(null);
    const second = await startRecorder(null);
    try {
      const upload = await connectRecorder([{ url: closedUrl }, { url: hole.url }, { url: first.url }, { url: second.url }], { dialTimeoutMs: 300 });
      assert.equal(upload.url, first.url);
      const data = castLines(10);
      upload.write(data);
      await upload.end();
      assert.deepEqual(await readFile((await first.store.locate(upload.recordingId!))!), data);
      assert.equal(await second.store.locate(upload.recordingId!), undefined);
    } finally {
      hole.close();
      await first.server.stop();
      await second.server.stop();
    }
  });
});

describe('peer interop against `kubecast recorder --auth none`', () => {
  const peerCast = join(__dirname, '..', 'fixtures', 'casts', 'peer.cast');

  /** Runs `upload(url, cast)` against a `kubecast recorder --auth none` process; the one stored file must equal the cast. */
  async function uploadToNoAuthRecorder(upload: (url: string, data: Buffer) => Promise<void>): Promise<void> {
    assert.ok(existsSync(peerCast), 'test/fixtures/casts/peer.cast exists');
    const data = await readFile(peerCast);
    const dataDir = tempDir('peer');
    const proc = await startKubecast(['recorder', '--data', dataDir.path, '--auth', 'none', '--listen', '127.0.0.1:0']);
    try {
      await upload(proc.ready.recorder!, data);
      const files = listCastFiles(join(dataDir.path, 'recordings'));
      assert.equal(files.length, 1);
      assert.deepEqual(await readFile(files[0]), data);
    } finally {
      assert.equal(await proc.stop(), 0);
      dataDir.cleanup();
    }
  }

  test('h2c POST /v2/record with no auth, as the peer uploads: acks, and the stored file equals the upload', async () => {
    await uploadToNoAuthRecorder(async (url, data) => {
      // The peer probes with HEAD first, over h2c, and needs 200.
      const probe = h2Connect(url);
      const head = await new Promise<number>((resolve, reject) => {
        const req = probe.request({ ':method': 'HEAD', ':path': '/v2/record' }, { endStream: true });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
      });
      probe.close();
      assert.equal(head, 200);
      const upload = rawV2Upload(url);
      for (let i = 0; i < data.byteLength; i += 100) upload.stream.write(data.subarray(i, i + 100));
      upload.stream.end();
      await upload.ended;
      upload.session.close();
      assert.equal(upload.status(), 200);
      const acks = upload.lines.map((l) => JSON.parse(l) as { ack?: number; error?: string });
      assert.ok(acks.every((a) => a.error === undefined), JSON.stringify(upload.lines));
      assert.equal(acks.at(-1)?.ack, data.byteLength, 'the last ack covers the whole upload');
    });
  });

  test('HTTP/1.1 chunked POST /record with Expect: 100-continue and no auth: 200, and the stored file equals the upload', async () => {
    await uploadToNoAuthRecorder(async (recorder, data) => {
      const url = new URL(recorder);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path: '/record', headers: { expect: '100-continue', 'transfer-encoding': 'chunked' } });
        req.on('continue', () => {
          for (let i = 0; i < data.byteLength; i += 100) req.write(data.subarray(i, i + 100));
          req.end();
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      assert.equal(status, 200);
    });
  });
});
