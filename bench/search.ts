// Search latency over a library of 10 000 recordings (1 000 with --quick).
//
// The recordings are generated as cast files written straight into DATA/recordings (what the
// recorder leaves on disk), then indexed by opening the library on the folder: the rebuild path
// (read + hash every file, render each through the headless terminal for search). That build is
// reported too. Then `Library.list({ q })` — the call behind GET /api/recordings?q= — is timed for
// a mix of queries (rare and common words, phrases, prefixes, with filters, no match), against the
// same listing without `q` as the baseline.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CastWriter, type CastHeader } from '../src/cast';
import { Library, type ListQuery } from '../src/store/library';
import { recordingPath } from '../src/store/paths';
import { percentile, type Bench, type BenchRow } from './harness';

/** Deterministic pseudo-random numbers (mulberry32), so every run searches the same library. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'xe', 'zu', 'pa', 'gri', 'dos', 'fen', 'bar', 'qui'];
const COMMANDS = ['ls -la', 'cat /etc/os-release', 'ps aux', 'df -h', 'kubectl get pods', 'tail -n 20 app.log', 'env', 'top -b -n 1', 'grep error app.log', 'uname -a'];

export function vocabulary(rand: () => number, size: number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 2 + Math.floor(rand() * 3);
    let w = '';
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
    words.add(w);
  }
  return [...words];
}

/** A Zipf-like pick: low indexes (common words) much more often than high ones. */
function zipf(rand: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(Math.pow(n, rand()) - 1));
}

/** Writes `count` generated recordings into DATA/recordings (deterministic content). */
export async function generateRecordings(dataDir: string, count: number): Promise<void> {
  const rand = random(42);
  const words = vocabulary(rand, 5000);
  const start = Date.UTC(2026, 0, 1);
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const startedAt = new Date(start + i * 97_000);
    const user = `user${i % 20}`;
    const header: CastHeader = {
      version: 2,
      width: 120,
      height: 40,
      timestamp: startedAt.getTime() / 1000,
      command: 'sh',
      srcNode: '127.0.0.1',
      srcNodeID: '',
      srcNodeUser: user,
      env: null,
      sshUser: '',
      localUser: '',
      connectionID: '',
      kubernetes: { PodName: `pod-${i % 50}`, Namespace: `ns-${i % 5}`, Container: 'main', SessionType: 'exec' },
      kubecast: { id, user, cluster: 'bench', protocol: 'websocket', tty: true, command: ['sh'], startedAt: startedAt.toISOString() },
    };
    const writer = new CastWriter(header);
    let text = writer.header();
    let t = 0.2;
    for (let c = 0; c < 4; c++) {
      const command = COMMANDS[Math.floor(rand() * COMMANDS.length)];
      text += writer.output((t += 1), 'stdout', Buffer.from(`\x1b[01;32m${user}@pod\x1b[0m:~$ ${command}\r\n`));
      let out = '';
      const lines = 5 + Math.floor(rand() * 15);
      for (let l = 0; l < lines; l++) {
        const n = 4 + Math.floor(rand() * 8);
        const line: string[] = [];
        for (let k = 0; k < n; k++) line.push(words[zipf(rand, words.length)]);
        out += line.join(' ') + '\r\n';
      }
      // One token unique to each recording, for needle-in-a-haystack queries.
      if (c === 2) out += `request-id needle${i}x done\r\n`;
      text += writer.output((t += 0.3), 'stdout', Buffer.from(out));
    }
    text += writer.exit((t += 1), 0);
    const path = recordingPath(dataDir, id, startedAt);
    writes.push(mkdir(dirname(path), { recursive: true }).then(() => writeFile(path, text)));
    if (writes.length >= 64) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}

export const searchBench: Bench = async (ctx) => {
  const count = ctx.quick ? 1000 : 10_000;
  const dataDir = await mkdtemp(join(tmpdir(), 'kubecast-bench-search-'));
  try {
    ctx.log(`generating ${count} recordings…`);
    await generateRecordings(dataDir, count);
    ctx.log('indexing them (rebuild path: read, hash, render for search)…');
    const built = performance.now();
    const library = await Library.open(dataDir, {
      onProgress: (done, total, phase) => {
        if (done === total || done % 2000 === 0) ctx.log(`${phase}: ${done}/${total}`);
      },
    });
    await library.settled();
    const buildSeconds = (performance.now() - built) / 1000;
    try {
      const rand = random(7);
      const words = vocabulary(random(42), 5000);
      const queries: Array<() => ListQuery> = [
        () => ({ q: words[0] }), // the most common word
        () => ({ q: words[zipf(rand, 200)] }),
        () => ({ q: words[1000 + Math.floor(rand() * 4000)] }), // a rare word
        () => ({ q: `needle${Math.floor(rand() * count)}x` }), // one recording
        () => ({ q: `${words[zipf(rand, 100)]} ${words[zipf(rand, 100)]}` }), // two words
        () => ({ q: 'request-id' }), // a phrase in every recording
        () => ({ q: words[3].slice(0, 3) }), // a prefix
        () => ({ q: words[zipf(rand, 50)], user: `user${Math.floor(rand() * 20)}` }),
        () => ({ q: words[zipf(rand, 50)], namespace: 'ns-1', from: new Date(Date.UTC(2026, 0, 5)) }),
        () => ({ q: 'zzzznotthere' }),
      ];
      const timed = (query: ListQuery): number => {
        const t0 = performance.now();
        library.list({ ...query, limit: 50 });
        return performance.now() - t0;
      };
      for (let i = 0; i < 20; i++) timed(queries[i % queries.length]()); // warm-up
      const rounds = ctx.quick ? 20 : 30;
      const search: number[] = [];
      const plain: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const query of queries) search.push(timed(query()));
        for (let k = 0; k < 3; k++) plain.push(timed({ user: rand() < 0.5 ? `user${Math.floor(rand() * 20)}` : undefined }));
      }
      search.sort((a, b) => a - b);
      plain.sort((a, b) => a - b);
      const group = `search (${count} recordings)`;
      const p50 = percentile(search, 50);
      const p99 = percentile(search, 99);
      const base50 = percentile(plain, 50);
      const base99 = percentile(plain, 99);
      const rows: BenchRow[] = [
        { group, name: 'list with q, p50', value: p50, unit: 'ms', baseline: { name: 'list without q, p50', value: base50 }, ratio: p50 / base50 },
        { group, name: 'list with q, p99', value: p99, unit: 'ms', baseline: { name: 'list without q, p99', value: base99 }, ratio: p99 / base99 },
        { group, name: 'index build from cast files', value: count / buildSeconds, unit: 'recordings/s' },
      ];
      ctx.log(`${search.length} searches: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; build ${buildSeconds.toFixed(1)} s`);
      return rows;
    } finally {
      await library.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
};
