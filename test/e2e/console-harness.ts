// What the console e2e tests share: `kubecast serve` (and `kubecast local-cluster`) as child
// processes on port 0, Debian's Chromium driven by playwright-core with a fresh profile, a page
// that counts clipboard writes and permission requests (recorded output must never cause one),
// kubectl pointed at serve's DATA/kubeconfig, and screenshots under test-artifacts/.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox, type KubectlProfile, type KubectlSandbox } from '../helpers/kubectl';
import { newProcessMarker, processesWithEnv, assertNoSurvivors } from '../helpers/processes';

export const REPO = resolve(__dirname, '..', '..');
export const ARTIFACTS = join(REPO, 'test-artifacts');
export const FIXTURES = join(REPO, 'test', 'fixtures', 'casts');

/** Every process a test file starts carries this in its environment, so none can outlive the file. */
export const marker = newProcessMarker();

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kubecast-e2e-${prefix}-`));
}

// --- kubecast processes ------------------------------------------------------------------------

export interface ServeUrls {
  proxy: string;
  recorder: string;
  console: string;
  local: string | null;
  kubeconfig: string;
  data: string;
}

export interface Child<T> {
  info: T;
  process: ChildProcess;
  /** What the process wrote on stderr so far (its logs), for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

/** Starts `node bin/kubecast.js ARGS --json` and resolves with its JSON line. */
async function startKubecast<T>(args: string[], isReady: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Child<T>> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'kubecast.js'), ...args, '--json'], {
    cwd: REPO,
    env: { ...process.env, [marker.name]: marker.value, KUBECAST_LOG_LEVEL: process.env.KUBECAST_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const lines = createInterface({ input: child.stdout! });
  try {
    const info = await new Promise<T>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`kubecast ${args[0]} printed no JSON line within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`kubecast ${args[0]} exited (${code ?? signal}) before it was ready; stderr:\n${stderr}`));
      });
      lines.on('line', (line) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          return;
        }
        if (typeof parsed === 'object' && parsed !== null && isReady(parsed as Record<string, unknown>)) {
          clearTimeout(timer);
          resolveReady(parsed as T);
        }
      });
    });
    return { info, process: child, logs: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startServe(dataDir: string, extra: string[] = []): Promise<Child<ServeUrls>> {
  const child = await startKubecast<ServeUrls>(['serve', '--data', dataDir, ...extra], (line) => typeof line.console === 'string' && typeof line.proxy === 'string');
  if (!/[?&]token=/.test(child.info.console)) throw new Error(`serve's console URL carries no token: ${child.info.console}`);
  return child;
}

export async function startLocalCluster(dataDir: string, extra: string[] = []): Promise<Child<{ local: string }>> {
  return startKubecast<{ local: string }>(['local-cluster', '--data', dataDir, ...extra], (line) => typeof line.local === 'string');
}

/** kubectl (1.33, WebSocket) using serve's own DATA/kubeconfig, as a person would. */
export function kubectlFor(serve: ServeUrls, profile: KubectlProfile = KUBECTL_PROFILES[KUBECTL_PROFILES.length - 1]): { kubectl: Kubectl; sandbox: KubectlSandbox } {
  const base = makeKubectlSandbox({ server: serve.proxy });
  const sandbox: KubectlSandbox = { ...base, kubeconfig: serve.kubeconfig };
  return { kubectl: new Kubectl(profile, sandbox, { env: { [marker.name]: marker.value } }), sandbox };
}

export async function assertNothingLeft(): Promise<void> {
  await assertNoSurvivors(() => processesWithEnv(marker.name, marker.value), 'processes started by the console tests');
}

/** A test file's `after`: closes the browser, stops the kubecast processes, removes the folders, and checks nothing survived. */
export async function tearDown(ui: ConsoleBrowser | undefined, children: Array<Child<unknown> | undefined>, dirs: Array<string | undefined>): Promise<void> {
  await ui?.close();
  for (const child of children) await child?.stop();
  for (const dir of dirs) if (dir) rmSync(dir, { recursive: true, force: true });
  await assertNothingLeft();
}

// --- the browser ---------------------------------------------------------------------------------

export function chromiumPath(): string {
  const found = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).stdout.trim();
  if (found === '' || !existsSync(found)) throw new Error("Chromium is not installed: these tests drive Debian's chromium package (.ci/run installs it)");
  return found;
}

/** Counters the page keeps about things recorded output must never trigger. */
export interface HostEffects {
  clipboardWrites: number;
  execCommandCopies: number;
  permissionQueries: string[];
  cspViolations: string[];
  titles: string[];
}

export interface ConsoleBrowser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors, for a final check. */
  problems: string[];
  effects(): Promise<HostEffects>;
  close(): Promise<void>;
}

/**
 * Installed before any page script: wraps every clipboard and permission entry point. A string, not
 * a function, because tsx's name-keeping helpers do not exist inside the page.
 */
const WATCH_HOST_EFFECTS = `(() => {
  const effects = { clipboardWrites: 0, execCommandCopies: 0, permissionQueries: [], cspViolations: [], titles: [] };
  Object.defineProperty(window, '__hostEffects', { value: effects });
  const clipboard = navigator.clipboard;
  if (clipboard) {
    const writeText = clipboard.writeText.bind(clipboard);
    const write = clipboard.write.bind(clipboard);
    clipboard.writeText = (text) => { effects.clipboardWrites++; return writeText(text); };
    clipboard.write = (items) => { effects.clipboardWrites++; return write(items); };
  }
  const execCommand = document.execCommand.bind(document);
  document.execCommand = (command, showUI, value) => {
    if (/^(copy|cut)$/i.test(command)) effects.execCommandCopies++;
    return execCommand(command, showUI, value);
  };
  if (navigator.permissions) {
    const query = navigator.permissions.query.bind(navigator.permissions);
    navigator.permissions.query = (descriptor) => { effects.permissionQueries.push(String(descriptor && descriptor.name)); return query(descriptor); };
  }
  document.addEventListener('securitypolicyviolation', (e) => effects.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  let lastTitle = '';
  setInterval(() => { if (document.title !== lastTitle) { lastTitle = document.title; effects.titles.push(lastTitle); } }, 20);
})();`;

export async function openConsole(consoleUrl: string, options: { colorScheme?: 'light' | 'dark' } = {}): Promise<ConsoleBrowser> {
  const profile = tempDir('chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 880 },
    colorScheme: options.colorScheme ?? 'dark',
    // Relative dates and numbers read the same on every machine.
    locale: 'en-US',
  });
  const problems: string[] = [];
  await context.addInitScript({ content: WATCH_HOST_EFFECTS });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  await page.goto(consoleUrl);
  // The token URL is only the sign-in: the page must work (and reload) without it.
  await page.waitForSelector('.sidebar');
  return {
    context,
    page,
    problems,
    effects: () => page.evaluate(() => (window as unknown as { __hostEffects: HostEffects }).__hostEffects),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// --- reading the UI ------------------------------------------------------------------------------

/** Lines of the live xterm's visible screen (trailing blanks trimmed). */
export function liveScreen(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('.live-view .xterm-rows > div')).map((row) => (row.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()),
  );
}

/** Lines of asciinema-player's visible screen. */
export function playerScreen(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const text = (document.querySelector('.replay-view .ap-term-text') as HTMLElement | null)?.innerText ?? '';
    return text.split('\n').map((line) => line.replace(/\u00a0/g, ' ').trimEnd());
  });
}

/** The replay's position in recording seconds (data-time on the view). */
export async function replayTime(page: Page): Promise<number> {
  return Number(await page.getAttribute('.replay-view', 'data-time'));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path });
  return path;
}

/** Waits until `check` holds, polling; throws `describe()` on timeout. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> | string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(await describe());
    await new Promise((r) => setTimeout(r, 50));
  }
}
