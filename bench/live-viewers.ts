// Live viewers for bench/live.ts, in a child process so they do not share the hub's core: N
// WebSocket clients on one live session, each parsing every message as a browser would. Prints
// "ready" once every viewer has its first snapshot, then one JSON line of figures when every
// viewer has the end (or its socket closed), with the process's CPU time.
// Usage: node --import tsx bench/live-viewers.ts URL COUNT
import { WebSocket } from 'ws';
import type { LiveMessage } from '../src/live/messages';

const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const TAG = /lat-(\d+)/g;

interface ViewerFigures {
  bytes: number;
  messages: number;
  resyncs: number;
  ended: boolean;
  /** [tag, arrival ms on the shared clock] for every latency tag seen in output. */
  arrivals: Array<[number, number]>;
}

const figures: ViewerFigures[] = [];
let ready = 0;
let done = 0;

for (let i = 0; i < count; i++) {
  const mine: ViewerFigures = { bytes: 0, messages: 0, resyncs: 0, ended: false, arrivals: [] };
  figures.push(mine);
  const ws = new WebSocket(url);
  let first = true;
  ws.on('message', (data: Buffer) => {
    const now = performance.timeOrigin + performance.now();
    mine.bytes += data.byteLength;
    mine.messages++;
    const message = JSON.parse(data.toString('utf8')) as LiveMessage;
    if (first) {
      first = false;
      if (++ready === count) process.stdout.write('ready\n');
    }
    if (message.type === 'snapshot' && message.reason === 'resync') mine.resyncs++;
    if (message.type === 'output' && message.data.includes('lat-')) {
      for (const match of message.data.matchAll(TAG)) mine.arrivals.push([Number(match[1]), now]);
    }
    if (message.type === 'end') mine.ended = true;
  });
  const finish = () => {
    if (++done !== count) return;
    const cpu = process.cpuUsage();
    process.stdout.write(JSON.stringify({ viewers: figures, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n', () => process.exit(0));
  };
  ws.once('close', finish);
  ws.on('error', () => {});
}
