// 100 interactive sessions at once through one proxy: scripted typing at a fixed rate, open loop
// (latency counted from when each keystroke was due, so a stalled proxy cannot hide its delay),
// then: every recording complete, echo p99 against the same typing straight at the local cluster,
// and the RSS of `kubecast serve` (proxy + recorder + library + live hub) in its own process.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startKubecast } from '../test/helpers/kubecast';
import { percentile, type Bench } from './harness';
import { localClusterProcess } from './proxy';

interface SessionResult {
  latencies: number[];
  missed: number;
}

function session(url: string, token: string | undefined, ca: string | undefined, keys: number, intervalMs: number, startDelay: number): Promise<SessionResult> {
  return new Promise((resolve, reject) => {
    const path = '/api/v1/namespaces/default/pods/shell/exec?command=cat&container=shell&stdin=true&stdout=true&tty=true';
    const ws = new WebSocket(url.replace(/^http/, 'ws') + path, ['v5.channel.k8s.io'], { headers: token ? { authorization: `Bearer ${token}` } : {}, ca });
    const due = new Map<string, number>();
    const latencies: number[] = [];
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    ws.on('error', reject);
    // The terminal may echo a key split across two messages: search the new text with the end of the last.
    let carry = '';
    ws.on('message', (data: Buffer) => {
      if (data[0] !== 1) return;
      const text = carry + data.subarray(1).toString('latin1');
      carry = text.slice(-16);
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

/** Resident set of a process (current and peak), from /proc. */
function rssOf(pid: number): { rss: number; peak: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rss: NaN, peak: NaN };
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

export const concurrencyBench: Bench = async (ctx) => {
  const sessions = 100;
  const seconds = ctx.quick ? 10 : 30;
  const intervalMs = 200; // five keystrokes per second per session: a fast typist
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-conc-'));
  const cluster = await localClusterProcess(join(dir, 'cluster'));
  // kubecast serve in its own process, as users run it: its RSS is the proxy's (with recorder,
  // library and live hub), not the typists'.
  const serve = await startKubecast(['serve', '--data', join(dir, 'serve'), '--upstream', cluster.url]);
  try {
    const proxyUrl = String(serve.ready.proxy);
    const consoleUrl = new URL(String(serve.ready.console));
    const consoleToken = consoleUrl.searchParams.get('token') ?? '';
    const proxyToken = /token: "?([^"\s]+)/.exec(readFileSync(String(serve.ready.kubeconfig), 'utf8'))?.[1];
    if (!proxyToken) throw new Error('no token in the kubeconfig serve wrote');
    const ca = readFileSync(join(dir, 'serve', 'tls', 'ca.crt'), 'utf8');
    const keys = Math.floor((seconds * 1000) / intervalMs);
    const typeInAll = (url: string, token?: string, caPem?: string) =>
      Promise.all(Array.from({ length: sessions }, (_, i) => session(url, token, caPem, keys, intervalMs, 1000 + (i * intervalMs) / sessions)));
    // Baseline: the same typists straight at the local cluster.
    const direct = (await typeInAll(cluster.url)).flatMap((r) => r.latencies).sort((a, b) => a - b);
    const idle = rssOf(serve.pid);
    let peakRss = idle.rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(serve.pid).rss)), 100);
    const results = await typeInAll(proxyUrl, proxyToken, ca);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssOf(serve.pid).peak);
    if (serve.child.exitCode !== null || serve.child.signalCode !== null) throw new Error(`kubecast serve exited during the run:\n${serve.stderr().slice(-4000)}`);
    // Recordings close once the proxy has seen both ends; give the last ones a moment.
    const deadline = Date.now() + 15_000;
    let complete = 0;
    while (Date.now() < deadline) {
      const answer = await fetch(new URL('/api/recordings?limit=500', consoleUrl), { headers: { authorization: `Bearer ${consoleToken}` } });
      const { items } = (await answer.json()) as { items: Array<{ complete: boolean }> };
      complete = items.filter((r) => r.complete).length;
      if (complete >= sessions) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const missed = results.reduce((n, r) => n + r.missed, 0);
    ctx.log(`${sessions} sessions × ${keys} keystrokes: ${all.length} echoes, ${missed} missed, ${complete} complete recordings, serve RSS idle ${(idle.rss / 1e6).toFixed(0)} MB, peak ${(peakRss / 1e6).toFixed(0)} MB`);
    const group = `${sessions} concurrent interactive sessions`;
    return [
      { group, name: 'recordings complete, no echo missed', value: complete, unit: `of ${sessions}`, target: `= ${sessions}, 0 missed (${missed})`, met: complete === sessions && missed === 0 },
      ...[50, 99].map((p) => ({
        group,
        name: `echo latency p${p} (from due time)`,
        value: percentile(all, p),
        unit: 'ms',
        baseline: { name: 'direct', value: percentile(direct, p) },
        ratio: percentile(all, p) / percentile(direct, p),
      })),
      { group, name: 'kubecast serve peak RSS', value: peakRss / 1e6, unit: 'MB', baseline: { name: 'idle', value: idle.rss / 1e6 }, ratio: peakRss / idle.rss, target: '< 300 MB', met: peakRss < 300e6 },
    ];
  } finally {
    await serve.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
