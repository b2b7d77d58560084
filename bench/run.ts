// `npm run bench [-- --quick] [-- --json]`: runs every benchmark and prints one table.
import os from 'node:os';
import { formatTable, type Bench, type BenchRow } from './harness';

const benches: Array<[string, () => Promise<Bench>]> = [
  ['tap', async () => (await import('./tap')).tapBench],
  ['localcluster', async () => (await import('./localcluster')).localClusterBench],
  ['proxy', async () => (await import('./proxy')).proxyBench],
  ['concurrency', async () => (await import('./concurrency')).concurrencyBench],
  ['search', async () => (await import('./search')).searchBench],
  ['live', async () => (await import('./live')).liveBench],
  ['live-e2e', async () => (await import('./live-e2e')).liveEndToEndBench],
  ['player', async () => (await import('./player')).playerBench],
];

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const json = args.includes('--json');
  const only = args.filter((a) => !a.startsWith('--'));
  const rows: BenchRow[] = [];
  const seconds: Record<string, number> = {};
  const failed: string[] = [];
  for (const [name, load] of benches) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const started = performance.now();
    try {
      const bench = await load();
      rows.push(...(await bench({ quick, log: (line) => process.stderr.write(`  ${line}\n`) })));
    } catch (err) {
      // One broken bench (a missing kubectl or browser) must not cost the figures of the others.
      failed.push(name);
      process.stderr.write(`bench: ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      rows.push({ group: name, name: 'FAILED (see the log above)', value: NaN, unit: '' });
    }
    seconds[name] = (performance.now() - started) / 1000;
    process.stderr.write(`bench: ${name} took ${seconds[name].toFixed(0)} s\n`);
  }
  process.stdout.write(`${machine()}\n\n${formatTable(rows)}\n`);
  if (json) process.stdout.write(JSON.stringify({ machine: machine(), quick, seconds, rows }) + '\n');
  if (failed.length > 0) {
    process.stderr.write(`bench: failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
