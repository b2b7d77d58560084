// An upstream that answers an exec upgrade and then sends bytes that are not SPDY/3 or WebSocket:
// the proxy ends that session on its own — kubectl is told why, both connections are closed even if
// the client never hangs up, and the recording ends with the reason — while the proxy keeps serving.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withServe } from '../helpers/serve-fixture';

/** Answers every upgrade with a 101 for the offered protocol, then garbage; counts closed connections. */
async function garbageUpstream(): Promise<{ url: string; server: Server; closed: () => number }> {
  let closed = 0;
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket: Socket) => {
    socket.on('close', () => closed++);
    socket.on('error', () => {});
    // As an API server does: the proxy's end of the connection ends ours.
    socket.on('end', () => socket.end());
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    const head = websocket
      ? 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`
      : 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n';
    socket.write(head);
    // SPDY: a SYN_STREAM whose length cannot hold its fields; WebSocket: TLS ClientHello bytes (RSV3 set).
    socket.write(Buffer.from(websocket ? '16030100c4010000c00303' : '800300010000000105', 'hex'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, closed: () => closed };
}

function acceptKey(key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC11B85').digest('base64');
}

for (const protocol of ['spdy', 'websocket'] as const) {
  describe(`a malformed ${protocol} stream from upstream`, () => {
    test('ends the session: the client is told, both connections close without the client hanging up, the recording says why', async () => {
      const upstream = await garbageUpstream();
      try {
        await withServe({ upstream: upstream.url, policy: 'fail-closed' }, async (fx) => {
          const proxy = new URL(fx.handle.urls.proxy);
          const ca = readFileSync(join(fx.dataDir, 'tls', 'ca.crt'), 'utf8');
          const socket = tlsConnect({ host: proxy.hostname, port: Number(proxy.port), ca, servername: 'localhost' });
          await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
          const path = '/api/v1/namespaces/default/pods/shell/exec?command=sh&container=shell&stdout=true&stderr=true';
          const upgrade =
            protocol === 'spdy'
              ? 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n'
              : 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n';
          const sentAt = Date.now();
          socket.write(`${protocol === 'spdy' ? 'POST' : 'GET'} ${path} HTTP/1.1\r\nHost: ${proxy.host}\r\nAuthorization: Bearer ${fx.handle.token}\r\n${upgrade}\r\n`);
          const received: Buffer[] = [];
          socket.on('data', (chunk: Buffer) => received.push(chunk));
          // This client never ends its side: the proxy must close the connection itself.
          const closedAt = await new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`the proxy left the connection open; the client got: ${JSON.stringify(Buffer.concat(received).toString('latin1'))}`)), 10_000);
            socket.once('close', () => {
              clearTimeout(timer);
              resolve(Date.now());
            });
          });
          assert.ok(closedAt - sentAt < 5000, `closed after ${closedAt - sentAt} ms`);
          const text = Buffer.concat(received).toString('latin1');
          assert.match(text, /^HTTP\/1\.1 101/);
          // WebSocket: the Status on channel 3; SPDY: no stream exists to carry words, so a GOAWAY.
          if (protocol === 'websocket') assert.match(text, /kubecast: session ended/, 'the client was told why');
          else assert.ok(text.includes('\x80\x03\x00\x07'), 'GOAWAY');
          for (let i = 0; i < 50 && upstream.closed() === 0; i++) await new Promise((r) => setTimeout(r, 100));
          assert.equal(upstream.closed(), 1, 'the upstream connection was closed too');
          const [recording] = await fx.waitForRecordings(1);
          const last = recording.cast.events.at(-1);
          assert.equal(last?.code, 'm');
          assert.match(last?.data ?? '', /session ended \(protocol-error [A-Z_]+\)/);
          assert.equal(fx.handle.proxy.activeSessions, 0);
        });
      } finally {
        await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
      }
    });
  });
}
