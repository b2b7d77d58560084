// exec: runs the requested argv in the container as a new process for this one session.
import { randomBytes } from 'node:crypto';
import { containerEnv, ensureWorkDir, type SessionDeps } from './container';
import type { ContainerSpec, PodSpec } from './pods';
import { spawnContainerProcess, type ContainerProcess, type ProcessEnd } from './process';
import type { TerminalSize } from '../protocol/channel';
import type { ContainerSession, SessionOutput, StreamRequest } from './session';
import type { SessionResult } from './status';

/** kubectl sends the terminal size right after the streams exist; wait this long so the process starts at that size. */
const FIRST_RESIZE_WAIT_MS = 300;
/** stdin that arrives before the process exists is held, up to this much. */
const MAX_EARLY_STDIN = 4 * 1024 * 1024;

export type ExecDeps = SessionDeps;

/**
 * The message a kubelet + containerd + runc stack gives when the command cannot be started, e.g.
 * `error executing command in container: failed to exec in container: failed to start exec "…":
 * OCI runtime exec failed: exec failed: unable to start container process: exec: "nope":
 * executable file not found in $PATH: unknown` (kubectl prints it after "Internal error occurred: ").
 */
export function startFailureMessage(reason: string): string {
  const execId = randomBytes(32).toString('hex');
  return `error executing command in container: failed to exec in container: failed to start exec ${JSON.stringify(execId)}: OCI runtime exec failed: exec failed: unable to start container process: ${reason}: unknown`;
}

export class ExecSession implements ContainerSession {
  private proc: ContainerProcess | null = null;
  private size: TerminalSize | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private started = false;
  private aborted = false;
  private earlyStdin: Buffer[] = [];
  private earlyStdinBytes = 0;
  private earlyStdinEnd = false;
  private readonly stdinDrainListeners: Array<() => void> = [];

  constructor(
    private readonly request: StreamRequest,
    private readonly pod: PodSpec,
    private readonly container: ContainerSpec,
    private readonly output: SessionOutput,
    private readonly deps: ExecDeps,
  ) {}

  start(): void {
    if (this.request.tty && this.output.resizable && this.size === undefined) {
      this.startTimer = setTimeout(() => this.spawn(), FIRST_RESIZE_WAIT_MS);
      return;
    }
    this.spawn();
  }

  private spawn(): void {
    if (this.started || this.aborted) return;
    this.started = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    const { request, pod, container, deps } = this;
    let cwd: string;
    try {
      cwd = ensureWorkDir(deps.context.dataDir, pod, container);
    } catch (err) {
      this.output.finish({ kind: 'failure', message: `cannot create the container's working directory: ${(err as Error).message}` });
      return;
    }
    const proc = spawnContainerProcess(
      {
        argv: request.command,
        cwd,
        env: containerEnv(deps.context, pod, container, cwd, request.tty),
        tty: request.tty,
        size: this.size,
        stdin: request.stdin,
        stdout: request.stdout,
        stderr: request.stderr && !request.tty,
      },
      {
        output: (stream, data) => {
          if (!this.output.write(stream, data)) proc.pauseOutput();
        },
        end: (end) => this.ended(proc, end),
      },
    );
    this.proc = proc;
    if (proc.pid > 0) deps.tracker.add(proc);
    this.output.onDrain(() => proc.resumeOutput());
    proc.onInputDrain(() => this.stdinDrained());
    for (const chunk of this.earlyStdin) proc.write(chunk);
    this.earlyStdin = [];
    if (this.earlyStdinEnd) proc.endInput();
    this.deps.log.debug('exec started', { pod: pod.name, container: container.name, pid: proc.pid, tty: request.tty });
  }

  private ended(proc: ContainerProcess, end: ProcessEnd): void {
    const result: SessionResult =
      end.kind === 'failed' ? { kind: 'failure', message: startFailureMessage(end.message) } : { kind: 'exit', code: end.code, command: this.request.command };
    this.deps.log.debug('exec ended', { pod: this.pod.name, container: this.container.name, pid: proc.pid, end });
    if (!this.aborted) this.output.finish(result);
    // Whatever the command left behind in its group/session goes with it.
    if (proc.pid > 0) void this.deps.tracker.release(proc);
  }

  stdin(data: Uint8Array): boolean {
    if (this.proc) return this.proc.write(data);
    this.earlyStdinBytes += data.byteLength;
    if (this.earlyStdinBytes > MAX_EARLY_STDIN) {
      this.abort('too much stdin before the process started');
      this.output.finish({ kind: 'failure', message: 'too much stdin before the process started' });
      return true;
    }
    this.earlyStdin.push(Buffer.from(data));
    return true;
  }

  onStdinDrain(listener: () => void): void {
    this.stdinDrainListeners.push(listener);
  }

  private stdinDrained(): void {
    for (const listener of this.stdinDrainListeners) listener();
  }

  stdinEnd(): void {
    if (this.proc) this.proc.endInput();
    else this.earlyStdinEnd = true;
  }

  resize(size: TerminalSize): void {
    this.size = size;
    if (this.proc) this.proc.resize(size);
    else if (this.startTimer) this.spawn();
  }

  abort(reason: string): void {
    if (this.aborted) return;
    this.aborted = true;
    if (this.startTimer) clearTimeout(this.startTimer);
    this.deps.log.debug('exec aborted', { pod: this.pod.name, container: this.container.name, reason });
    const proc = this.proc;
    if (proc && proc.pid > 0) void this.deps.tracker.release(proc);
  }
}
