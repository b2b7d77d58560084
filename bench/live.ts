// Live fan-out: a TTY session pushing bulk output (32 KiB frames of `ls -l --color`-like text)
// through the real recorder (h2c upload, cast file, acks) into the live hub, watched by 50
// WebSocket viewers in a child process, against the same session with nobody watching; the hub's
// cost to the recorder (recorder alone vs recorder + hub); and the latency of live events from the
// recorder upload's write (what the proxy calls; the whole path from the process is in live-e2e.ts), and from the hub's lines(), to the viewers, with another session pushing bulk
// output at the same time.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { LiveHub } from '../src/live/hub';
import { fanOutObservers } from '../src/live/fanout';
import { serveLiveSocket } from '../src/live/socket';
import { connectRecorder, type RecorderUpload } from '../src/recorder/client';
import type { IngestObserver } from '../src/recorder/ingest';
import { RecorderServer } from '../src/recorder/server';
import { RecordingStore } from '../src/store/store';
import { FRAME_PAYLOAD, terminalText } from './frames';
import { percentile, type Bench, type BenchRow } from './harness';

const VIEWERS = 50;
const WINDOW = 16 * 1024 * 1024;

interface Rig {
  hub: LiveHub | undefined;
  recorderUrl: string;
  liveUrl: (id: string) => string;
  /** Shared-clock ms at which lines() first carried each latency tag. */
  linesAt: Map<number, number>;
  close: () => Promise<void>;
}

const now = () => performance.timeOrigin + performance.now();

async function rig(dir: string, withHub: boolean): Promise<Rig> {
  const hub = withHub ? new LiveHub() : undefined;
  const linesAt = new Map<number, number>();
  const tap: IngestObserver = {
    started: () => {},
    ended: () => {},
    lines: (_id, lines) => {
      // Tags only travel in small lines; bulk lines are not scanned.
      if (lines.byteLength > 4096 || lines.indexOf('lat-') < 0) return;
      const at = now();
      for (const match of lines.toString('latin1').matchAll(/lat-(\d+)/g)) if (!linesAt.has(Number(match[1]))) linesAt.set(Number(match[1]), at);
    },
  };
  const recorder = new RecorderServer({ host: '127.0.0.1', port: 0, store: new RecordingStore(dir), token: null, observer: hub ? fanOutObservers(tap, hub) : undefined });
  const recorderUrl = await recorder.start();
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  server.on('upgrade', (req, socket, head) => {
    const id = /^\/api\/live\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1];
    if (!id || !hub) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveLiveSocket(hub, ws, id));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    recorderUrl,
    liveUrl: (id) => `ws://127.0.0.1:${port}/api/live/${id}`,
    linesAt,
    close: async () => {
      hub?.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await recorder.stop();
    },
  };
}

function header(id: string): string {
  const startedAt = new Date().toISOString();
  return (
    JSON.stringify({
      version: 2,
      width: 120,
      height: 40,
      timestamp: Math.floor(Date.now() / 1000),
      srcNode: 'bench',
      srcNodeID: '',
      env: null,
      sshUser: '',
      localUser: '',
      connectionID: '',
      kubernetes: { PodName: 'bench', Namespace: 'default', Container: 'main', SessionType: 'exec' },
      kubecast: { id, user: 'bench', cluster: 'local', protocol: 'websocket', tty: true, startedAt },
    }) + '\n'
  );
}

/** One output line per 32 KiB frame, as the proxy writes bulk output. */
function bulkBlock(): Buffer {
  const text = terminalText(FRAME_PAYLOAD * 32).toString('utf8');
  const lines: string[] = [];
  for (let i = 0, t = 0; i < text.length; i += FRAME_PAYLOAD, t += 0.001) lines.push(JSON.stringify([Number(t.toFixed(6)), 'o', text.slice(i, i + FRAME_PAYLOAD)]));
  return Buffer.from(lines.join('\n') + '\n');
}

async function session(r: Rig): Promise<{ upload: RecorderUpload; id: string }> {
  const upload = await connectRecorder([{ url: r.recorderUrl }]);
  const id = upload.recordingId;
  if (!id) throw new Error('recorder gave no recording id');
  upload.write(Buffer.from(header(id)));
  if (r.hub) {
    const deadline = Date.now() + 5000;
    while (!r.hub.get(id)) {
      if (Date.now() > deadline) throw new Error('the hub never saw the session');
      await sleep(2);
    }
  }
  return { upload, id };
}

/** Writes `block` until `total` bytes, at most WINDOW unacknowledged (as the proxy's client would). */
async function push(upload: RecorderUpload, block: Buffer, total: number): Promise<void> {
  let wake: (() => void) | undefined;
  upload.onAck = () => wake?.();
  for (let sent = 0; sent < total; sent += block.byteLength) {
    while (upload.sent - upload.acked > WINDOW) {
      if (upload.failed) throw upload.failed;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 10);
      });
    }
    upload.write(block);
  }
}

interface ViewerFigures {
  bytes: number;
  messages: number;
  resyncs: number;
  ended: boolean;
  arrivals: Array<[number, number]>;
}

interface ViewersResult {
  viewers: ViewerFigures[];
  cpuMs: number;
}

function startViewers(url: string, count: number): { ready: Promise<void>; result: Promise<ViewersResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'live-viewers.ts'), url, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let onReady: () => void = () => {};
  let onResult: (result: ViewersResult) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.on('exit', (code) => reject(new Error(`viewers exited ${code} before they were ready`)));
  });
  const result = new Promise<ViewersResult>((resolve, reject) => {
    onResult = resolve;
    child.on('exit', (code) => reject(new Error(`viewers exited ${code} without figures`)));
  });
  // Whichever is not awaited must not become an unhandled rejection.
  ready.catch(() => {});
  result.catch(() => {});
  lines.on('line', (line) => {
    if (line === 'ready') onReady();
    else onResult(JSON.parse(line) as ViewersResult);
  });
  return { ready, result };
}

interface Run {
  mbps: number;
  /** CPU time of this process (uploader, recorder, hub, WebSocket sends) per MB: unlike MB/s, not skewed by other load on the machine. */
  cpuMsPerMB: number;
  viewers: ViewersResult | undefined;
}

async function throughput(r: Rig, block: Buffer, total: number, viewers: number): Promise<Run> {
  const { upload, id } = await session(r);
  const watching = viewers > 0 ? startViewers(r.liveUrl(id), viewers) : undefined;
  await watching?.ready;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await push(upload, block, total);
  await upload.end();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { mbps: total / 1e6 / seconds, cpuMsPerMB: (used.user + used.system) / 1000 / (total / 1e6), viewers: await watching?.result };
}

async function latency(r: Rig, block: Buffer, events: number, loadBytes: number): Promise<{ fromWrite: number[]; fromLines: number[]; missing: number; loopDelayP99: number; loopDelayMax: number }> {
  r.linesAt.clear();
  const { upload, id } = await session(r);
  const watching = startViewers(r.liveUrl(id), VIEWERS);
  await watching.ready;
  // Another session pushes bulk output meanwhile, unwatched: the recorder and the hub are busy.
  const load = await session(r);
  const loading = push(load.upload, block, loadBytes).then(() => load.upload.end());
  const writtenAt = new Map<number, number>();
  // How long this process's event loop was held up meanwhile (the hub's work, the recorder's, GC).
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  for (let i = 0; i < events; i++) {
    writtenAt.set(i, now());
    upload.write(Buffer.from(JSON.stringify([i / 200, 'o', `lat-${i} $ \r\n`]) + '\n'));
    await sleep(5);
  }
  loopDelay.disable();
  await upload.end();
  await loading;
  const { viewers: figures } = await watching.result;
  const fromWrite: number[] = [];
  const fromLines: number[] = [];
  let missing = 0;
  for (const viewer of figures) {
    const seen = new Set<number>();
    for (const [tag, at] of viewer.arrivals) {
      if (seen.has(tag)) continue;
      seen.add(tag);
      fromWrite.push(at - (writtenAt.get(tag) ?? at));
      const lines = r.linesAt.get(tag);
      if (lines !== undefined) fromLines.push(at - lines);
    }
    missing += events - seen.size;
  }
  return {
    fromWrite: fromWrite.sort((a, b) => a - b),
    fromLines: fromLines.sort((a, b) => a - b),
    missing,
    loopDelayP99: loopDelay.percentile(99) / 1e6,
    loopDelayMax: loopDelay.max / 1e6,
  };
}

export const liveBench: Bench = async (ctx) => {
  const total = (ctx.quick ? 128 : 512) * 1024 * 1024;
  const block = bulkBlock();
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-live-'));
  const rows: BenchRow[] = [];
  const withHub = await rig(join(dir, 'hub'), true);
  const alone = await rig(join(dir, 'alone'), false);
  try {
    // Best of two runs each, interleaved, so a noisy moment does not decide a ratio.
    const none: Run[] = [];
    const watched: Run[] = [];
    const recorderOnly: Run[] = [];
    for (let i = 0; i < 2; i++) {
      recorderOnly.push(await throughput(alone, block, total, 0));
      none.push(await throughput(withHub, block, total, 0));
      watched.push(await throughput(withHub, block, total, VIEWERS));
    }
    const fmt = (runs: Run[]) => `${runs.map((x) => x.mbps.toFixed(0)).join('/')} MB/s (${runs.map((x) => x.cpuMsPerMB.toFixed(2)).join('/')} CPU ms/MB)`;
    ctx.log(`recorder alone ${fmt(recorderOnly)}; + hub ${fmt(none)}; + hub + ${VIEWERS} viewers ${fmt(watched)}`);
    const last = watched[watched.length - 1].viewers;
    const figures = last?.viewers ?? [];
    const sent = figures.reduce((sum, f) => sum + f.bytes, 0);
    const resyncs = figures.reduce((sum, f) => sum + f.resyncs, 0);
    ctx.log(
      `last run: viewers received ${(sent / 1e6).toFixed(0)} MB in all (${(sent / 1e6 / VIEWERS).toFixed(1)} MB each), ${resyncs} resyncs, ` +
        `${figures.filter((f) => f.ended).length}/${VIEWERS} got the end; viewer process CPU ${last?.cpuMs.toFixed(0)} ms`,
    );
    const best = (runs: Run[]) => Math.max(...runs.map((x) => x.mbps));
    const leastCpu = (runs: Run[]) => Math.min(...runs.map((x) => x.cpuMsPerMB));
    const base = best(none);
    const value = best(watched);
    rows.push({
      group: 'live fan-out (bulk TTY output via recorder)',
      name: `session throughput, ${VIEWERS} viewers`,
      value,
      unit: 'MB/s',
      baseline: { name: 'no viewers', value: base },
      ratio: value / base,
      target: 'ratio >= 0.8',
      met: value / base >= 0.8,
    });
    rows.push({
      group: 'live fan-out (bulk TTY output via recorder)',
      name: `CPU per MB, ${VIEWERS} viewers`,
      value: leastCpu(watched),
      unit: 'ms/MB',
      baseline: { name: 'no viewers', value: leastCpu(none) },
      ratio: leastCpu(watched) / leastCpu(none),
    });
    const aloneBest = best(recorderOnly);
    rows.push({
      group: 'live hub cost to the recorder (no viewers)',
      name: 'recorder + hub',
      value: base,
      unit: 'MB/s',
      baseline: { name: 'recorder alone', value: aloneBest },
      ratio: base / aloneBest,
    });
    rows.push({
      group: 'live hub cost to the recorder (no viewers)',
      name: 'recorder + hub, CPU per MB',
      value: leastCpu(none),
      unit: 'ms/MB',
      baseline: { name: 'recorder alone', value: leastCpu(recorderOnly) },
      ratio: leastCpu(none) / leastCpu(recorderOnly),
    });

    const events = ctx.quick ? 300 : 1000;
    const lat = await latency(withHub, block, events, (ctx.quick ? 64 : 256) * 1024 * 1024);
    ctx.log(
      `latency over ${lat.fromWrite.length} arrivals (${lat.missing} missing): upload write → viewer p50 ${percentile(lat.fromWrite, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(lat.fromWrite, 99).toFixed(2)} ms; lines() → viewer p50 ${percentile(lat.fromLines, 50).toFixed(2)} ms, p99 ${percentile(lat.fromLines, 99).toFixed(2)} ms; ` +
        `hub process event-loop delay p99 ${lat.loopDelayP99.toFixed(1)} ms, max ${lat.loopDelayMax.toFixed(1)} ms`,
    );
    const p99 = percentile(lat.fromWrite, 99);
    rows.push({
      group: `live latency (${VIEWERS} viewers, bulk load alongside)`,
      name: 'recorder upload write → viewer p99',
      value: p99,
      unit: 'ms',
      target: '<= 50',
      met: p99 <= 50 && lat.missing === 0,
    });
    const linesP99 = percentile(lat.fromLines, 99);
    rows.push({
      group: `live latency (${VIEWERS} viewers, bulk load alongside)`,
      name: 'hub lines() → viewer p99',
      value: linesP99,
      unit: 'ms',
      target: '<= 50',
      met: linesP99 <= 50,
    });
  } finally {
    await withHub.close();
    await alone.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
