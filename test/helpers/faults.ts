// Fault injection with real parts: a TCP relay that makes a recorder slow (its answers arrive late)
// and shows the HTTP/2 DATA that crossed it, a launcher for programs that print a JSON ready line
// (a recorder under `ulimit -f`), a WebSocket exec client that speaks v5.channel.k8s.io like kubectl
// 1.33 does, and counts of this process's resources (sockets, timers, file descriptors, children).
//
//   const relay = await startDelayRelay(recorder.url);        // recorder answers pass through…
//   relay.delayMs = 1000;                                      // …now a second late
//   relay.h2Data('down', 3)                                    // what the recorder sent on stream 3
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { descendantsOf, type ProcessInfo } from './processes';

// --- the delaying relay -----------------------------------------------------------------------------

/** `up`: client → target (the proxy's upload); `down`: target → client (the recorder's acks). */
export type Direction = 'up' | 'down';

export interface DelayRelay {
  /** http://127.0.0.1:PORT: give this to the client instead of the target. */
  readonly url: string;
  /**
   * Delay for bytes in the `down` direction (target → client), in ms. Applies to bytes that arrive
   * from now on; order is always kept, so raising it holds back everything behind it too.
   */
  delayMs: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Bytes that crossed the relay per direction (`down`: when handed to the client, after the delay). */
  bytes(direction: Direction): number;
  /** Date.now() when bytes were last handed to the client (`down`), 0 before any. */
  readonly lastDownAt: number;
  /** HTTP/2 DATA payloads of `streamId` on every connection, concatenated in order (`down` after the delay). */
  h2Data(direction: Direction, streamId: number): Buffer;
  /** Stream ids that carried DATA in that direction. */
  h2Streams(direction: Direction): number[];
  /** Closes the listener and every relayed connection. */
  close(): Promise<void>;
}

export async function startDelayRelay(targetUrl: string, options: { delayMs?: number } = {}): Promise<DelayRelay> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const counts: Record<Direction, number> = { up: 0, down: 0 };
  const data: Record<Direction, Map<number, Buffer[]>> = { up: new Map(), down: new Map() };
  let connections = 0;
  let lastDownAt = 0;
  const writers = new Set<DelayedWriter>();
  const relay = {
    delayMs: options.delayMs ?? 0,
  };
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const upScanner = new H2DataScanner(true, (stream, payload) => collect(data.up, stream, payload));
    const downScanner = new H2DataScanner(false, (stream, payload) => collect(data.down, stream, payload));
    const down = new DelayedWriter(client, () => relay.delayMs, (chunk) => {
      counts.down += chunk.byteLength;
      lastDownAt = Date.now();
      downScanner.push(chunk);
    });
    writers.add(down);
    client.on('data', (chunk: Buffer) => {
      counts.up += chunk.byteLength;
      upScanner.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => down.end());
    const teardown = () => {
      down.drop();
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      writers.delete(down);
      down.drop();
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      // What the target sent before it went away still reaches the client, late as it is.
      down.end();
    });
    client.on('error', teardown);
    upstream.on('error', () => down.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get delayMs() {
      return relay.delayMs;
    },
    set delayMs(ms: number) {
      relay.delayMs = ms;
    },
    get connections() {
      return connections;
    },
    get lastDownAt() {
      return lastDownAt;
    },
    bytes: (direction) => counts[direction],
    h2Data: (direction, streamId) => Buffer.concat(data[direction].get(streamId) ?? []),
    h2Streams: (direction) => [...data[direction].keys()].sort((a, b) => a - b),
    close: async () => {
      for (const writer of writers) writer.drop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function collect(map: Map<number, Buffer[]>, stream: number, payload: Buffer): void {
  const list = map.get(stream);
  if (list) list.push(payload);
  else map.set(stream, [payload]);
}

/** Writes chunks to `socket` `delay()` ms after they were pushed, in order. */
class DelayedWriter {
  private readonly queue: Array<{ due: number; chunk: Buffer | null }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastDue = 0;
  private dropped = false;

  constructor(
    private readonly socket: Socket,
    private readonly delay: () => number,
    private readonly onWrite: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.enqueue(chunk);
  }

  /** Ends the socket once everything queued before has been written. */
  end(): void {
    if (this.queue.some((item) => item.chunk === null)) return;
    this.enqueue(null);
  }

  drop(): void {
    this.dropped = true;
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private enqueue(chunk: Buffer | null): void {
    if (this.dropped) return;
    const due = Math.max(Date.now() + this.delay(), this.lastDue);
    this.lastDue = due;
    this.queue.push({ due, chunk });
    this.pump();
  }

  private pump(): void {
    if (this.timer) return;
    while (this.queue.length > 0 && this.queue[0].due <= Date.now()) {
      const { chunk } = this.queue.shift()!;
      if (this.socket.destroyed) continue;
      if (chunk === null) this.socket.end();
      else {
        this.onWrite(chunk);
        this.socket.write(chunk);
      }
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(1, this.queue[0].due - Date.now()));
    }
  }
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Splits one direction of an h2c connection into frames and reports DATA payloads (padding removed). */
export class H2DataScanner {
  private buffer: Buffer = Buffer.alloc(0);
  private prefaceLeft: number;
  private broken = false;

  constructor(
    clientSide: boolean,
    private readonly onData: (streamId: number, payload: Buffer) => void,
  ) {
    this.prefaceLeft = clientSide ? H2_PREFACE.byteLength : 0;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.buffer = this.buffer.byteLength === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, this.buffer.byteLength);
      if (!this.buffer.subarray(0, n).equals(H2_PREFACE.subarray(H2_PREFACE.byteLength - this.prefaceLeft, H2_PREFACE.byteLength - this.prefaceLeft + n))) {
        // Not HTTP/2 (a v1 upload): nothing to report.
        this.broken = true;
        return;
      }
      this.prefaceLeft -= n;
      this.buffer = this.buffer.subarray(n);
    }
    while (this.buffer.byteLength >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.byteLength < 9 + length) return;
      const type = this.buffer[3];
      const flags = this.buffer[4];
      const streamId = this.buffer.readUInt32BE(5) & 0x7fffffff;
      let payload = this.buffer.subarray(9, 9 + length);
      this.buffer = this.buffer.subarray(9 + length);
      if (type !== 0) continue;
      if (flags & 0x8) {
        const pad = payload[0];
        payload = payload.subarray(1, payload.byteLength - pad);
      }
      if (payload.byteLength > 0) this.onData(streamId, Buffer.from(payload));
    }
  }
}

/** `{"ack":N}` / `{"error":"…"}` lines of a v2 recorder response. */
export function ackFrames(response: Buffer): { acks: number[]; errors: string[] } {
  const acks: number[] = [];
  const errors: string[] = [];
  for (const line of response.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const frame = JSON.parse(line) as { ack?: number; error?: string };
    if (typeof frame.ack === 'number') acks.push(frame.ack);
    if (typeof frame.error === 'string') errors.push(frame.error);
  }
  return { acks, errors };
}

// --- programs with a JSON ready line ------------------------------------------------------------

export interface ReadyProcess {
  child: ChildProcess;
  pid: number;
  ready: Record<string, unknown>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGKILL after `graceMs`) and waits for the exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `file args` and waits for the first stdout line, parsed as JSON. */
export async function startReadyProcess(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ReadyProcess> {
  const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const timeoutMs = options.timeoutMs ?? 20_000;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} ${args.join(' ')}: no ready line after ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.slice(0, nl)) as Record<string, unknown>);
      } catch (err) {
        reject(new Error(`bad ready line ${JSON.stringify(stdout.slice(0, nl))}: ${String(err)}`));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    ready,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

/** A process's limit from /proc/PID/limits (soft value; null = unlimited), e.g. "Max file size". */
export function processLimit(pid: number, name: string): number | null {
  const text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(name));
  if (!line) throw new Error(`no limit ${JSON.stringify(name)} in /proc/${pid}/limits`);
  const soft = line.slice(name.length).trim().split(/\s+/)[0];
  return soft === 'unlimited' ? null : Number(soft);
}

// --- a WebSocket exec client (v5.channel.k8s.io, as kubectl 1.33 speaks it) --------------------------

export interface WsExecResult {
  stdout: string;
  stderr: string;
  /** The Status kubectl would read from the error channel. */
  status: { status?: string; message?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } } | null;
  exitCode: number;
  durationMs: number;
}

/** Runs `command` in `pod` through an API server (or the proxy) over WebSocket and collects its output. */
export async function wsExec(
  server: string,
  command: string[],
  options: { token?: string; ca?: string; namespace?: string; pod?: string; container?: string; timeoutMs?: number; tty?: { cols: number; rows: number } } = {},
): Promise<WsExecResult> {
  const started = Date.now();
  // With a terminal, kubectl asks for no stderr (the terminal carries both) and sends its size first.
  const streams = options.tty ? ['stdout=true', 'tty=true'] : ['stdout=true', 'stderr=true'];
  const query = [...command.map((c) => `command=${encodeURIComponent(c)}`), `container=${options.container ?? 'shell'}`, ...streams].join('&');
  const path = `/api/v1/namespaces/${options.namespace ?? 'default'}/pods/${options.pod ?? 'shell'}/exec?${query}`;
  const ws = new WebSocket(server.replace(/^http/, 'ws') + path, ['v5.channel.k8s.io'], {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    ca: options.ca,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const errorChannel: Buffer[] = [];
  const tty = options.tty;
  if (tty) ws.once('open', () => ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: tty.cols, Height: tty.rows }) + '\n')])));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`exec ${command.join(' ')} did not finish within ${options.timeoutMs ?? 15_000} ms`));
    }, options.timeoutMs ?? 15_000);
    ws.on('message', (data: Buffer) => {
      const channel = data[0];
      const body = data.subarray(1);
      if (channel === 1) stdout.push(body);
      else if (channel === 2) stderr.push(body);
      else if (channel === 3) errorChannel.push(body);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const statusText = Buffer.concat(errorChannel).toString('utf8');
  const status = statusText === '' ? null : (JSON.parse(statusText) as WsExecResult['status']);
  let exitCode = 0;
  if (status && status.status !== 'Success') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    exitCode = cause?.message !== undefined ? Number(cause.message) : 1;
  }
  return { stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), status, exitCode, durationMs: Date.now() - started };
}

/**
 * Bytes waiting unread in the receive queues of IPv4 TCP connections whose remote port is `port`
 * (from /proc/net/tcp). A process killed with unread data makes its kernel reset the connection.
 */
export function unreadBytesFrom(port: number): number {
  let total = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const remotePort = parseInt(fields[2].split(':')[1], 16);
    const state = fields[3];
    const rxQueue = parseInt(fields[4].split(':')[1], 16);
    if (remotePort === port && state === '01') total += rxQueue;
  }
  return total;
}

// --- resource counts ------------------------------------------------------------------------------

export interface ResourceCounts {
  /** Entries in /proc/self/fd. */
  fds: number;
  /** process._getActiveHandles() by constructor name (Socket, Server, ChildProcess…). */
  handles: Record<string, number>;
  /** process.getActiveResourcesInfo() by type (TCPWrap, Timeout, FSReqPromise…): what keeps the loop alive. */
  resources: Record<string, number>;
  /** Sockets: active handles that are net.Sockets (TLS ones included). */
  sockets: number;
  /** Ref'd timers (Timeout entries of getActiveResourcesInfo). */
  timers: number;
  /** Living descendants of this process. */
  children: ProcessInfo[];
}

export function resourceCounts(): ResourceCounts {
  const handles: Record<string, number> = {};
  const active = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
  for (const handle of active) {
    const name = handle.constructor?.name ?? typeof handle;
    handles[name] = (handles[name] ?? 0) + 1;
  }
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return {
    fds: readdirSync('/proc/self/fd').length,
    handles,
    resources,
    sockets: (handles.Socket ?? 0) + (handles.TLSSocket ?? 0),
    timers: resources.Timeout ?? 0,
    children: descendantsOf(process.pid),
  };
}

export function describeCounts(c: ResourceCounts): string {
  return JSON.stringify({ fds: c.fds, sockets: c.sockets, timers: c.timers, handles: c.handles, resources: c.resources, children: c.children.map((p) => `${p.pid} ${p.comm}`) });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean, timeoutMs = 15_000, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
