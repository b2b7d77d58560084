// Renders recordings for search off the main thread. The headless terminal and the FTS5 inserts are
// the expensive part of the library; here they cannot slow the sessions the main thread relays.
// One job at a time: the main thread claims a recording, sends {rid, path, cap}, and gets back
// how far rendering got. Lines are written with this thread's own connection (WAL, busy timeout).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { IndexStatements, lineRowid, MAX_LINES_PER_RECORDING } from './index-db';
import { renderForSearch } from './search-render';

export interface SearchJob {
  rid: number;
  path: string;
  cap: number;
}

export type SearchWorkerMessage = { rid: number; capped: boolean; chars: number; lines: number; cancelled: boolean } | { rid: number; error: string };

const { dbPath } = workerData as { dbPath: string };
const db = new Database(dbPath);
db.pragma('busy_timeout = 10000');
const st = new IndexStatements(db);
const cancelled = new Set<number>();
const queue: SearchJob[] = [];
let running = false;

parentPort?.on('message', (message: SearchJob | { cancel: number }) => {
  if ('cancel' in message) {
    cancelled.add(message.cancel);
    return;
  }
  queue.push(message);
  void run();
});

async function run(): Promise<void> {
  if (running) return;
  running = true;
  while (queue.length > 0) {
    const job = queue.shift() as SearchJob;
    parentPort?.postMessage(await render(job));
  }
  running = false;
}

async function render(job: SearchJob): Promise<SearchWorkerMessage> {
  const stopped = () => cancelled.has(job.rid);
  try {
    db.transaction(() => st.deleteLines(job.rid))();
    let count = 0;
    const insert = db.transaction((lines: Array<{ text: string; time: number }>, first: number) => {
      lines.forEach((line, i) => st.insertLine(lineRowid(job.rid, first + i), line.text, line.time));
    });
    const result = await renderForSearch(job.path, job.cap, stopped, (lines) => {
      const room = Math.max(0, MAX_LINES_PER_RECORDING - count);
      const batch = lines.length > room ? lines.slice(0, room) : lines;
      if (batch.length === 0) return;
      insert(batch, count);
      count += batch.length;
    });
    return { rid: job.rid, capped: result.capped || count >= MAX_LINES_PER_RECORDING, chars: result.chars, lines: count, cancelled: stopped() };
  } catch (err) {
    return { rid: job.rid, error: err instanceof Error ? err.message : String(err) };
  } finally {
    cancelled.delete(job.rid);
  }
}
