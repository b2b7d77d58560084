// `kubecast ls`: the recordings of a data folder, newest first — a table for people, or with
// --json exactly what the console API's GET /api/recordings answers.
import type { ListQuery, RecordingView } from '../store/library';
import { CliError, parseCommand, type Command } from './command';
import { dataDirFrom, dataHelp, dataOption, printable, withLibrary, writeOut } from './library-cli';

const spec = {
  name: 'ls',
  usage: 'kubecast ls [--json] [--user U] [--pod P] [--namespace N] [--since D] [--search TEXT] [--limit N] [--cursor C] [--data DIR]',
  description: 'List recordings, newest first. With --search, only recordings whose screen showed the text, with the matching lines and their time.',
  options: {
    json: { type: 'boolean' },
    user: { type: 'string' },
    pod: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    since: { type: 'string' },
    search: { type: 'string', short: 's' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    ...dataOption,
  },
  help: [
    '--json              print {"items":[...],"next":...} (the console API objects) instead of a table',
    '--user U            only recordings of user U',
    '--pod P             only recordings of pod P',
    '--namespace, -n N   only recordings in namespace N',
    '--since D           started within D (30m, 2h, 7d) or since a date (2026-03-01, ISO 8601)',
    '--search, -s TEXT   full-text search over what was on screen',
    '--limit N           at most N recordings (default 50, at most 500)',
    '--cursor C          the next page (printed after a full page)',
    dataHelp,
  ],
} as const;

export const ls: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const { values } = parsed;
  const query: ListQuery = {};
  if (values.user) query.user = values.user;
  if (values.pod) query.pod = values.pod;
  if (values.namespace) query.namespace = values.namespace;
  if (values.search) query.q = values.search;
  if (values.cursor) query.cursor = values.cursor;
  if (values.since) query.from = parseSince(values.since);
  if (values.limit !== undefined) {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError('ls: --limit must be an integer from 1 to 500');
    query.limit = limit;
  }
  const { result, pending } = await withLibrary(dataDirFrom(values.data), async (library) => {
    // Without a server keeping it up to date, render what a rebuild left pending before searching.
    if (query.q !== undefined && library.pendingSearch() > 0 && !library.serverRunning()) await library.indexPending();
    return { result: library.list(query), pending: query.q !== undefined ? library.pendingSearch() : 0 };
  });
  if (values.json) {
    await writeOut(JSON.stringify(result) + '\n');
    return 0;
  }
  if (pending > 0) process.stderr.write(`kubecast: ${pending} recording(s) are still being indexed for search; results may be incomplete\n`);
  await writeOut(table(result.items, new Date()));
  if (result.next) process.stderr.write(`more: kubecast ls --cursor ${result.next}${argv.length ? ' (with the same filters)' : ''}\n`);
  return 0;
};

/** "30m", "2h", "7d", "45s", or a date/time that Date understands (ISO 8601). */
export function parseSince(value: string, now = Date.now()): Date {
  const relative = /^(\d{1,9})\s*(s|m|h|d|w)$/.exec(value.trim());
  if (relative) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[relative[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new CliError(`ls: --since must be a duration like 30m, 2h, 7d or a date, got "${printable(value)}"`);
  return new Date(ms);
}

const COLUMNS = ['ID', 'STARTED', 'DURATION', 'USER', 'POD', 'COMMAND', 'EXIT', 'STATE'];

function table(items: RecordingView[], now: Date): string {
  if (items.length === 0) return 'no recordings\n';
  const rows = items.map((r) => [
    r.id.slice(0, 8),
    relativeTime(new Date(r.startedAt), now),
    r.live ? `${duration(r.durationMs)}+` : duration(r.durationMs),
    clip(r.user || '-', 24),
    clip([r.namespace, r.pod, r.container].filter(Boolean).join('/') || '-', 40),
    clip(r.command || '-', 32),
    r.exitCode === null ? '-' : String(r.exitCode),
    badges(r),
  ]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(COLUMNS)];
  items.forEach((item, i) => {
    out.push(line(rows[i]));
    for (const hit of item.hits ?? []) out.push(`    ${clock(hit.time)}  ${clip(hit.text.trim(), 120)}`);
  });
  return out.join('\n') + '\n';
}

function badges(r: RecordingView): string {
  const out: string[] = [];
  if (r.live) out.push('live');
  else if (!r.complete) out.push('incomplete');
  if (r.integrity === 'modified' || r.integrity === 'truncated' || r.integrity === 'unsigned') out.push(r.integrity);
  if (r.searchIndex === 'capped') out.push('search-partial');
  return out.join(',');
}

function clip(text: string, max: number): string {
  const clean = printable(text);
  return clean.length > max ? clean.slice(0, max - 1) + '…' : clean;
}

export function relativeTime(then: Date, now: Date): string {
  const s = Math.round((now.getTime() - then.getTime()) / 1000);
  if (s < 0) return then.toISOString().slice(0, 16).replace('T', ' ');
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 30 * 86400) return `${Math.floor(s / 86400)}d ago`;
  return then.toISOString().slice(0, 10);
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds as m:ss.t (where a hit is in the recording). */
function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${String(m).padStart(2, '0')}:${s.toFixed(1).padStart(4, '0')}`;
}
