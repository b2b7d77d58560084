// Hang watchdog for synchronous targets. A parser stuck in a loop blocks the thread that runs it,
// so nothing on that thread can notice: a worker thread watches a heartbeat in shared memory and,
// when one case has run past the limit, writes that case to the regression corpus, says so on
// stderr (synchronously: the main thread cannot relay console output) and kills the process. The
// parent process (fuzz/run.ts) turns that into exit status 1.
import { Worker } from 'node:worker_threads';
import { encodeCase, type FuzzCase } from './lib/case';

const CASE_CAPACITY = 16 * 1024 * 1024;
const NAME_CAPACITY = 64;

// Plain JavaScript: the worker runs without the TypeScript loader.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { mkdirSync, writeFileSync, writeSync } = require('node:fs');
const { join } = require('node:path');
const { control, startedAt, name, data, hangMs, fixturesDir, save } = workerData;
const state = new Int32Array(control);
const started = new Float64Array(startedAt);
const nameBytes = new Uint8Array(name);
const caseBytes = new Uint8Array(data);
setInterval(() => {
  if (Atomics.load(state, 1) !== 1) return; // no case running
  const elapsed = Date.now() - started[0];
  if (elapsed < hangMs) return;
  const length = Atomics.load(state, 2);
  const target = Buffer.from(nameBytes).toString('utf8').replace(/\\0+$/, '');
  let where = '(case too large to keep)';
  if (length >= 0) {
    const bytes = Buffer.from(caseBytes.subarray(0, length));
    if (save) {
      const dir = join(fixturesDir, target);
      mkdirSync(dir, { recursive: true });
      where = join(dir, createHash('sha256').update(bytes).digest('hex').slice(0, 16) + '.bin');
      writeFileSync(where, bytes);
    } else {
      where = '(not saved: --no-save)';
    }
  }
  writeSync(2, '\\nFINDING ' + target + ': one case has run for ' + Math.round(elapsed / 1000) + ' s (hang); case: ' + where + '\\n' +
    (save && length >= 0 ? 'replay: npm run fuzz -- --replay ' + where + '\\n' : ''));
  process.kill(process.pid, 'SIGKILL');
}, 250);
`;

export interface Watchdog {
  caseStarted(target: string, fuzzCase: FuzzCase): void;
  caseEnded(): void;
  stop(): Promise<void>;
}

export function startWatchdog(options: { hangMs: number; fixturesDir: string; save: boolean }): Watchdog {
  const control = new SharedArrayBuffer(16);
  const startedAt = new SharedArrayBuffer(8);
  const name = new SharedArrayBuffer(NAME_CAPACITY);
  const data = new SharedArrayBuffer(CASE_CAPACITY);
  const state = new Int32Array(control);
  const started = new Float64Array(startedAt);
  const nameBytes = new Uint8Array(name);
  const caseBytes = new Uint8Array(data);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control, startedAt, name, data, ...options } });
  worker.unref();
  let lastName = '';
  return {
    caseStarted(target, fuzzCase) {
      if (target !== lastName) {
        nameBytes.fill(0);
        nameBytes.set(Buffer.from(target).subarray(0, NAME_CAPACITY));
        lastName = target;
      }
      const encoded = encodeCase(fuzzCase);
      if (encoded.length <= CASE_CAPACITY) {
        caseBytes.set(encoded);
        Atomics.store(state, 2, encoded.length);
      } else {
        Atomics.store(state, 2, -1);
      }
      started[0] = Date.now();
      Atomics.store(state, 1, 1);
    },
    caseEnded() {
      Atomics.store(state, 1, 0);
    },
    async stop() {
      await worker.terminate();
    },
  };
}
