// `npm run bench [-- --quick] [-- --json]`: runs every benchmark and prints one table.
import { formatTable, type Bench, type BenchRow } from './harness';

const benches: Array<[string, () => Promise<Bench>]> = [
  ['tap', async () => (await import('./tap')).tapBench],
  ['localcluster', async () => (await import('./localcluster')).localClusterBench],
  ['proxy', async () => (await import('./proxy')).proxyBench],
  ['search', async () => (await import('./search')).searchBench],
  ['live', async () => (await import('./live')).liveBench],
];

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
  process.stdout.write(formatTable(rows) + '\n');
  if (json) process.stdout.write(JSON.stringify({ rows }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
