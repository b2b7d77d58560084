// HTTP/1.1 over a raw (TLS) socket, for requests no ordinary client sends: absolute-form request
// targets, unnormalised paths, odd Upgrade headers. URL-based clients would rewrite them first.
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Counter } from 'prom-client';

export interface RawResponse {
  /** 0 when nothing parseable came back. */
  status: number;
  headers: Record<string, string>;
  /** Bytes after the head (for a 101: whatever the upgraded stream sent before the socket closed or the wait ended). */
  body: Buffer;
  raw: Buffer;
}

export interface RawOptions {
  /** PEM of the CA for an https URL. */
  ca?: string;
  /** How long to wait for the server to close after the response head (default 3 s); then the socket is cut. */
  waitMs?: number;
  /** Called with the socket once the head is in (e.g. to send frames on an upgraded stream). */
  onHead?: (socket: Socket, response: RawResponse) => void;
}

/** Sends `request` (the whole head, and any body) as is, and reads until the server closes or `waitMs` passes. */
export function rawRequest(url: string, request: string | Buffer, options: RawOptions = {}): Promise<RawResponse> {
  const target = new URL(url);
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket: Socket = target.protocol === 'https:' ? tlsConnect({ host, port, ca: options.ca, servername: host === '127.0.0.1' ? undefined : host }) : netConnect({ host, port });
    const chunks: Buffer[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let headSeen = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks)));
    };
    socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!headSeen && Buffer.concat(chunks).includes('\r\n\r\n')) {
        headSeen = true;
        timer = setTimeout(done, options.waitMs ?? 3000);
        options.onHead?.(socket, parse(Buffer.concat(chunks)));
      }
    });
    socket.on('error', (err) => (chunks.length > 0 ? done() : reject(err)));
    socket.on('close', done);
  });
}

function parse(raw: Buffer): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), raw };
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, body, raw };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const nl = data.indexOf('\r\n', at);
    if (nl < 0) break;
    const size = parseInt(data.subarray(at, nl).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(data.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The head of a WebSocket upgrade request (v5 channel protocol, as kubectl 1.30+ sends it). */
export function wsUpgradeHead(target: string, token: string | undefined, extra: Record<string, string> = {}, method = 'GET'): string {
  const headers: Record<string, string> = {
    Host: 'kubecast.test',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol': 'v5.channel.k8s.io',
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...extra,
  };
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

/** The head of a SPDY/3.1 upgrade request (as kubectl ≤ 1.29 sends it). */
export function spdyUpgradeHead(target: string, token: string | undefined, extra: Record<string, string> = {}): string {
  const headers: Record<string, string> = {
    Host: 'kubecast.test',
    Connection: 'Upgrade',
    Upgrade: 'SPDY/3.1',
    'X-Stream-Protocol-Version': 'v4.channel.k8s.io',
    'Content-Length': '0',
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...extra,
  };
  return `POST ${target} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

/** A plain request head that asks the server to close after answering. */
export function plainHead(method: string, target: string, token: string | undefined): string {
  return `${method} ${target} HTTP/1.1\r\nHost: kubecast.test\r\nConnection: close\r\nContent-Length: 0\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;
}

/** The value of a prom-client counter for exactly these labels (0 when never incremented). */
export async function counterValue(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) => Object.keys(labels).length === Object.keys(v.labels).length && Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

/** The sum of a counter over every label set. */
export async function counterTotal(counter: Counter<string>): Promise<number> {
  const { values } = await counter.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** An API server stand-in that answers every upgrade with 101 and the Upgrade header the test chose, then holds the stream. */
export async function upgradingStub(): Promise<{ url: string; answer: { upgrade: string }; upgrades: string[]; close(): Promise<void> }> {
  const answer = { upgrade: 'SPDY/3.1' };
  const upgrades: string[] = [];
  const sockets = new Set<Duplex>();
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket: Duplex) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    upgrades.push(req.url ?? '');
    const extra = /spdy/i.test(answer.upgrade) ? 'X-Stream-Protocol-Version: v4.channel.k8s.io\r\n' : 'Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n';
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${answer.upgrade}\r\n${extra}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answer,
    upgrades,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
