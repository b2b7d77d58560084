// Finding the processes a test started, to prove none survives it. Linux /proc based (the CI runs on
// Linux); zombies count as gone (they are dead, only waiting to be reaped by their parent or init).
//
//   const marker = newProcessMarker();                 // { name: 'KUBECAST_TEST_MARKER', value: '…' }
//   …start things with { [marker.name]: marker.value } in their environment…
//   await assertNoSurvivors(() => processesWithEnv(marker.name, marker.value), 'processes of this test');
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, sep } from 'node:path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** One-letter state from /proc/PID/stat (R, S, D, Z, T…). */
  state: string;
  /** Short command name. */
  comm: string;
  cmdline: string[];
}

export const MARKER_ENV = 'KUBECAST_TEST_MARKER';

/** A fresh environment marker: put `{ [name]: value }` into the environment of everything a test starts. */
export function newProcessMarker(): { name: string; value: string } {
  return { name: MARKER_ENV, value: `t-${process.pid}-${randomBytes(6).toString('hex')}` };
}

function readProc(pid: string): ProcessInfo | null {
  try {
    const stat = readFileSync(join('/proc', pid, 'stat'), 'latin1');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    let cmdline: string[] = [];
    try {
      cmdline = readFileSync(join('/proc', pid, 'cmdline'), 'utf8').split('\0').filter((a) => a.length > 0);
    } catch {
      // Kernel threads and vanished processes have none.
    }
    return {
      pid: Number(pid),
      comm: stat.slice(open + 1, close),
      state: fields[0],
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      sid: Number(fields[3]),
      cmdline,
    };
  } catch {
    return null;
  }
}

/** Every process visible in /proc, zombies included. Throws on systems without /proc. */
export function listProcesses(): ProcessInfo[] {
  const names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  return names.map(readProc).filter((p): p is ProcessInfo => p !== null);
}

/** Whether the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const info = readProc(String(pid));
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

function living(list: ProcessInfo[]): ProcessInfo[] {
  return list.filter((p) => p.state !== 'Z' && p.state !== 'X' && p.pid !== process.pid);
}

/** The environment of a process (only readable for our own user's processes), or null. */
export function processEnv(pid: number): Map<string, string> | null {
  try {
    const env = new Map<string, string>();
    for (const entry of readFileSync(join('/proc', String(pid), 'environ'), 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
  } catch {
    return null;
  }
}

/** Living processes whose environment has `name=value`. */
export function processesWithEnv(name: string, value: string): ProcessInfo[] {
  return living(listProcesses()).filter((p) => processEnv(p.pid)?.get(name) === value);
}

/** Living processes in process group `pgid` or session `pgid` (what killing a session leader's group must cover). */
export function processesInGroup(pgid: number): ProcessInfo[] {
  return living(listProcesses()).filter((p) => p.pgid === pgid || p.sid === pgid);
}

/** Living processes whose current directory is `dir` or below it (container processes work under DATA). */
export function processesWithCwdUnder(dir: string): ProcessInfo[] {
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return living(listProcesses()).filter((p) => {
    try {
      const cwd = readlinkSync(join('/proc', String(p.pid), 'cwd'));
      return cwd === dir || cwd.startsWith(prefix);
    } catch {
      return false;
    }
  });
}

/** Living descendants of `pid` (children, grandchildren…), by parent links. */
export function descendantsOf(pid: number): ProcessInfo[] {
  const all = living(listProcesses());
  const found: ProcessInfo[] = [];
  let frontier = new Set([pid]);
  while (frontier.size > 0) {
    const next = new Set<number>();
    for (const p of all) {
      if (frontier.has(p.ppid) && !found.includes(p)) {
        found.push(p);
        next.add(p.pid);
      }
    }
    frontier = next;
  }
  return found;
}

/** Polls `find` until it returns nothing or `timeoutMs` passes; returns the survivors (empty = all gone). */
export async function waitUntilGone(find: () => ProcessInfo[], timeoutMs = 5000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = find();
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function describeProcesses(list: ProcessInfo[]): string {
  return list.map((p) => `  pid ${p.pid} (pgid ${p.pgid}, sid ${p.sid}, state ${p.state}): ${p.cmdline.join(' ') || p.comm}`).join('\n');
}

/**
 * Fails the test if anything `find` reports is still alive after `timeoutMs` (a grace for processes
 * that are being killed), and kills the survivors so they do not leak into the next test.
 */
export async function assertNoSurvivors(find: () => ProcessInfo[], what = 'processes started by this test', timeoutMs = 5000): Promise<void> {
  const survivors = await waitUntilGone(find, timeoutMs);
  for (const p of survivors) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  assert.equal(survivors.length, 0, `${what} survived:\n${describeProcesses(survivors)}`);
}
