// Live latency end to end, as a person watching sees it: a process in the local cluster writes a
// tag carrying its monotonic clock, kubectl 1.33 runs it through `kubecast serve` (its own process:
// proxy, tap, embedded recorder, live hub, console), and 50 viewers on the console's
// `/api/live/ID` WebSocket note when each tag arrives. CLOCK_MONOTONIC is shared by every process
// on the machine, so arrival minus the tag is the whole path. Baseline: the same tags read straight
// from kubectl's stdout, which has no recorder or hub in the way.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startKubecast } from '../test/helpers/kubecast';
import { percentile, type Bench } from './harness';
import { kubectlBinary } from './proxy';

const VIEWERS = 50;
/** Viewers join during this quiet start; tags are written after it. */
const WARMUP_MS = 3000;
const INTERVAL_MS = 10;

/** The program the "container" runs: `count` tags, one every INTERVAL_MS, after the warm-up. */
const emitter = (count: number) =>
  `let i=0;setTimeout(function tick(){if(i>=${count})return;process.stdout.write('lat-'+i+'-'+process.hrtime.bigint()+'\\n');i++;setTimeout(tick,${INTERVAL_MS})},${WARMUP_MS})`;

const TAG = /lat-(\d+)-(\d+)/g;

/** First arrival (ms after it was written) of every tag in `text`, into `into`. */
function noteTags(text: string, into: Map<number, number>): void {
  const arrived = process.hrtime.bigint();
  for (const match of text.matchAll(TAG)) {
    const index = Number(match[1]);
    if (!into.has(index)) into.set(index, Number(arrived - BigInt(match[2])) / 1e6);
  }
}

export const liveEndToEndBench: Bench = async (ctx) => {
  const count = ctx.quick ? 300 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-live-e2e-'));
  const serve = await startKubecast(['serve', '--data', join(dir, 'data')]);
  const viewers: WebSocket[] = [];
  try {
    const consoleUrl = new URL(String(serve.ready.console));
    const token = consoleUrl.searchParams.get('token') ?? '';
    const home = join(dir, 'home');
    mkdirSync(home);
    const kubectl = spawn(kubectlBinary('1.33'), ['--kubeconfig', String(serve.ready.kubeconfig), '--cache-dir', join(dir, 'cache'), 'exec', 'shell', '--', 'node', '-e', emitter(count)], {
      env: { PATH: process.env.PATH, HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const direct = new Map<number, number>();
    let stderr = '';
    kubectl.stdout.on('data', (chunk: Buffer) => noteTags(chunk.toString('latin1'), direct));
    kubectl.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => kubectl.once('close', resolve));

    // The session's id, from the console's own list.
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const answer = await fetch(new URL('/api/live', consoleUrl), { headers: { authorization: `Bearer ${token}` } });
      const { items } = (await answer.json()) as { items: Array<{ id: string; command: string }> };
      id = items.find((s) => s.command.startsWith('node -e'))?.id;
      if (!id) await new Promise((r) => setTimeout(r, 20));
    }
    if (!id) throw new Error(`the session did not show up in /api/live: ${stderr}`);

    const seen = Array.from({ length: VIEWERS }, () => new Map<number, number>());
    await Promise.all(
      seen.map(
        (tags) =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`ws://${consoleUrl.host}/api/live/${id}`, { headers: { authorization: `Bearer ${token}` } });
            viewers.push(ws);
            ws.on('message', (data: Buffer) => noteTags(data.toString('latin1'), tags));
            ws.once('open', () => resolve());
            ws.once('error', reject);
          }),
      ),
    );
    const code = await exited;
    if (code !== 0) throw new Error(`kubectl exited ${code}: ${stderr}`);
    // The end reaches the viewers right behind the last output.
    await new Promise((r) => setTimeout(r, 500));

    const latencies = seen.flatMap((tags) => [...tags.values()]).sort((a, b) => a - b);
    const expected = count * VIEWERS;
    const missing = expected - latencies.length;
    const directTimes = [...direct.values()].sort((a, b) => a - b);
    ctx.log(
      `live end to end: ${latencies.length} arrivals of ${expected} (${missing} missing); viewer p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms; ` +
        `kubectl stdout p50 ${percentile(directTimes, 50).toFixed(2)} ms, p99 ${percentile(directTimes, 99).toFixed(2)} ms`,
    );
    const group = `live latency end to end (process → ${VIEWERS} console viewers, kubectl 1.33 via serve)`;
    return [50, 99].map((p) => ({
      group,
      name: `process write → viewer p${p}`,
      value: percentile(latencies, p),
      unit: 'ms',
      baseline: { name: 'process write → kubectl stdout', value: percentile(directTimes, p) },
      ratio: percentile(latencies, p) / percentile(directTimes, p),
      target: p === 99 ? `<= 50 ms, none missing (${missing})` : undefined,
      met: p === 99 ? percentile(latencies, p) <= 50 && missing === 0 : undefined,
    }));
  } finally {
    for (const ws of viewers) ws.terminate();
    await serve.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
