// Benchmark plumbing: every figure is printed next to a baseline measured in the same run.

export interface BenchRow {
  /** Table section, e.g. "tap throughput". */
  group: string;
  /** What was measured, e.g. "SpdyTap + cast file". */
  name: string;
  value: number;
  unit: string;
  /** The same quantity for the baseline of this group, measured in this run. */
  baseline?: { name: string; value: number };
  /** Target, e.g. ">= 0.4" for a ratio or "<= 2" for added milliseconds. */
  target?: string;
  /** value/baseline (or the figure compared with the target) and whether the target is met. */
  ratio?: number;
  met?: boolean;
}

export interface BenchContext {
  quick: boolean;
  log: (line: string) => void;
}

export type Bench = (ctx: BenchContext) => Promise<BenchRow[]>;

export function formatTable(rows: BenchRow[]): string {
  const header = ['group', 'measure', 'value', 'baseline', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [
    r.group,
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '',
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...body.map(line)].join('\n');
}

function fmt(n: number): string {
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
