// attach: every container has a main process (its `command`, a shell by default), started on first
// use and kept running. Attachers join it: all of them see its output, any of them may type into it,
// and detaching leaves it running. If it exits, attached clients are told (Success, as a kubelet
// does when the container's streams end) and the next attach starts it again (a restart).
import { containerEnv, ensureWorkDir, type SessionDeps } from './container';
import type { ContainerSpec, PodSpec } from './pods';
import { spawnContainerProcess, type ContainerProcess, type OutputStream, type ProcessEnd } from './process';
import type { TerminalSize } from '../protocol/channel';
import type { ContainerSession, SessionOutput, StreamRequest } from './session';

/** How much of a main process's recent output is kept for `kubectl logs`. */
const LOG_RING_BYTES = 1024 * 1024;
/** An attacher this far behind on output is detached rather than buffered without bound. */
const MAX_ATTACHER_BACKLOG = 8 * 1024 * 1024;

export interface MainProcessStatus {
  running: boolean;
  pid: number | null;
  restarts: number;
  startedAt: Date | null;
  lastExitCode: number | null;
}

type LogListener = (data: Buffer) => void;

class MainProcess {
  proc: ContainerProcess | null = null;
  readonly attachers = new Set<AttachSession>();
  private readonly ring: Buffer[] = [];
  private ringBytes = 0;
  private readonly logListeners = new Set<LogListener>();
  private readonly endListeners = new Set<() => void>();
  starts = 0;
  startedAt: Date | null = null;
  lastExitCode: number | null = null;
  failure: string | null = null;

  constructor(
    readonly pod: PodSpec,
    readonly container: ContainerSpec,
  ) {}

  get running(): boolean {
    return this.proc !== null && !this.proc.ended && this.proc.pid > 0;
  }

  ensureRunning(deps: AttachDeps): void {
    if (this.running) return;
    const cwd = ensureWorkDir(deps.context.dataDir, this.pod, this.container);
    this.starts++;
    this.startedAt = new Date();
    this.failure = null;
    const proc = spawnContainerProcess(
      {
        argv: this.container.command,
        cwd,
        env: containerEnv(deps.context, this.pod, this.container, cwd, this.container.tty),
        tty: this.container.tty,
        stdin: this.container.stdin,
        stdout: true,
        stderr: !this.container.tty,
      },
      { output: (stream, data) => this.output(stream, data), end: (end) => this.ended(proc, end, deps) },
    );
    this.proc = proc;
    if (proc.pid > 0) deps.tracker.add(proc);
    deps.log.info('main process started', { pod: this.pod.name, container: this.container.name, pid: proc.pid });
  }

  private output(stream: OutputStream, data: Buffer): void {
    this.ring.push(data);
    this.ringBytes += data.byteLength;
    while (this.ringBytes > LOG_RING_BYTES && this.ring.length > 1) this.ringBytes -= this.ring.shift()!.byteLength;
    for (const listener of this.logListeners) listener(data);
    for (const attacher of this.attachers) attacher.deliver(stream, data);
  }

  private ended(proc: ContainerProcess, end: ProcessEnd, deps: AttachDeps): void {
    if (end.kind === 'failed') {
      this.failure = `container process failed to start: ${end.message}`;
      this.lastExitCode = 128;
    } else {
      this.lastExitCode = end.code;
    }
    deps.log.info('main process ended', { pod: this.pod.name, container: this.container.name, pid: proc.pid, end });
    for (const attacher of [...this.attachers]) {
      attacher.containerEnded(this.failure);
    }
    this.attachers.clear();
    for (const listener of this.endListeners) listener();
    if (proc.pid > 0) void deps.tracker.release(proc);
  }

  logText(): Buffer {
    return Buffer.concat(this.ring);
  }

  followLogs(onData: LogListener, onEnd: () => void): () => void {
    this.logListeners.add(onData);
    this.endListeners.add(onEnd);
    return () => {
      this.logListeners.delete(onData);
      this.endListeners.delete(onEnd);
    };
  }

  status(): MainProcessStatus {
    return {
      running: this.running,
      pid: this.running ? this.proc!.pid : null,
      restarts: Math.max(0, this.starts - 1),
      startedAt: this.startedAt,
      lastExitCode: this.lastExitCode,
    };
  }
}

export type AttachDeps = SessionDeps;

export class AttachSession implements ContainerSession {
  private done = false;

  constructor(
    private readonly request: StreamRequest,
    private readonly main: MainProcess,
    private readonly output: SessionOutput,
    private readonly deps: AttachDeps,
  ) {}

  start(): void {
    if (this.done) return;
    try {
      this.main.ensureRunning(this.deps);
    } catch (err) {
      this.finish(`error attaching to container: ${(err as Error).message}`);
      return;
    }
    this.main.attachers.add(this);
  }

  /** Output of the main process, for this attacher's streams. */
  deliver(stream: OutputStream, data: Buffer): void {
    if (this.done) return;
    const target = stream === 'stderr' && this.request.stderr ? 'stderr' : stream === 'stdout' && this.request.stdout ? 'stdout' : null;
    if (target === null) return;
    this.output.write(target, data);
    if (this.output.buffered > MAX_ATTACHER_BACKLOG) {
      this.finish(`attach: this client fell more than ${MAX_ATTACHER_BACKLOG} bytes behind the container's output; detached`);
    }
  }

  containerEnded(failure: string | null): void {
    if (this.done) return;
    this.done = true;
    this.output.finish(failure ? { kind: 'failure', message: `error attaching to container: ${failure}` } : { kind: 'success' });
  }

  private finish(message: string): void {
    if (this.done) return;
    this.done = true;
    this.main.attachers.delete(this);
    this.output.finish({ kind: 'failure', message });
  }

  stdin(data: Uint8Array): boolean {
    if (!this.done && this.main.container.stdin && this.main.running) this.main.proc!.write(data);
    return true;
  }

  onStdinDrain(): void {
    // Input to a shared main process is not flow-controlled per attacher.
  }

  stdinEnd(): void {
    // Other attachers may still type: the main process keeps its stdin (no stdinOnce).
  }

  resize(size: TerminalSize): void {
    if (!this.done && this.main.running) this.main.proc!.resize(size);
  }

  abort(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.main.attachers.delete(this);
    this.deps.log.debug('detached', { pod: this.main.pod.name, container: this.main.container.name, reason });
  }
}

/** The main processes of every container, created on first use. */
export class MainProcesses {
  private readonly mains = new Map<string, MainProcess>();

  constructor(private readonly deps: AttachDeps) {}

  private get(pod: PodSpec, container: ContainerSpec): MainProcess {
    const key = `${pod.namespace}/${pod.name}/${container.name}`;
    let main = this.mains.get(key);
    if (!main) {
      main = new MainProcess(pod, container);
      this.mains.set(key, main);
    }
    return main;
  }

  attach(request: StreamRequest, pod: PodSpec, container: ContainerSpec, output: SessionOutput): AttachSession {
    return new AttachSession(request, this.get(pod, container), output, this.deps);
  }

  status(pod: PodSpec, container: ContainerSpec): MainProcessStatus {
    return this.get(pod, container).status();
  }

  /** Recent output (up to 1 MiB) of the container's main process. */
  logs(pod: PodSpec, container: ContainerSpec): Buffer {
    return this.get(pod, container).logText();
  }

  /** Live output of the main process; `onEnd` when it exits (or is not running). Returns an unsubscribe function. */
  followLogs(pod: PodSpec, container: ContainerSpec, onData: (data: Buffer) => void, onEnd: () => void): () => void {
    const main = this.get(pod, container);
    if (!main.running) {
      queueMicrotask(onEnd);
      return () => {};
    }
    return main.followLogs(onData, onEnd);
  }
}
