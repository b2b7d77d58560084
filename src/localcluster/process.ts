// Running a container's command as a local process: a pseudo-terminal (node-pty) with a TTY, plain
// pipes otherwise. Each process is a session and process-group leader (forkpty / detached spawn), so
// everything it starts can be found and killed when the session ends: no orphans. A descendant that
// leaves both (setsid, daemonising) is still found by the tag every process inherits in its
// environment; only one that also drops its environment escapes, as it would without a cgroup.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants as fsConstants, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import * as pty from 'node-pty';
import type { TerminalSize } from '../protocol/channel';

/** The PATH a container gets when the local cluster's own PATH is empty. */
export const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type OutputStream = 'stdout' | 'stderr';

export type ProcessEnd =
  | { kind: 'exited'; code: number }
  /** Never ran (or the OS refused it); `message` is what a runtime would say. */
  | { kind: 'failed'; message: string };

export interface ProcessHandlers {
  output(stream: OutputStream, data: Buffer): void;
  /** Called once, after all output has been delivered (or a short linger for output held open by descendants). */
  end(end: ProcessEnd): void;
}

export interface SpawnSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  tty: boolean;
  /** Initial terminal size (tty only). */
  size?: TerminalSize;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface ContainerProcess {
  readonly pid: number;
  /** Writes to stdin; false when the pipe is full (wait for `onInputDrain`). */
  write(data: Uint8Array): boolean;
  onInputDrain(listener: () => void): void;
  /** End of input: closes the stdin pipe, or types EOT (^D) into a terminal. */
  endInput(): void;
  resize(size: TerminalSize): void;
  pauseOutput(): void;
  resumeOutput(): void;
  /** Kills the whole process group/session (SIGHUP+SIGTERM, SIGKILL after a grace); resolves when none is left. */
  kill(): Promise<void>;
  readonly ended: boolean;
}

/** Set in every container process's environment, with a value of its own, so its descendants can be found. */
export const PROCESS_TAG_ENV = 'KUBECAST_PROCESS';

/** How long output pipes may stay open after the process exited (a background child holding them). */
const OUTPUT_LINGER_MS = 1000;

// --- executable lookup (so "not found" is a message, not a crash inside node-pty's fork) ---

export type Resolved = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Finds argv[0] the way Go's exec.LookPath does inside runc, with the same wording:
 * `exec: "nope": executable file not found in $PATH`, `exec: "./x": stat ./x: no such file or directory`.
 */
export function resolveExecutable(file: string, pathEnv: string, cwd: string): Resolved {
  const quoted = JSON.stringify(file);
  if (file.includes('/')) {
    const full = isAbsolute(file) ? file : resolve(cwd, file);
    const problem = executableProblem(full, file);
    return problem ? { ok: false, reason: `exec: ${quoted}: ${problem}` } : { ok: true, path: full };
  }
  for (const dir of pathEnv.split(delimiter)) {
    const full = resolve(cwd, dir === '' ? '.' : dir, file);
    if (executableProblem(full, file) === null) return { ok: true, path: full };
  }
  return { ok: false, reason: `exec: ${quoted}: executable file not found in $PATH` };
}

function executableProblem(full: string, shown: string): string | null {
  let stat;
  try {
    stat = statSync(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? `stat ${shown}: no such file or directory` : `stat ${shown}: ${code ?? 'error'}`;
  }
  if (stat.isDirectory()) return 'is a directory';
  try {
    accessSync(full, fsConstants.X_OK);
  } catch {
    return 'permission denied';
  }
  return null;
}

// --- spawning ---

export function spawnContainerProcess(spec: SpawnSpec, handlers: ProcessHandlers): ContainerProcess {
  const resolved = resolveExecutable(spec.argv[0], spec.env.PATH ?? FALLBACK_PATH, spec.cwd);
  if (!resolved.ok) return failedProcess(resolved.reason, handlers);
  const tag = randomUUID();
  const tagged = { ...spec, env: { ...spec.env, [PROCESS_TAG_ENV]: tag } };
  try {
    return spec.tty ? spawnPty(resolved.path, tagged, tag, handlers) : spawnPiped(resolved.path, tagged, tag, handlers);
  } catch (err) {
    return failedProcess(err instanceof Error ? err.message : String(err), handlers);
  }
}

function failedProcess(message: string, handlers: ProcessHandlers): ContainerProcess {
  queueMicrotask(() => handlers.end({ kind: 'failed', message }));
  return {
    pid: -1,
    ended: true,
    write: () => true,
    onInputDrain: () => {},
    endInput: () => {},
    resize: () => {},
    pauseOutput: () => {},
    resumeOutput: () => {},
    kill: async () => {},
  };
}

function signalExitCode(signal: NodeJS.Signals | number | null | undefined): number {
  if (typeof signal === 'number') return 128 + signal;
  if (typeof signal === 'string') return 128 + (osConstants.signals[signal] ?? 0);
  return 0;
}

function spawnPiped(file: string, spec: SpawnSpec, tag: string, handlers: ProcessHandlers): ContainerProcess {
  const child: ChildProcess = spawnChild(file, spec.argv.slice(1), {
    argv0: spec.argv[0],
    cwd: spec.cwd,
    env: spec.env,
    // Own process group (setsid), so the group can be killed as a whole.
    detached: true,
    stdio: [spec.stdin ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore', spec.stderr ? 'pipe' : 'ignore'],
  });
  let ended = false;
  let exitCode: number | null = null;
  let lingerTimer: NodeJS.Timeout | undefined;
  const finish = (end: ProcessEnd) => {
    if (ended) return;
    ended = true;
    if (lingerTimer) clearTimeout(lingerTimer);
    handlers.end(end);
  };
  child.stdout?.on('data', (chunk: Buffer) => handlers.output('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => handlers.output('stderr', chunk));
  // Writing into a pipe whose reader is gone (EPIPE) is the process's business, not ours.
  child.stdin?.on('error', () => {});
  child.stdout?.on('error', () => {});
  child.stderr?.on('error', () => {});
  child.on('error', (err) => finish({ kind: 'failed', message: err.message }));
  child.on('exit', (code, signal) => {
    exitCode = code ?? signalExitCode(signal);
    lingerTimer = setTimeout(() => {
      // A descendant still holds stdout/stderr open: report the exit anyway; the kill reaps it.
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish({ kind: 'exited', code: exitCode ?? 0 });
    }, OUTPUT_LINGER_MS);
  });
  child.on('close', (code, signal) => finish({ kind: 'exited', code: exitCode ?? code ?? signalExitCode(signal) }));
  const pid = child.pid ?? -1;
  return {
    pid,
    get ended() {
      return ended;
    },
    write: (data) => (child.stdin && !child.stdin.destroyed ? child.stdin.write(data) : true),
    onInputDrain: (listener) => void child.stdin?.on('drain', listener),
    endInput: () => void child.stdin?.end(),
    resize: () => {},
    pauseOutput: () => {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resumeOutput: () => {
      child.stdout?.resume();
      child.stderr?.resume();
    },
    kill: () => killProcessTree(pid, tag),
  };
}

function spawnPty(file: string, spec: SpawnSpec, tag: string, handlers: ProcessHandlers): ContainerProcess {
  // Sizes come from the resize decoder, which only lets 1..10000 through.
  const size = spec.size ?? { cols: 80, rows: 24 };
  const term = pty.spawn(file, spec.argv.slice(1), {
    name: spec.env.TERM ?? 'xterm',
    cols: size.cols,
    rows: size.rows,
    cwd: spec.cwd,
    env: spec.env,
    // Raw bytes: output is passed on unchanged, a UTF-8 character may be split between chunks.
    encoding: null,
  });
  // node-pty rethrows read errors other than EIO unless someone else listens.
  (term as unknown as { on(event: 'error', listener: (err: Error) => void): void }).on('error', () => {});
  let ended = false;
  term.onData((data: string | Buffer) => {
    if (spec.stdout) handlers.output('stdout', typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  });
  term.onExit(({ exitCode, signal }) => {
    if (ended) return;
    ended = true;
    handlers.end({ kind: 'exited', code: signal ? signalExitCode(signal) : exitCode });
  });
  const pid = term.pid;
  return {
    pid,
    get ended() {
      return ended;
    },
    write: (data) => {
      if (!ended) term.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      return true;
    },
    onInputDrain: () => {},
    // A terminal cannot be half-closed; ^D at the start of a line is what "end of input" means to it.
    endInput: () => {
      if (!ended) term.write('\x04');
    },
    resize: (s) => {
      if (!ended) {
        try {
          term.resize(s.cols, s.rows);
        } catch {
          // The pty is already gone; the exit is on its way.
        }
      }
    },
    pauseOutput: () => term.pause(),
    resumeOutput: () => term.resume(),
    kill: () => killProcessTree(pid, tag),
  };
}

// --- killing: the whole process group and session ---

interface ProcEntry {
  pid: number;
  pgid: number;
  sid: number;
  zombie: boolean;
}

function readProcTable(): ProcEntry[] | null {
  if (process.platform !== 'linux') return null;
  const entries: ProcEntry[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(join('/proc', name, 'stat'), 'latin1');
      // "pid (comm) state ppid pgrp session ..." — comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      entries.push({ pid: Number(name), pgid: Number(fields[2]), sid: Number(fields[3]), zombie: fields[0] === 'Z' || fields[0] === 'X' });
    } catch {
      // Gone between readdir and read.
    }
  }
  return entries;
}

/**
 * Sessions that escaped `leader`'s (setsid) but carry its tag. Reading one environment per session
 * (its leader's, or any member's once the leader has exited, as a double fork leaves it) keeps the
 * scan cheap enough to run on every kill.
 */
function sessionsWithTag(living: ProcEntry[], tag: string, leader: number): Set<number> {
  const sample = new Map<number, number>();
  for (const p of living) {
    if (p.sid === leader || p.sid <= 1) continue;
    if (!sample.has(p.sid) || p.pid === p.sid) sample.set(p.sid, p.pid);
  }
  const tagged = new Set<number>();
  for (const [sid, pid] of sample) if (hasTag(pid, tag)) tagged.add(sid);
  return tagged;
}

function hasTag(pid: number, tag: string): boolean {
  try {
    // Unreadable (another user's process) means not ours.
    return ('\0' + readFileSync(join('/proc', String(pid), 'environ'), 'latin1')).includes(`\0${PROCESS_TAG_ENV}=${tag}\0`);
  } catch {
    return false;
  }
}

/**
 * Live processes in `leader`'s process group or session, or carrying `tag` in their environment.
 * Interactive shells put jobs in their own process groups, but those stay in the shell's session;
 * a daemon that called setsid keeps the tag. On Linux all are found via /proc.
 */
export function processesOf(leader: number, tag?: string): number[] {
  const table = readProcTable();
  if (table) {
    const living = table.filter((p) => !p.zombie && p.pid !== process.pid);
    const taggedSessions = tag === undefined ? new Set<number>() : sessionsWithTag(living, tag, leader);
    return living.filter((p) => p.pgid === leader || p.sid === leader || taggedSessions.has(p.sid)).map((p) => p.pid);
  }
  try {
    process.kill(-leader, 0);
    return [leader];
  } catch {
    return [];
  }
}

function signalAll(leader: number, pids: number[], signal: NodeJS.Signals): void {
  try {
    process.kill(-leader, signal);
  } catch {
    // No such group any more.
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGHUP + SIGTERM to every process of the group/session, SIGKILL after `graceMs`; resolves when none is left. */
export async function killProcessTree(leader: number, tag?: string, graceMs = 500): Promise<void> {
  // Never signal ourselves, init, or a group we do not lead.
  if (!Number.isInteger(leader) || leader <= 1 || leader === process.pid) return;
  let pids = processesOf(leader, tag);
  if (pids.length === 0) return;
  signalAll(leader, pids, 'SIGHUP');
  signalAll(leader, pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(20);
    pids = processesOf(leader, tag);
    if (pids.length === 0) return;
  }
  for (let attempt = 0; attempt < 50 && pids.length > 0; attempt++) {
    signalAll(leader, pids, 'SIGKILL');
    await sleep(20);
    pids = processesOf(leader, tag);
  }
}
