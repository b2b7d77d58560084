// Bulk output through the local cluster: `kubectl exec shell -- head -c N /dev/zero | wc -c` with a real
// kubectl 1.27 (SPDY) and 1.33 (WebSocket), in MB/s. The baseline is the same pipeline without kubectl.
// This is the figure the recording proxy is later compared with.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, localClusterKubeconfig } from '../src/localcluster';
import type { Bench, BenchRow } from './harness';
import { kubectlBinary, timeShell } from './proxy';

const GROUP = 'local cluster bulk output';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const localClusterBench: Bench = async (ctx) => {
  const bytes = ctx.quick ? 32_000_000 : 256_000_000;
  const runs = ctx.quick ? 1 : 3;
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-bench-lc-'));
  const cluster = new LocalCluster();
  try {
    const { url } = await cluster.start({ dataDir: join(dir, 'data') });
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, localClusterKubeconfig({ server: url }));
    const home = join(dir, 'home');
    mkdirSync(home);
    const env = { PATH: process.env.PATH, HOME: home };

    const best = async (script: string, extraEnv: Record<string, string> = {}): Promise<number> => {
      let fastest = Infinity;
      for (let i = 0; i < runs; i++) {
        const { seconds, output } = await timeShell(script, { ...env, ...extraEnv });
        if (output !== String(bytes)) throw new Error(`expected ${bytes} bytes, wc -c said ${output}`);
        fastest = Math.min(fastest, seconds);
      }
      return bytes / 1e6 / fastest;
    };

    const baseline = await best(`head -c ${bytes} /dev/zero | wc -c`);
    ctx.log(`baseline (head | wc -c): ${baseline.toFixed(0)} MB/s`);
    const rows: BenchRow[] = [];
    for (const [version, label] of [
      ['1.27', 'kubectl 1.27 exec (SPDY)'],
      ['1.33', 'kubectl 1.33 exec (WebSocket)'],
    ] as const) {
      const kubectl = kubectlBinary(version);
      const cache = join(dir, `cache-${version}`);
      const base = `${quote(kubectl)} --kubeconfig ${quote(kubeconfig)} --cache-dir ${quote(cache)}`;
      // Warm the discovery cache so every timed run does the same work.
      await timeShell(`${base} exec shell -- true; echo ${bytes}`, env);
      const value = await best(`${base} exec shell -- head -c ${bytes} /dev/zero | wc -c`);
      ctx.log(`${label}: ${value.toFixed(0)} MB/s`);
      rows.push({
        group: GROUP,
        name: `${label}, ${bytes / 1e6} MB`,
        value,
        unit: 'MB/s',
        baseline: { name: 'head | wc -c without kubectl', value: baseline },
        ratio: value / baseline,
      });
    }
    return rows;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
