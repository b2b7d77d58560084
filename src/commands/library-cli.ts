// Plumbing shared by `ls`, `export`, `play` and `verify`: the data folder, opening the library as
// a reader (these commands run beside `kubecast serve`), and telling a recording id from a file.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isIndexDamage } from '../store/index-db';
import { Library, progressPrinter } from '../store/library';
import { RecordingStore } from '../store/store';
import { isRecordingId } from '../util/ids';
import type { LogFields, Logger } from '../util/log';
import { defaultDataDir } from '../util/paths';
import { CliError } from './command';

export const dataOption = { data: { type: 'string' } } as const;
export const dataHelp = `--data DIR          data folder (default: ${defaultDataDir()})`;

export function dataDirFrom(value: string | undefined): string {
  return resolve(value ?? defaultDataDir());
}

/** Warnings for a person: one plain line each on stderr, not JSON. */
export function cliLogger(): Logger {
  const print = (level: string) => (msg: string, fields?: LogFields) => {
    const detail = fields && (fields.error ?? fields.problem);
    process.stderr.write(`kubecast: ${level === 'error' ? 'error: ' : ''}${msg}${detail ? ` (${detail instanceof Error ? detail.message : String(detail)})` : ''}\n`);
  };
  const logger: Logger = { debug: () => {}, info: () => {}, warn: print('warn'), error: print('error'), child: () => logger };
  return logger;
}

/** Opens the library of an existing data folder as a reader, with progress for big rebuilds. */
export async function openLibrary(dataDir: string, rebuildDamaged?: string): Promise<Library> {
  if (!existsSync(dataDir)) throw new CliError(`no data folder at ${dataDir} (use --data DIR)`, 2);
  return Library.open(dataDir, { role: 'reader', logger: cliLogger(), onProgress: progressPrinter(process.stderr), rebuildDamaged });
}

/**
 * Runs `use` with the library of `dataDir`, then closes it. The reader's open only checks the
 * index lightly, so damage deeper in the file shows up as SQLITE_CORRUPT on a query: then, when no
 * server owns the folder, the index is rebuilt from the cast files once and `use` runs again.
 * `use` must not print before its queries are done (it may run twice).
 */
export async function withLibrary<T>(dataDir: string, use: (library: Library) => Promise<T>): Promise<T> {
  let damage: string | undefined;
  for (;;) {
    let library: Library | undefined;
    try {
      library = await openLibrary(dataDir, damage);
      return await use(library);
    } catch (err) {
      if (!isIndexDamage(err)) throw err;
      const problem = err instanceof Error ? err.message : String(err);
      if (damage !== undefined) throw new CliError(`the recordings index of ${dataDir} is still damaged after a rebuild (${problem})`);
      if (Library.serverRunningIn(dataDir)) {
        throw new CliError(`the recordings index of ${dataDir} is damaged (${problem}); the kubecast process serving this folder rebuilds it when restarted`);
      }
      damage = problem;
    } finally {
      await library?.close().catch(() => {});
    }
  }
}

export interface RecordingRef {
  path: string;
  /** Set when the argument was a recording id. */
  id?: string;
}

/**
 * An argument that is an existing file is that file (any cast file, wherever it is); a recording
 * id is looked up in the data folder; anything else is refused without touching the disk further.
 */
export async function resolveRecording(arg: string, dataDir: string): Promise<RecordingRef> {
  if (isFile(arg)) return { path: resolve(arg) };
  if (!isRecordingId(arg)) throw new CliError(`"${printable(arg)}" is neither a recording id nor a file`, 2);
  const path = await new RecordingStore(dataDir).locate(arg);
  if (!path) throw new CliError(`no recording ${arg} in ${dataDir}`, 2);
  return { path, id: arg };
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Text from a recording shown in a table or a message: header fields and screen lines come from
 * the recorded side, so control characters (escape sequences) are replaced, never sent to the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '\uFFFD');
}

let stdoutGuarded = false;
let stdoutGone = false;

/** Writes to stdout honouring backpressure; resolves false once the reader went away (EPIPE: `| head`). */
export function writeOut(text: string | Buffer): Promise<boolean> {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    // Without a listener an EPIPE would be an uncaught 'error' event.
    process.stdout.on('error', () => {
      stdoutGone = true;
    });
  }
  return new Promise((resolve) => {
    if (stdoutGone || process.stdout.destroyed) return resolve(false);
    const ok = process.stdout.write(text, (err) => {
      if (err) {
        stdoutGone = true;
        resolve(false);
      }
    });
    if (ok) resolve(true);
    else process.stdout.once('drain', () => resolve(!stdoutGone));
  });
}
