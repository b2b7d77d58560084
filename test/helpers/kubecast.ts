// Runs the built `kubecast` CLI as a child process and waits for its --json ready line.
// Tests that use it need `npm run build` first (npm test does it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CLI = resolve(__dirname, '..', '..', 'bin', 'kubecast.js');

export interface KubecastProcess {
  child: ChildProcess;
  pid: number;
  /** The JSON ready line. */
  ready: Record<string, string | null>;
  stderr(): string;
  /** Sends a signal and waits for the exit code (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function startKubecast(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<KubecastProcess> {
  if (!existsSync(join(__dirname, '..', '..', 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const child = spawn(process.execPath, [CLI, ...args, '--json'], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const ready = await new Promise<Record<string, string | null>>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`kubecast ${args[0]} not ready after ${options.timeoutMs ?? 20000} ms:\n${stderr}`)), options.timeoutMs ?? 20000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          done(JSON.parse(stdout.slice(0, nl)) as Record<string, string | null>);
        } catch (err) {
          fail(new Error(`kubecast ${args[0]} printed a bad ready line: ${stdout.slice(0, nl)} (${String(err)})`));
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`kubecast ${args[0]} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    ready,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM', graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A temporary folder removed by `cleanup`. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `kubecast-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
