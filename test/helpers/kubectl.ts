// Real kubectl in tests: finds the versioned binaries installed next to `kubectl`, gives each test a
// throwaway kubeconfig + cache dir + HOME (never ~/.kube), runs kubectl with a timeout, and drives
// `kubectl exec -it` / `attach -it` through a real pseudo-terminal (node-pty) whose screen can be read
// (xterm headless).
//
//   const sandbox = makeKubectlSandbox({ server: url });
//   const kubectl = new Kubectl(KUBECTL_PROFILES[0], sandbox, { env: { MARKER: id } });
//   const r = await kubectl.run(['exec', 'shell', '--', 'echo', 'hi']);   // r.code, r.stdoutText, r.stderr
//   const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
//   await term.waitForText('$ '); term.type('stty size\r'); await term.waitForText('30 100');
//   term.resize(120, 40); const { exitCode } = await term.waitForExit();
//   sandbox.cleanup();
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as pty from 'node-pty';
import { Terminal as HeadlessTerminal } from '@xterm/headless';
import { localClusterKubeconfig } from '../../src/localcluster/kubeconfig';

export const KUBECTL_VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubectlVersion = (typeof KUBECTL_VERSIONS)[number];

/** A kubectl binary plus the environment that selects its exec transport. */
export interface KubectlProfile {
  /** For test names, e.g. "kubectl 1.27 (SPDY)". */
  label: string;
  version: KubectlVersion;
  /** The transport this profile makes kubectl use for exec/attach/cp. */
  transport: 'spdy' | 'websocket';
  env: Record<string, string>;
}

/** The matrix the issues ask for: 1.27 (SPDY only), 1.30 forced to SPDY, 1.33 (WebSocket first). */
export const KUBECTL_PROFILES: readonly KubectlProfile[] = [
  { label: 'kubectl 1.27 (SPDY)', version: '1.27', transport: 'spdy', env: {} },
  { label: 'kubectl 1.30 (SPDY, websockets off)', version: '1.30', transport: 'spdy', env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' } },
  { label: 'kubectl 1.33 (WebSocket)', version: '1.33', transport: 'websocket', env: {} },
];

let cachedDir: string | undefined;

/** The folder holding kubectl.1.27 … kubectl.1.33 (where `kubectl` resolves to). Throws a clear error if there is none. */
export function kubectlDir(): string {
  if (cachedDir) return cachedDir;
  const which = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  const path = which.stdout.trim();
  if (which.status !== 0 || path === '') {
    throw new Error('kubectl is not installed (no `kubectl` on PATH): these tests need the real kubectl.1.27 … kubectl.1.33 binaries next to it');
  }
  cachedDir = dirname(realpathSync(path));
  return cachedDir;
}

/** Absolute path of `kubectl.<version>`; throws a clear error when it is missing. */
export function kubectlBinary(version: KubectlVersion): string {
  const file = join(kubectlDir(), `kubectl.${version}`);
  if (!existsSync(file)) {
    throw new Error(`kubectl ${version} is missing: expected ${file} (the versioned kubectl binaries come with the google-cloud-cli kubectl package)`);
  }
  return file;
}

/** A throwaway kubectl world: kubeconfig, discovery cache and HOME in one temporary folder. */
export interface KubectlSandbox {
  dir: string;
  home: string;
  kubeconfig: string;
  cacheDir: string;
  server: string;
  /** Removes the folder. */
  cleanup(): void;
}

export interface SandboxOptions {
  /** API server URL (http://127.0.0.1:PORT, or https:// with `certificateAuthority`). */
  server: string;
  token?: string;
  /** PEM of the CA kubectl must trust for an https server (kubeconfig certificate-authority-data). */
  certificateAuthority?: string;
  namespace?: string;
}

export function makeKubectlSandbox(options: SandboxOptions): KubectlSandbox {
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-kubectl-'));
  const home = join(dir, 'home');
  const cacheDir = join(dir, 'cache');
  mkdirSync(home);
  mkdirSync(cacheDir);
  const kubeconfig = join(dir, 'kubeconfig');
  const config = localClusterKubeconfig({ server: options.server, token: options.token, ca: options.certificateAuthority, name: 'test', namespace: options.namespace });
  writeFileSync(kubeconfig, config, { mode: 0o600 });
  return { dir, home, kubeconfig, cacheDir, server: options.server, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface KubectlResult {
  /** Exit code, or null when killed by a signal (e.g. the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** stdout as UTF-8. */
  stdoutText: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface RunOptions {
  /** Bytes written to kubectl's stdin, then EOF. Without it stdin is /dev/null. */
  input?: Buffer | string;
  /** Default 60 s; then kubectl is killed (SIGKILL) and `timedOut` is set. */
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunningKubectl {
  pid: number;
  /** stdout collected so far, as UTF-8. */
  stdoutSoFar(): string;
  kill(signal?: NodeJS.Signals): void;
  result: Promise<KubectlResult>;
}

export interface TerminalOptions {
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  cwd?: string;
}

export interface KubectlOptions {
  /** Extra environment for every kubectl this object starts (tests put a process marker here). */
  env?: Record<string, string>;
}

export class Kubectl {
  readonly binary: string;

  constructor(
    readonly profile: KubectlProfile,
    readonly sandbox: KubectlSandbox,
    private readonly options: KubectlOptions = {},
  ) {
    this.binary = kubectlBinary(profile.version);
  }

  /** argv (after the binary) with the sandbox's kubeconfig and cache dir. */
  args(args: string[]): string[] {
    return ['--kubeconfig', this.sandbox.kubeconfig, '--cache-dir', this.sandbox.cacheDir, ...args];
  }

  /** The environment kubectl runs with: minimal, HOME in the sandbox, the profile's transport switch. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.sandbox.home,
      KUBECONFIG: this.sandbox.kubeconfig,
      ...this.profile.env,
      ...this.options.env,
      ...extra,
    };
  }

  /** Runs kubectl to completion (or its timeout) and collects its output. */
  run(args: string[], options: RunOptions = {}): Promise<KubectlResult> {
    return this.start(args, options).result;
  }

  /** Starts kubectl without waiting: for tests that act while it runs (e.g. kill it mid-session). */
  start(args: string[], options: RunOptions = {}): RunningKubectl {
    const started = Date.now();
    const child = spawn(this.binary, this.args(args), {
      env: this.env(options.env),
      cwd: options.cwd ?? this.sandbox.dir,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => stdout.push(c));
    child.stderr!.on('data', (c: Buffer) => stderr.push(c));
    if (options.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    const result = new Promise<KubectlResult>((resolve, reject) => {
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const out = Buffer.concat(stdout);
        resolve({
          code,
          signal,
          stdout: out,
          stdoutText: out.toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
          timedOut,
          durationMs: Date.now() - started,
        });
      });
    });
    return {
      pid: child.pid ?? -1,
      stdoutSoFar: () => Buffer.concat(stdout).toString('utf8'),
      kill: (signal = 'SIGKILL') => void child.kill(signal),
      result,
    };
  }

  /** Starts kubectl inside a pseudo-terminal of the given size (default 80×24). */
  terminal(args: string[], options: TerminalOptions = {}): TerminalSession {
    return new TerminalSession(this.binary, this.args(args), {
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      env: { ...this.env(options.env), TERM: 'xterm' },
      cwd: options.cwd ?? this.sandbox.dir,
    });
  }
}

/** A program running in a real pseudo-terminal, with its screen rendered by a headless xterm. */
export class TerminalSession {
  private readonly pty: pty.IPty;
  private readonly screenModel: HeadlessTerminal;
  private raw = '';
  private exit: { exitCode: number; signal: number } | null = null;
  private readonly exitWaiters: Array<() => void> = [];
  private readonly dataWaiters = new Set<() => void>();

  constructor(file: string, args: string[], options: Required<TerminalOptions>) {
    this.screenModel = new HeadlessTerminal({ cols: options.cols, rows: options.rows, allowProposedApi: true, scrollback: 1000 });
    this.pty = pty.spawn(file, args, { name: 'xterm', cols: options.cols, rows: options.rows, cwd: options.cwd, env: options.env });
    this.pty.onData((data) => {
      this.raw += data;
      this.screenModel.write(data);
      for (const wake of [...this.dataWaiters]) wake();
    });
    this.pty.onExit((e) => {
      this.exit = { exitCode: e.exitCode, signal: e.signal ?? 0 };
      for (const wake of this.exitWaiters.splice(0)) wake();
      for (const wake of [...this.dataWaiters]) wake();
    });
  }

  get pid(): number {
    return this.pty.pid;
  }

  /** Everything the program wrote so far, escape sequences included. */
  get output(): string {
    return this.raw;
  }

  /** `output` without ANSI escape sequences and carriage returns. */
  get text(): string {
    return stripAnsi(this.raw);
  }

  /** Types `text` as keystrokes (use "\r" for Enter, "\x03" for Ctrl-C). */
  type(text: string): void {
    this.pty.write(text);
  }

  /** Resizes the terminal: the program gets SIGWINCH, as when a person resizes the window. */
  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
    this.screenModel.resize(cols, rows);
  }

  /** The visible screen as lines of text (trailing spaces trimmed), after pending output is rendered. */
  async screen(): Promise<string[]> {
    await new Promise<void>((resolve) => this.screenModel.write('', resolve));
    const buffer = this.screenModel.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.screenModel.rows; y++) {
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    }
    return lines;
  }

  /** Index into `text` to wait for output that comes after this point. */
  mark(): number {
    return this.text.length;
  }

  /** Resolves when `pattern` appears in `text` after `from` (default: anywhere); rejects with the output on timeout. */
  async waitForText(pattern: string | RegExp, options: { from?: number; timeoutMs?: number } = {}): Promise<RegExpMatchArray | string> {
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 15_000;
    const check = () => {
      const text = this.text.slice(from);
      if (typeof pattern === 'string') return text.includes(pattern) ? pattern : null;
      return text.match(pattern);
    };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found) return found;
      if (this.exit) {
        const again = check();
        if (again) return again;
        throw new Error(`terminal program exited (${JSON.stringify(this.exit)}) before ${String(pattern)} appeared; output:\n${this.text.slice(-2000)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}; output:\n${this.text.slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.dataWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        this.dataWaiters.add(wake);
      });
    }
  }

  /** Resolves with the exit status; on timeout the program is killed and the promise rejects. */
  async waitForExit(timeoutMs = 15_000): Promise<{ exitCode: number; signal: number }> {
    if (this.exit) return this.exit;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`terminal program did not exit within ${timeoutMs} ms; output:\n${this.text.slice(-2000)}`));
      }, timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.exit!;
  }

  get exited(): boolean {
    return this.exit !== null;
  }

  /** Kills the program (SIGKILL to its process group: it is a session leader in its own pty). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit) return;
    try {
      process.kill(-this.pty.pid, signal);
    } catch {
      try {
        process.kill(this.pty.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }

  dispose(): void {
    this.kill();
    this.screenModel.dispose();
  }
}

/** Removes CSI/OSC escape sequences and carriage returns. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]|\r/g, '');
}
