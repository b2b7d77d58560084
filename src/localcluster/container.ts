// Where and with what environment a container's processes run: one working directory per container
// under the data folder, and a deliberately small environment.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log';
import type { ContainerSpec, PodSpec } from './pods';
import { FALLBACK_PATH, type ContainerProcess } from './process';

export interface ContainerContext {
  /** The data folder; working directories live under DATA/local-cluster/<ns>/<pod>/<container>. */
  dataDir: string;
  /** Extra variables for every container process (tests mark their processes with one). */
  extraEnv: Record<string, string>;
}

export function containerWorkDir(dataDir: string, pod: PodSpec, container: ContainerSpec): string {
  // Names are DNS labels/subdomains (validated), so they cannot climb out of the data folder.
  return join(dataDir, 'local-cluster', pod.namespace, pod.name, container.name);
}

/** Creates the working directory if needed and returns it. */
export function ensureWorkDir(dataDir: string, pod: PodSpec, container: ContainerSpec): string {
  const dir = containerWorkDir(dataDir, pod, container);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** HOSTNAME = pod name, TERM only with a terminal (xterm, as container runtimes set it), PATH, HOME = working dir. */
export function containerEnv(ctx: ContainerContext, pod: PodSpec, container: ContainerSpec, workDir: string, tty: boolean): Record<string, string> {
  const env: Record<string, string> = {
    ...ctx.extraEnv,
    ...container.env,
    PATH: process.env.PATH || FALLBACK_PATH,
    HOSTNAME: pod.name,
    HOME: workDir,
  };
  if (tty) env.TERM = 'xterm';
  return env;
}

/** What exec and attach sessions need from the cluster. */
export interface SessionDeps {
  context: ContainerContext;
  tracker: ProcessTracker;
  log: Logger;
}

/** Every process the local cluster started and has not yet reaped, so stop() can kill them all. */
export class ProcessTracker {
  private readonly live = new Set<ContainerProcess>();

  add(proc: ContainerProcess): void {
    this.live.add(proc);
  }

  /** Kills what is left of the process's group/session, then forgets it. */
  async release(proc: ContainerProcess): Promise<void> {
    try {
      await proc.kill();
    } finally {
      this.live.delete(proc);
    }
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.live].map((proc) => this.release(proc)));
  }

  get size(): number {
    return this.live.size;
  }
}
