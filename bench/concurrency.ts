// 100 interactive sessions at once through one proxy: scripted typing at a fixed rate, open loop
// (latency counted from when each keystroke was due, so a stalled proxy cannot hide its delay),
// then: every recording complete, echo p99, and this process's RSS (proxy + recorder + library +
// live hub; the local cluster runs in its own process).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServe } from '../src/serve/serve';
import { percentile, type Bench } from './harness';
import { localClusterProcess } from './proxy';

interface SessionResult {
  latencies: number[];
  missed: number;
}

function session(url: string, token: string, ca: string, keys: number, intervalMs: number, startDelay: number): Promise<SessionResult> {
  return new Promise((resolve, reject) => {
    const path = '/api/v1/namespaces/default/pods/shell/exec?command=cat&container=shell&stdin=true&stdout=true&tty=true';
    const ws = new WebSocket(url.replace(/^https/, 'wss') + path, ['v5.channel.k8s.io'], { headers: { authorization: `Bearer ${token}` }, ca });
    const due = new Map<string, number>();
    const latencies: number[] = [];
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      if (data[0] !== 1) return;
      const text = data.subarray(1).toString('latin1');
      for (const [key, at] of due) {
        if (text.includes(key)) {
          latencies.push(performance.now() - at);
          due.delete(key);
        }
      }
    });
    ws.on('open', () => {
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}\n')]));
      const start = performance.now() + startDelay;
      const tick = () => {
        // Open loop: each keystroke has a due time; send every one that is due now.
        while (sent < keys && start + sent * intervalMs <= performance.now()) {
          const key = `k${sent.toString(36)}.`;
          due.set(key, start + sent * intervalMs);
          ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(key)]));
          sent++;
        }
        if (sent < keys) timer = setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
        else
          setTimeout(() => {
            ws.send(Buffer.from([0, 4]));
            ws.close();
            resolve({ latencies, missed: due.size });
          }, 1000);
      };
      timer = setTimeout(tick, startDelay);
    });
    ws.on('close', () => timer && clearTimeout(timer));
  });
}

export const concurrencyBench: Bench = async (ctx) => {
  const sessions = 100;
  const seconds = ctx.quick ? 10 : 30;
  const intervalMs = 200; // five keystrokes per second per session: a fast typist
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-conc-'));
  const cluster = await localClusterProcess(join(dir, 'cluster'));
  const serve = await startServe({ dataDir: join(dir, 'serve'), upstream: cluster.url, console: false });
  try {
    const ca = readFileSync(join(dir, 'serve', 'tls', 'ca.crt'), 'utf8');
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const keys = Math.floor((seconds * 1000) / intervalMs);
    const results = await Promise.all(
      Array.from({ length: sessions }, (_, i) => session(serve.urls.proxy, serve.token, ca, keys, intervalMs, 1000 + (i * intervalMs) / sessions)),
    );
    clearInterval(sampler);
    // Recordings close once the proxy has seen both ends; give the last ones a moment.
    const deadline = Date.now() + 15_000;
    let complete = 0;
    while (Date.now() < deadline) {
      const { items } = serve.library.list({ limit: 500 });
      complete = items.filter((r) => r.complete).length;
      if (complete >= sessions) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const missed = results.reduce((n, r) => n + r.missed, 0);
    ctx.log(`${sessions} sessions × ${keys} keystrokes: ${all.length} echoes, ${missed} missed, ${complete} complete recordings, peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
    const group = `${sessions} concurrent interactive sessions`;
    return [
      { group, name: 'recordings complete', value: complete, unit: `of ${sessions}`, target: `= ${sessions}`, met: complete === sessions && missed === 0 },
      { group, name: 'echo latency p50 (from due time)', value: percentile(all, 50), unit: 'ms' },
      { group, name: 'echo latency p99 (from due time)', value: percentile(all, 99), unit: 'ms' },
      { group, name: 'proxy process peak RSS', value: peakRss / 1e6, unit: 'MB', target: '< 300 MB', met: peakRss < 300e6 },
    ];
  } finally {
    await serve.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
