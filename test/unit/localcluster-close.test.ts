// Ending an exec connection never throws away output the client has not read yet: the local
// cluster's SPDY session closes only once its queue is delivered (a kubelet's writes block; ours
// queue), and frames the client sends after the end (kubectl pings every 5 s) do not break it.
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { mock, test } from 'node:test';
import { StreamProtocol } from '../../src/protocol/channel';
import { SpdyEncoder, SpdyParser, type SpdyFrame } from '../../src/protocol/spdy';
import { serveSpdy } from '../../src/localcluster/exec-spdy';
import { whenFlushed } from '../../src/localcluster/flush';
import type { SessionOutput } from '../../src/localcluster/session';
import { silentLogger } from '../../src/util/log';

/** Lets pushed bytes reach their 'data' listeners (setImmediate is not among the mocked timers). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A socket whose writes are taken only when the test lets them through, like a client that stopped reading. */
class HeldSocket extends Duplex {
  private held: Array<{ chunk: Buffer; done: (err?: Error | null) => void }> = [];
  private flowing = false;
  readonly delivered: Buffer[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.flowing) {
      this.delivered.push(chunk);
      done();
    } else {
      this.held.push({ chunk, done });
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    done();
  }

  /** The client starts reading again: everything queued is delivered. */
  release(): void {
    this.flowing = true;
    for (const { chunk, done } of this.held.splice(0)) {
      this.delivered.push(chunk);
      done();
    }
  }

  /** Bytes the client sends. */
  fromClient(bytes: Buffer): void {
    this.push(bytes);
  }
}

test('a finished SPDY session waits for its queued output however long the client takes, and ignores a PING sent after the end', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  try {
    const socket = new HeldSocket();
    const output = Buffer.alloc(3 * 1024 * 1024, 0x61);
    let transport: SessionOutput | null = null;
    serveSpdy({
      socket,
      head: Buffer.alloc(0),
      request: { kind: 'exec', namespace: 'default', pod: 'shell', container: 'shell', command: ['cat', 'big'], stdin: false, stdout: true, stderr: false, tty: false },
      negotiated: { protocol: StreamProtocol.V4, version: 4 },
      createSession: (out) => {
        transport = out;
        return {
          start: () => {
            out.write('stdout', output);
            out.finish({ kind: 'success' });
          },
          stdin: () => true,
          onStdinDrain: () => {},
          stdinEnd: () => {},
          resize: () => {},
          abort: () => {},
        };
      },
      log: silentLogger,
      onClose: () => {},
    });
    const client = new SpdyEncoder();
    socket.fromClient(client.synStream({ streamId: 1, headers: { streamtype: 'error' } }));
    socket.fromClient(client.synStream({ streamId: 3, headers: { streamtype: 'stdout' } }));
    await turn();
    assert.ok(transport, 'the session started once both streams existed');
    assert.ok(socket.writableLength > output.length, 'the output is queued, not delivered');

    // kubectl's keep-alive PING arrives after the end; a write after end() would destroy the socket.
    socket.fromClient(client.ping(1));
    await turn();
    // Far past the old fixed 5 s close: the client has not read, so nothing may be thrown away.
    mock.timers.tick(30_000);
    assert.equal(socket.destroyed, false, 'the connection is still open while output is queued');

    socket.release();
    mock.timers.tick(100);
    assert.equal(socket.destroyed, false, 'the client gets a grace to close after the last byte');
    mock.timers.tick(5_000);
    assert.equal(socket.destroyed, true, 'the connection is closed after the grace');

    const frames: SpdyFrame[] = new SpdyParser().push(Buffer.concat(socket.delivered).subarray(Buffer.concat(socket.delivered).indexOf('\r\n\r\n') + 4));
    const stdout = Buffer.concat(frames.flatMap((f) => (f.type === 'data' && f.streamId === 3 ? [f.payload] : [])));
    assert.equal(stdout.length, output.length, 'every output byte reached the client');
    const tail = frames.filter((f) => f.type !== 'syn_reply' && !(f.type === 'data' && f.streamId === 3)).map((f) => (f.type === 'data' ? `data:${f.streamId}` : f.type));
    assert.deepEqual(tail, ['data:1', 'rst_stream', 'rst_stream', 'goaway'], 'Status, then RST_STREAM per stream, GOAWAY last — and no PING reply after the end');
  } finally {
    mock.timers.reset();
  }
});

/** A connected pair of loopback sockets; the server side is returned first. */
async function socketPair(): Promise<{ server: Socket; client: Socket; close: () => Promise<void> }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const client = connect(address.port, '127.0.0.1');
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      server.destroy();
      client.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

const outboxOf = (socket: Socket) => ({ pending: () => socket.writableLength, gone: () => socket.destroyed });

test('whenFlushed waits while a real client is not reading and fires once it has read everything', async () => {
  const { server, client, close } = await socketPair();
  try {
    client.pause();
    const payload = Buffer.alloc(64 * 1024 * 1024, 0x62);
    server.write(payload);
    let flushed: boolean | null = null;
    whenFlushed(outboxOf(server), (stalled) => (flushed = stalled), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(flushed, null, 'nothing is flushed while the client reads nothing');
    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    client.resume();
    const deadline = Date.now() + 20_000;
    while (flushed === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(flushed, false, 'flushed, not stalled');
    assert.ok(received > 0);
  } finally {
    await close();
  }
});

test('whenFlushed gives up on a client that stops reading for the stall limit', async () => {
  const { server, client, close } = await socketPair();
  try {
    client.pause();
    server.write(Buffer.alloc(64 * 1024 * 1024));
    const started = Date.now();
    const stalled = await new Promise<boolean>((resolve) => whenFlushed(outboxOf(server), resolve, 300));
    assert.equal(stalled, true);
    assert.ok(Date.now() - started >= 300);
  } finally {
    await close();
  }
});
