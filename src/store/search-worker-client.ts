// The main thread's side of search-worker.ts: one worker, started on first use.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SearchJob, SearchWorkerMessage } from './search-worker';

/** Where the worker's code is: bundled next to the CLI (dist/), or the TypeScript source under tsx. */
function startWorker(workerData: unknown): Worker {
  for (const file of [join(__dirname, 'search-worker.js'), join(__dirname, '..', 'search-worker.js')]) {
    if (existsSync(file)) return new Worker(file, { workerData });
  }
  // Running from source (tests, bench under tsx): load the TypeScript through tsx's require hook.
  const source = join(__dirname, 'search-worker.ts');
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true, workerData });
}

export class SearchWorker {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Array<(message: SearchWorkerMessage) => void>>();

  constructor(private readonly dbPath: string) {}

  render(job: SearchJob): Promise<SearchWorkerMessage> {
    const worker = this.start();
    return new Promise((resolve) => {
      const list = this.waiting.get(job.rid) ?? [];
      list.push(resolve);
      this.waiting.set(job.rid, list);
      worker.postMessage(job);
    });
  }

  cancel(rid: number): void {
    this.worker?.postMessage({ cancel: rid });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.failAll('search worker stopped');
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker({ dbPath: this.dbPath });
    worker.unref();
    worker.on('message', (message: SearchWorkerMessage) => {
      const list = this.waiting.get(message.rid);
      const resolve = list?.shift();
      if (list && list.length === 0) this.waiting.delete(message.rid);
      resolve?.(message);
    });
    const died = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(why);
    };
    worker.on('error', (err) => died(`search worker failed: ${err.message}`));
    worker.on('exit', (code) => code !== 0 && died(`search worker exited with ${code}`));
    this.worker = worker;
    return worker;
  }

  private failAll(error: string): void {
    for (const [rid, list] of this.waiting) for (const resolve of list) resolve({ rid, error });
    this.waiting.clear();
  }
}
