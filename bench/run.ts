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
  for (const [name, load] of benches) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}…\n`);
    const bench = await load();
    rows.push(...(await bench({ quick, log: (line) => process.stderr.write(`  ${line}\n`) })));
  }
  process.stdout.write(`${machine()}\n\n${formatTable(rows)}\n`);
  if (json) process.stdout.write(JSON.stringify({ machine: machine(), quick, rows }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
