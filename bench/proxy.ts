// The recording proxy against the same work without it, measured in one run:
// - bulk output: `kubectl exec shell -- head -c N /dev/zero | wc -c` with kubectl 1.27 (SPDY) and 1.33
//   (WebSocket), directly to a local cluster vs through kubecast serve (proxy + recording to disk);
// - keystroke echo: a one-byte round trip through a TTY (`exec -it cat`), WebSocket v5 client,
//   direct vs through the proxy; p50/p99.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { LocalCluster, localClusterKubeconfig } from '../src/localcluster';
import { startServe } from '../src/serve/serve';
import { percentile, type Bench, type BenchRow } from './harness';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function kubectlBinary(version: string): string {
  const which = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  if (which.status !== 0 || which.stdout.trim() === '') throw new Error('kubectl is not installed');
  const file = join(dirname(realpathSync(which.stdout.trim())), `kubectl.${version}`);
  if (!existsSync(file)) throw new Error(`${file} is missing`);
  return file;
}

function timeShell(script: string, env: NodeJS.ProcessEnv): Promise<{ seconds: number; output: string }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (errors += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${script} exited ${code}: ${errors}`));
      else resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, output: output.trim() });
    });
  });
}

/** Round trips of one typed byte through `exec -it cat` over WebSocket v5; milliseconds. */
async function echoLatencies(url: string, options: { token?: string; ca?: string }, samples: number): Promise<number[]> {
  const path = '/api/v1/namespaces/default/pods/shell/exec?command=cat&container=shell&stdin=true&stdout=true&tty=true';
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, ['v5.channel.k8s.io'], {
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    ca: options.ca,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}\n')]));
  let waiting: ((data: Buffer) => void) | undefined;
  ws.on('message', (data: Buffer) => {
    if (data[0] === 1 && data.byteLength > 1) waiting?.(data);
  });
  const times: number[] = [];
  // Warm up, then measure.
  for (let i = 0; i < samples + 20; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const echoed = new Promise<void>((resolve) => {
      waiting = (data) => {
        if (data.includes(key)) resolve();
      };
    });
    const started = process.hrtime.bigint();
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(key)]));
    await echoed;
    if (i >= 20) times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  ws.send(Buffer.from([0, 4])); // Ctrl-D ends cat
  ws.close();
  return times.sort((a, b) => a - b);
}

export const proxyBench: Bench = async (ctx) => {
  const bytes = ctx.quick ? 64_000_000 : 256_000_000;
  const runs = ctx.quick ? 1 : 2;
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-proxy-'));
  const direct = new LocalCluster();
  const serve = await startServe({ dataDir: join(dir, 'serve'), upstream: 'local' });
  const rows: BenchRow[] = [];
  try {
    const { url } = await direct.start({ dataDir: join(dir, 'direct') });
    const directConfig = join(dir, 'direct.kubeconfig');
    writeFileSync(directConfig, localClusterKubeconfig({ server: url }));
    const home = join(dir, 'home');
    mkdirSync(home);
    const env = { PATH: process.env.PATH, HOME: home };
    const best = async (script: string) => {
      let fastest = Infinity;
      for (let i = 0; i < runs; i++) {
        const { seconds, output } = await timeShell(script, env);
        if (output !== String(bytes)) throw new Error(`expected ${bytes} bytes, wc -c said ${output}`);
        fastest = Math.min(fastest, seconds);
      }
      return bytes / 1e6 / fastest;
    };
    // Text is the common bulk case (logs, cat, base64); NUL bytes are the worst case for asciicast:
    // JSON writes each as \u0000, so the recording is 6× the output and the disk sets the pace.
    const workloads = [
      ['text', `sh -c 'while :; do cat /etc/services; done | head -c ${bytes}'`],
      ['/dev/zero', `head -c ${bytes} /dev/zero`],
    ] as const;
    for (const [version, label] of [
      ['1.27', 'kubectl 1.27 (SPDY)'],
      ['1.33', 'kubectl 1.33 (WebSocket)'],
    ] as const) {
      const kubectl = quote(kubectlBinary(version));
      const viaDirect = `${kubectl} --kubeconfig ${quote(directConfig)} --cache-dir ${quote(join(dir, `cache-d-${version}`))}`;
      const viaProxy = `${kubectl} --kubeconfig ${quote(serve.kubeconfigPath)} --cache-dir ${quote(join(dir, `cache-p-${version}`))}`;
      await timeShell(`${viaDirect} exec shell -- true && ${viaProxy} exec shell -- true`, env);
      for (const [workload, command] of workloads) {
      const directRate = await best(`${viaDirect} exec shell -- ${command} | wc -c`);
      const proxyRate = await best(`${viaProxy} exec shell -- ${command} | wc -c`);
      ctx.log(`${label}, ${workload}: direct ${directRate.toFixed(0)} MB/s, through proxy + recording ${proxyRate.toFixed(0)} MB/s`);
      rows.push({
        group: 'bulk output through the proxy',
        name: `${label}, ${workload}, proxy + recording`,
        value: proxyRate,
        unit: 'MB/s',
        baseline: { name: 'direct to the local cluster', value: directRate },
        ratio: proxyRate / directRate,
        target: 'ratio >= 0.7',
        met: proxyRate / directRate >= 0.7,
      });
      }
    }

    const samples = ctx.quick ? 200 : 1000;
    const ca = readFileSync(join(dir, 'serve', 'tls', 'ca.crt'), 'utf8');
    const directTimes = await echoLatencies(url, {}, samples);
    const proxyTimes = await echoLatencies(serve.urls.proxy, { token: serve.token, ca }, samples);
    for (const p of [50, 99]) {
      const d = percentile(directTimes, p);
      const v = percentile(proxyTimes, p);
      rows.push({
        group: 'keystroke echo round trip (WebSocket, TTY)',
        name: `p${p} through the proxy`,
        value: v,
        unit: 'ms',
        baseline: { name: 'direct', value: d },
        ratio: v / d,
        target: p === 99 ? 'added <= 2 ms' : undefined,
        met: p === 99 ? v - d <= 2 : undefined,
      });
    }
    ctx.log(`echo: direct p50 ${percentile(directTimes, 50).toFixed(2)} ms p99 ${percentile(directTimes, 99).toFixed(2)} ms; proxy p50 ${percentile(proxyTimes, 50).toFixed(2)} ms p99 ${percentile(proxyTimes, 99).toFixed(2)} ms`);
    return rows;
  } finally {
    await serve.stop();
    await direct.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
