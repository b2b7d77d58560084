// Server→client throughput through SpdyTap and WsTap recording into a cast file, against a plain
// byte copy (socket.pipe) measured in the same run, over loopback with the ends in another process.
import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpdyTap } from '../src/tap/spdy-tap';
import { WsTap } from '../src/tap/ws-tap';
import { CastSink } from '../src/proxy/cast-sink';
import type { Bench, BenchRow } from './harness';

type Mode = 'copy' | 'spdy' | 'ws';
let runs = 0;

async function measure(mode: Mode, kind: 'spdy' | 'ws', totalBytes: number, dir: string): Promise<number> {
  const run = `${mode}-${kind}-${++runs}`;
  const castPath = join(dir, `${run}.cast`);
  const portFile = join(dir, `${run}.port`);
  let upstreamPort = 0;
  const relay = createServer((client: Socket) => {
    client.setNoDelay(true);
    const upstream = connect(upstreamPort, '127.0.0.1');
    upstream.setNoDelay(true);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    if (mode === 'copy') {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    // A deep buffer, like the recorder upload's: the disk write runs beside the relay, not in lockstep.
    const file = createWriteStream(castPath, { highWaterMark: 8 * 1024 * 1024 });
    let fileBlocked = false;
    let clientBlocked = false;
    const resume = () => {
      if (!fileBlocked && !clientBlocked) upstream.resume();
    };
    file.on('drain', () => {
      fileBlocked = false;
      resume();
    });
    client.on('drain', () => {
      clientBlocked = false;
      resume();
    });
    const sink = new CastSink({
      header: { version: 2, timestamp: Math.floor(Date.now() / 1000), srcNode: 'bench', srcNodeID: '', env: null, sshUser: '', localUser: '', connectionID: '' },
      tty: false,
      write: (lines) => {
        if (!file.write(lines)) {
          fileBlocked = true;
          upstream.pause();
        }
        return true;
      },
    });
    const options = {
      sink,
      tty: false,
      protocol: kind === 'spdy' ? 'v4.channel.k8s.io' : 'v5.channel.k8s.io',
      toClient: (data: Uint8Array) => {
        if (!client.write(data)) {
          clientBlocked = true;
          upstream.pause();
        }
      },
      toServer: (data: Uint8Array) => upstream.write(data),
    };
    const tap = mode === 'spdy' ? new SpdyTap(options) : new WsTap(options);
    client.on('data', (chunk: Buffer) => tap.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => tap.fromServer(chunk));
    upstream.on('end', () => {
      tap.finish({ kind: 'closed' });
      file.end(() => client.end());
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const relayPort = (relay.address() as AddressInfo).port;
  const ends = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'ends.ts'), String(relayPort), portFile, String(totalBytes), kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  while (!existsSync(portFile) || readFileSync(portFile, 'utf8') === '') await new Promise((r) => setTimeout(r, 20));
  upstreamPort = Number(readFileSync(portFile, 'utf8'));
  ends.stdin.write('go\n');
  let output = '';
  ends.stdout.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise((resolve) => ends.on('exit', resolve));
  relay.close();
  rmSync(castPath, { force: true });
  if (!output) throw new Error(`bench ends for ${run} printed nothing`);
  const result = JSON.parse(output) as { bytes: number; seconds: number };
  return result.bytes / result.seconds / 1e6;
}

export const tapBench: Bench = async (ctx) => {
  const total = (ctx.quick ? 128 : 512) * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-'));
  const rows: BenchRow[] = [];
  try {
    for (const kind of ['spdy', 'ws'] as const) {
      const label = kind === 'spdy' ? 'SpdyTap' : 'WsTap';
      // Best of two runs each, interleaved, so a noisy moment does not decide the ratio.
      const copy: number[] = [];
      const tap: number[] = [];
      for (let i = 0; i < 2; i++) {
        copy.push(await measure('copy', kind, total, dir));
        tap.push(await measure(kind, kind, total, dir));
      }
      const baseline = Math.max(...copy);
      const value = Math.max(...tap);
      ctx.log(`${label}: copy ${copy.map((v) => v.toFixed(0)).join('/')} MB/s, tap ${tap.map((v) => v.toFixed(0)).join('/')} MB/s`);
      rows.push({
        group: 'tap throughput (32 KiB frames, loopback)',
        name: `${label} + cast file`,
        value,
        unit: 'MB/s',
        baseline: { name: 'socket.pipe copy', value: baseline },
        ratio: value / baseline,
        target: 'ratio >= 0.4',
        met: value / baseline >= 0.4,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
};
