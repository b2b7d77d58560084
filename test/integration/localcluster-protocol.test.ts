// The exec transports at the wire level, with hand-driven clients instead of kubectl: SPDY negotiation
// and framing rules (reference §1–3, §8) and the WebSocket channel protocol (§4).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { encodeControlFrame, SpdyEncoder, SpdyParser, type SpdyFrame } from '../../src/protocol/spdy';
import { withLocalCluster } from './localcluster-fixture';

const V5_OFFERS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

function execPath(command: string[], flags: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean }, pod = 'shell', container = 'shell'): string {
  const q = new URLSearchParams();
  for (const arg of command) q.append('command', arg);
  q.set('container', container);
  for (const name of ['stderr', 'stdin', 'stdout', 'tty'] as const) if (flags[name]) q.set(name, 'true');
  return `/api/v1/namespaces/default/pods/${pod}/exec?${q.toString()}`;
}

interface HttpHead {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A raw SPDY client connection: the upgrade request, then frames both ways. */
class SpdyClient {
  readonly encoder = new SpdyEncoder();
  private readonly parser = new SpdyParser();
  readonly frames: SpdyFrame[] = [];
  private buffered = Buffer.alloc(0);
  private headDone = false;
  private waiters: Array<() => void> = [];
  ended = false;
  head: HttpHead | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connects and writes the request head, plus `firstBytes` in the same write (to exercise the upgrade `head`). */
  static async open(url: string, path: string, offers: string[], firstBytes?: Buffer, extraHeaders: string[] = []): Promise<SpdyClient> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new SpdyClient(socket);
    const head = [
      `POST ${path} HTTP/1.1`,
      `Host: ${hostname}:${port}`,
      'Content-Length: 0',
      'Connection: Upgrade',
      'Upgrade: SPDY/3.1',
      ...offers.map((o) => `X-Stream-Protocol-Version: ${o}`),
      ...extraHeaders,
      '',
      '',
    ].join('\r\n');
    socket.write(firstBytes ? Buffer.concat([Buffer.from(head), firstBytes]) : head);
    await client.until(() => client.head !== null);
    return client;
  }

  private onData(chunk: Buffer): void {
    if (!this.headDone) {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buffered.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = lines.slice(1).map((l): [string, string] => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
      const rest = this.buffered.subarray(end + 4);
      this.headDone = true;
      this.head = { status, headers, body: status === 101 ? Buffer.alloc(0) : rest };
      if (status !== 101) {
        this.wake();
        return;
      }
      chunk = rest;
    } else if (this.head && this.head.status !== 101) {
      this.head.body = Buffer.concat([this.head.body, chunk]);
      this.wake();
      return;
    }
    if (chunk.length > 0) this.frames.push(...this.parser.push(chunk));
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out; frames so far: ${this.frames.map((f) => f.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  header(name: string): string[] {
    return (this.head?.headers ?? []).filter(([n]) => n === name).map(([, v]) => v);
  }

  write(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** Creates a stream and waits for its SYN_REPLY, as kubectl does. */
  async createStream(streamId: number, type: string): Promise<void> {
    this.write(this.encoder.synStream({ streamId, headers: { streamtype: type } }));
    await this.until(() => this.frames.some((f) => f.type === 'syn_reply' && f.streamId === streamId));
  }

  dataOn(streamId: number): Buffer {
    return Buffer.concat(this.frames.filter((f): f is Extract<SpdyFrame, { type: 'data' }> => f.type === 'data' && f.streamId === streamId).map((f) => f.payload));
  }
}

describe('local cluster SPDY server (wire level)', () => {
  test('negotiation: first supported offer (v4 for kubectl), v5 only as a last resort, 400 without offers, 403 with the accepted list', () =>
    withLocalCluster({}, async (fx) => {
      const path = execPath(['true'], { stdout: true });
      const cases: Array<[string[], string]> = [
        [V5_OFFERS, 'v4.channel.k8s.io'],
        [['v5.channel.k8s.io, v4.channel.k8s.io'], 'v4.channel.k8s.io'],
        [['v3.channel.k8s.io', 'v4.channel.k8s.io'], 'v3.channel.k8s.io'],
        [['v5.channel.k8s.io'], 'v5.channel.k8s.io'],
        [['channel.k8s.io'], 'channel.k8s.io'],
      ];
      for (const [offers, expected] of cases) {
        const c = await SpdyClient.open(fx.url, path, offers);
        assert.equal(c.head!.status, 101, String(offers));
        assert.deepEqual(c.header('x-stream-protocol-version'), [expected]);
        assert.deepEqual(c.header('upgrade'), ['SPDY/3.1']);
        assert.deepEqual(c.header('connection'), ['Upgrade']);
        assert.equal(c.header('transfer-encoding').length, 0);
        c.socket.destroy();
      }
      const none = await SpdyClient.open(fx.url, path, []);
      assert.equal(none.head!.status, 400);
      await none.until(() => none.ended);
      assert.match(JSON.parse(none.head!.body.toString()).message, /X-Stream-Protocol-Version is required/);
      const bad = await SpdyClient.open(fx.url, path, ['v9.example.com']);
      assert.equal(bad.head!.status, 403);
      assert.deepEqual(bad.header('x-accepted-stream-protocol-versions'), ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io', 'v5.channel.k8s.io']);
    }));

  test('a session: head bytes first, SYN_REPLY per stream, pings echoed by parity, data after replies, Status, RST per stream, GOAWAY last', () =>
    withLocalCluster({}, async (fx) => {
      const encoder = new SpdyEncoder();
      // The first SYN_STREAM travels in the same write as the request head.
      const first = encoder.synStream({ streamId: 1, headers: { streamtype: 'error' } });
      const c = await SpdyClient.open(fx.url, execPath(['cat'], { stdin: true, stdout: true, stderr: true }), V5_OFFERS, first);
      // Continue on the same compression context as the frame already sent.
      const send = (f: Buffer) => c.write(f);
      await c.until(() => c.frames.some((f) => f.type === 'syn_reply' && f.streamId === 1));
      for (const [id, type] of [[3, 'stdin'], [5, 'stdout'], [7, 'stderr']] as const) {
        send(encoder.synStream({ streamId: id, headers: { streamtype: type } }));
        await c.until(() => c.frames.some((f) => f.type === 'syn_reply' && f.streamId === id));
      }
      send(encoder.ping(2)); // even: a reply to a ping of the server's, must not be echoed
      send(encoder.ping(1));
      await c.until(() => c.frames.some((f) => f.type === 'ping'));
      send(encoder.data(3, Buffer.from('hello over spdy\n')));
      send(encoder.data(3, Buffer.alloc(0), true));
      await c.until(() => c.ended);

      const types = c.frames.map((f) => f.type);
      assert.ok(!types.includes('headers'), 'never HEADERS');
      assert.deepEqual(
        c.frames.filter((f) => f.type === 'ping').map((f) => (f as Extract<SpdyFrame, { type: 'ping' }>).id),
        [1],
      );
      assert.deepEqual(
        c.frames.filter((f) => f.type === 'syn_reply').map((f) => (f as Extract<SpdyFrame, { type: 'syn_reply' }>).streamId),
        [1, 3, 5, 7],
      );
      for (const [index, frame] of c.frames.entries()) {
        if (frame.type !== 'data') continue;
        const replied = c.frames.slice(0, index).some((f) => f.type === 'syn_reply' && f.streamId === frame.streamId);
        assert.ok(replied, `data on stream ${frame.streamId} before its SYN_REPLY`);
      }
      assert.equal(c.dataOn(5).toString(), 'hello over spdy\n');
      assert.deepEqual(JSON.parse(c.dataOn(1).toString()), { metadata: {}, status: 'Success' });
      const tail = c.frames.slice(-5);
      assert.deepEqual(
        tail.slice(0, 4).map((f) => (f.type === 'rst_stream' ? [f.streamId, f.status] : f.type)),
        [[1, 5], [3, 5], [5, 5], [7, 5]],
      );
      const last = tail[4];
      assert.equal(last.type, 'goaway');
      assert.deepEqual([last.type === 'goaway' && last.lastGoodStreamId, last.type === 'goaway' && last.status], [7, 0]);
    }));

  test('exit status and resize over SPDY: NonZeroExitCode Status; a TTY session sized by the resize stream (0×0 skipped)', () =>
    withLocalCluster({}, async (fx) => {
      const c = await SpdyClient.open(fx.url, execPath(['sh', '-c', 'exit 3'], { stdout: true, stderr: true }), V5_OFFERS);
      await c.createStream(1, 'error');
      await c.createStream(3, 'stdout');
      await c.createStream(5, 'stderr');
      await c.until(() => c.ended);
      assert.deepEqual(JSON.parse(c.dataOn(1).toString()), {
        metadata: {},
        status: 'Failure',
        message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      });

      const t = await SpdyClient.open(fx.url, execPath(['stty', 'size'], { stdout: true, tty: true }), V5_OFFERS);
      await t.createStream(1, 'error');
      await t.createStream(3, 'stdout');
      await t.createStream(5, 'resize');
      // 0×0 (kubectl's size of a terminal it cannot measure) is skipped, not fatal: the next size applies.
      t.write(t.encoder.data(5, Buffer.from('{"Width":0,"Height":0}\n')));
      t.write(t.encoder.data(5, Buffer.from('{"Width":77,"Height":21}\n')));
      await t.until(() => t.ended);
      assert.equal(t.dataOn(3).toString(), '21 77\r\n');
    }));

  test('protocol v2 carries plain-text errors on the error stream', () =>
    withLocalCluster({}, async (fx) => {
      const c = await SpdyClient.open(fx.url, execPath(['sh', '-c', 'exit 4'], { stdout: true }), ['v2.channel.k8s.io']);
      await c.createStream(1, 'error');
      await c.createStream(3, 'stdout');
      await c.until(() => c.ended);
      assert.equal(c.dataOn(1).toString(), 'command terminated with non-zero exit code: error executing command [sh -c exit 4], exit code 4');
    }));

  test('garbage after the upgrade ends that session (GOAWAY PROTOCOL_ERROR), the server keeps serving', () =>
    withLocalCluster({}, async (fx) => {
      const c = await SpdyClient.open(fx.url, execPath(['true'], { stdout: true }), V5_OFFERS);
      c.write(encodeControlFrame(1, 0, Buffer.alloc(12), 2)); // a SPDY/2 control frame
      await c.until(() => c.ended);
      const last = c.frames.at(-1)!;
      assert.equal(last.type, 'goaway');
      assert.equal(last.type === 'goaway' && last.status, 1);
      const version = await fetch(`${fx.url}/version`);
      assert.equal(version.status, 200);
    }));
});

/** A WebSocket client speaking the channel protocol; collects messages. */
async function wsOpen(url: string, path: string, protocols: string[]): Promise<{ ws: WebSocket; messages: Buffer[]; closed: Promise<number> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, protocols);
  const messages: Buffer[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    assert.ok(isBinary, 'server messages are binary');
    messages.push(Buffer.from(data));
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

function channel(messages: Buffer[], ch: number): string {
  return Buffer.concat(messages.filter((m) => m[0] === ch).map((m) => m.subarray(1))).toString();
}

describe('local cluster WebSocket server (wire level)', () => {
  test('v5: ready marker, stdin, [255,0] closes stdin, pings answered, Status on channel 3, close 1000', () =>
    withLocalCluster({}, async (fx) => {
      const { ws, messages, closed } = await wsOpen(fx.url, execPath(['cat'], { stdin: true, stdout: true, stderr: true }), ['v5.channel.k8s.io']);
      assert.equal(ws.protocol, 'v5.channel.k8s.io');
      const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
      ws.ping(Buffer.from('are-you-there'));
      assert.equal((await pong).toString(), 'are-you-there');
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('over websocket\n')]));
      ws.send(Buffer.from([255, 0]));
      assert.equal(await closed, 1000);
      assert.deepEqual([...messages[0]], [1], 'the first message is the ready marker on stdout');
      assert.equal(channel(messages, 1), 'over websocket\n');
      assert.deepEqual(JSON.parse(channel(messages, 3)), { metadata: {}, status: 'Success' });
      assert.equal(messages.at(-1)![0], 3, 'the Status is the last message');
    }));

  test('v4 is accepted; exit codes and resize (channel 4) work, a 0×0 size is skipped', () =>
    withLocalCluster({}, async (fx) => {
      const exit = await wsOpen(fx.url, execPath(['sh', '-c', 'echo out; exit 4'], { stdout: true, stderr: true }), ['v4.channel.k8s.io']);
      assert.equal(exit.ws.protocol, 'v4.channel.k8s.io');
      assert.equal(await exit.closed, 1000);
      assert.equal(channel(exit.messages, 1), 'out\n');
      assert.equal(JSON.parse(channel(exit.messages, 3)).details.causes[0].message, '4');

      const tty = await wsOpen(fx.url, execPath(['stty', 'size'], { stdout: true, tty: true }), ['v5.channel.k8s.io']);
      tty.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":0,"Height":0}\n')]));
      tty.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"width":66,"height":19}\n')]));
      assert.equal(await tty.closed, 1000);
      assert.equal(channel(tty.messages, 1), '19 66\r\n');
    }));

  test('an unsupported subprotocol is refused with 400; a text message ends the session with a reason', () =>
    withLocalCluster({}, async (fx) => {
      const ws = new WebSocket(fx.url.replace(/^http/, 'ws') + execPath(['true'], { stdout: true }), ['channel.k8s.io']);
      const status = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => {});
      });
      assert.equal(status, 400);

      const { ws: client, messages, closed } = await wsOpen(fx.url, execPath(['sleep', '30'], { stdin: true, stdout: true }), ['v5.channel.k8s.io']);
      client.send('text is not allowed');
      assert.equal(await closed, 1000);
      const result = JSON.parse(channel(messages, 3)) as { status: string; message: string };
      assert.equal(result.status, 'Failure');
      assert.match(result.message, /binary messages/);
    }));
});
