// Shared by the live hub tests: cast lines, a recording viewer, and terminals to render what a
// viewer would show (the renderer's job: reset to the snapshot, then apply events).
import { Terminal } from '@xterm/headless';
import type { LiveHub, LiveViewer } from '../../src/live/hub';
import type { LiveMessage } from '../../src/live/messages';

export const ID = '0b7e4a52-6a0e-4c5e-9d7c-1f1f1f1f1f1f';

export function header(options: { id?: string; width?: number; height?: number; tty?: boolean } = {}): Record<string, unknown> {
  const id = options.id ?? ID;
  return {
    version: 2,
    width: options.width ?? 80,
    height: options.height ?? 24,
    timestamp: 1_700_000_000,
    command: 'sh -c top',
    srcNode: 'laptop',
    srcNodeID: '',
    srcNodeUser: 'alice@example.com',
    env: null,
    sshUser: '',
    localUser: '',
    connectionID: '',
    kubernetes: { PodName: 'shell', Namespace: 'default', Container: 'main', SessionType: 'exec' },
    kubecast: {
      id,
      user: 'alice@example.com',
      cluster: 'local',
      protocol: 'websocket',
      tty: options.tty ?? true,
      command: ['sh', '-c', 'top'],
      startedAt: '2023-11-14T22:13:20.000Z',
      kubectlVersion: 'v1.31.0',
      clientAddress: '127.0.0.1:51234',
    },
  };
}

export function castLine(time: number, code: string, data: string): string {
  return JSON.stringify([time, code, data]) + '\n';
}

/** Output events as cast lines, one per string, times 0.01 s apart from `start`. */
export function outputLines(chunks: string[], start = 0): Buffer {
  return Buffer.from(chunks.map((chunk, i) => castLine(start + i * 0.01, 'o', chunk)).join(''));
}

export function startSession(hub: LiveHub, options: Parameters<typeof header>[0] & { resumed?: boolean; path?: string } = {}): string {
  const id = options.id ?? ID;
  hub.started({ id, path: options.path ?? '/nonexistent/recording.cast', header: header(options), resumed: options.resumed ?? false, remoteAddress: '127.0.0.1' });
  return id;
}

/** A viewer that keeps every message; `buffered` plays the socket's unsent bytes. */
export class RecordingViewer implements LiveViewer {
  messages: LiveMessage[] = [];
  buffered = 0;
  dropped: string | undefined;
  private waiters: Array<() => void> = [];

  send(message: LiveMessage, json: Buffer): void {
    // What a socket would carry: the shared encoding must be the message.
    if (JSON.stringify(JSON.parse(json.toString('utf8'))) !== JSON.stringify(message)) throw new Error('json does not match the message');
    this.messages.push(message);
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  drop(reason: string): void {
    this.dropped = reason;
  }

  async waitFor(predicate: (messages: LiveMessage[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${this.messages.map((m) => m.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export function hasType(type: LiveMessage['type']): (messages: LiveMessage[]) => boolean {
  return (messages) => messages.some((m) => m.type === type);
}

export function newTerminal(cols: number, rows: number): Terminal {
  return new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true, logLevel: 'off' });
}

export function write(term: Terminal, data: string): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

/** The visible screen, one string per row (trailing blanks trimmed). */
export function screenOf(term: Terminal): string[] {
  const buffer = term.buffer.active;
  const rows: string[] = [];
  for (let y = 0; y < term.rows; y++) rows.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? '');
  return rows;
}

/** A terminal fed `chunks` (with resizes as [cols, rows]) in order: what kubectl's terminal shows. */
export async function reference(cols: number, rows: number, steps: Array<string | [number, number]>): Promise<Terminal> {
  const term = newTerminal(cols, rows);
  for (const step of steps) {
    if (typeof step === 'string') await write(term, step);
    else term.resize(step[0], step[1]);
  }
  return term;
}

/** What a viewer shows after `messages`: each snapshot resets it, events apply on top. */
export async function render(messages: LiveMessage[]): Promise<Terminal> {
  let term: Terminal | undefined;
  for (const message of messages) {
    if (message.type === 'snapshot') {
      term?.dispose();
      term = newTerminal(message.cols, message.rows);
      await write(term, message.tty ? message.data : message.data.replace(/\r?\n/g, '\r\n'));
    } else if (!term) {
      throw new Error(`${message.type} before any snapshot`);
    } else if (message.type === 'output') {
      await write(term, message.data);
    } else if (message.type === 'resize') {
      term.resize(message.cols, message.rows);
    }
  }
  if (!term) throw new Error('no snapshot');
  return term;
}

/** Replies the terminal gives to DECRQM ?25 (cursor visibility) and DECRQSS DECSTBM (scroll region). */
export async function cursorAndRegion(term: Terminal): Promise<{ cursorHidden: boolean; region: string }> {
  const replies: string[] = [];
  const sub = term.onData((data) => replies.push(data));
  await write(term, '\x1b[?25$p\x1bP$qr\x1b\\');
  sub.dispose();
  const all = replies.join('');
  const region = /P1\$r(\d+;\d+)r/.exec(all)?.[1] ?? '?';
  return { cursorHidden: all.includes('[?25;2$y'), region };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `fn` every 100 ms until it returns something other than undefined. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
