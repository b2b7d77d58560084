// The built desktop main process (dist/electron/main.js) under plain Node with a recording stand-in
// for 'electron': it starts the core as `kubecast serve` does (saved upstream included), opens one
// locked-down window on the real console with the token only in an HttpOnly cookie, refuses
// navigation, new windows and permissions, has its menu, shows live sessions in the tray, and quits
// with the core stopped. Needs `npm run build` first (npm test does it).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createFakeElectron, fakeEvent, installFakeElectron, type FakeElectron, type MenuItem } from '../helpers/fake-electron';
import { consoleRequest } from '../helpers/console-client';
import { Kubectl, KUBECTL_PROFILES, makeKubectlSandbox, type KubectlSandbox } from '../helpers/kubectl';
import { LocalCluster } from '../../src/localcluster';
import { CONSOLE_COOKIE, CONTENT_SECURITY_POLICY } from '../../src/console/server';
import { kubectlExecCommand } from '../../src/util/shell';

const REPO = resolve(__dirname, '..', '..');
const MAIN = join(REPO, 'dist', 'electron', 'main.js');
const INDEX_HTML = join(REPO, 'dist', 'renderer', 'index.html');

let fake: FakeElectron;
let uninstall: () => void = () => {};
let tmp: string;
let dataDir: string;
let second: LocalCluster;
let secondUrl: string;
let argvLength: number;
let logLevel: string | undefined;

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function loadedUrl(): string {
  const url = fake.windows[0]?.loadedUrl;
  assert.ok(url, 'the window loaded a URL');
  return url;
}

function cookieHeader(): string {
  const cookie = fake.cookies.find((c) => c.name === CONSOLE_COOKIE);
  assert.ok(cookie, 'the console cookie was set');
  return `${CONSOLE_COOKIE}=${String(cookie.value)}`;
}

function fileMenu(): MenuItem[] {
  const file = fake.applicationMenu()?.find((item) => item.label === 'File');
  assert.ok(file?.submenu, 'a File menu');
  return file.submenu;
}

/** `promise`, or `fallback` after `ms` (the timer does not keep the process alive). */
function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((done) => {
    const timer = setTimeout(() => done(fallback), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      done(value);
    });
  });
}

/** Resolves true when something accepts connections at `url`. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const req = request({ host: hostname, port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      done(true);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

before(async () => {
  assert.ok(existsSync(MAIN) && existsSync(INDEX_HTML), 'dist/electron/main.js and dist/renderer are missing: run `node scripts/build.mjs` first');
  tmp = mkdtempSync(join(tmpdir(), 'kubecast-electron-'));
  dataDir = join(tmp, 'data');
  mkdirSync(dataDir);
  // A second cluster saved as the upstream in Settings: the desktop must use it, as serve does.
  second = new LocalCluster();
  secondUrl = (await second.start({ listen: { host: '127.0.0.1', port: 0 }, tls: false, dataDir: join(tmp, 'second') })).url;
  writeFileSync(join(dataDir, 'settings.json'), JSON.stringify({ upstream: secondUrl }));

  fake = createFakeElectron();
  uninstall = installFakeElectron(fake.electron);
  argvLength = process.argv.length;
  process.argv.push('--data', dataDir);
  logLevel = process.env.KUBECAST_LOG_LEVEL;
  process.env.KUBECAST_LOG_LEVEL = 'error';
  // Loading main runs it: lock, handlers, then whenReady → start (the core, menu, tray, window).
  createRequire(__filename)(MAIN);
  await until('the window to load the console', () => fake.errorBoxes.length > 0 || fake.windows[0]?.loadedUrl);
  assert.deepEqual(fake.errorBoxes, [], 'no start-up error');
});

after(async () => {
  // A failed test may leave the app running: quit it so nothing stays listening.
  if (fake && fake.exitCode() === null) {
    fake.app.quit();
    await within(fake.exited, 15_000, 'timeout');
  }
  uninstall();
  process.argv.length = argvLength;
  if (logLevel === undefined) delete process.env.KUBECAST_LOG_LEVEL;
  else process.env.KUBECAST_LOG_LEVEL = logLevel;
  await second?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('electron main (built, with a stand-in electron module)', () => {
  test('asks for the single-instance lock and opens one sandboxed, context-isolated window with an existing preload', () => {
    assert.ok(fake.calls.includes('app.requestSingleInstanceLock'));
    assert.equal(fake.windows.length, 1);
    const prefs = fake.windows[0].options.webPreferences ?? {};
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(typeof prefs.preload, 'string');
    assert.ok(existsSync(prefs.preload as string), `preload ${String(prefs.preload)}`);
  });

  test('the token is only in an HttpOnly cookie; the loaded URL serves the real console, not the placeholder', async () => {
    const url = new URL(loadedUrl());
    assert.equal(url.search, '', 'no token in the page address');
    assert.equal(url.hostname, '127.0.0.1');
    const cookie = fake.cookies.find((c) => c.name === CONSOLE_COOKIE)!;
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.url, url.origin);
    assert.ok(typeof cookie.value === 'string' && cookie.value.length >= 16);

    const page = await consoleRequest(url.href, url.pathname, { token: null, headers: { cookie: cookieHeader() } });
    assert.equal(page.status, 200);
    assert.equal(page.body, readFileSync(INDEX_HTML, 'utf8'), 'the built renderer index.html');
    assert.doesNotMatch(page.body, /not built/);
    const bearer = await consoleRequest(url.href, '/', { token: String(cookie.value) });
    assert.equal(bearer.body, page.body);
    assert.equal((await consoleRequest(url.href, '/api/live', { token: null })).status, 401, 'nothing without the cookie');
  });

  test('the core uses the upstream saved in Settings (not a forced local cluster)', async () => {
    const status = (await consoleRequest(loadedUrl(), '/api/status', { token: null, headers: { cookie: cookieHeader() } })).json<{ upstream: { kind: string; url: string }; localCluster: boolean }>();
    assert.equal(status.upstream.kind, 'url');
    assert.equal(new URL(status.upstream.url).origin, new URL(secondUrl).origin);
    assert.equal(status.localCluster, false);
  });

  test('navigation away, new windows, webviews and permission requests are refused; the CSP is enforced', () => {
    const origin = new URL(loadedUrl()).origin;
    const contents = fake.windows[0].webContents;
    for (const name of ['will-navigate', 'will-redirect']) {
      const away = fakeEvent();
      contents.emit(name, away, 'https://evil.example/');
      assert.equal(away.defaultPrevented, true, `${name} to another origin`);
      const inside = fakeEvent();
      contents.emit(name, inside, `${origin}/`);
      assert.equal(inside.defaultPrevented, false, `${name} within the console`);
    }
    assert.deepEqual(contents.windowOpenHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });

    // Any other web contents (e.g. a devtools or webview) gets the same treatment.
    const other = Object.assign(fakeEventTarget(), { windowOpenHandler: undefined as undefined | ((d: unknown) => unknown) });
    other.setWindowOpenHandler = (handler: (d: unknown) => unknown) => (other.windowOpenHandler = handler);
    fake.app.emit('web-contents-created', fakeEvent(), other);
    const attach = fakeEvent();
    other.emit('will-attach-webview', attach);
    assert.equal(attach.defaultPrevented, true);
    assert.deepEqual(other.windowOpenHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });

    const session = fake.defaultSession;
    const answers: boolean[] = [];
    for (const permission of ['media', 'clipboard-read', 'notifications', 'geolocation']) session.permissionRequestHandler?.(null, permission, (granted: boolean) => answers.push(granted));
    assert.deepEqual(answers, [false, false, false, false]);
    assert.equal(session.permissionCheckHandler?.(), false);
    assert.equal(session.devicePermissionHandler?.(), false);

    let headers: Record<string, string[]> | undefined;
    session.webRequest.headersHandler?.({ url: `${origin}/`, responseHeaders: { 'content-security-policy': ["script-src 'unsafe-inline'"] } }, (answer: { responseHeaders: Record<string, string[]> }) => (headers = answer.responseHeaders));
    assert.deepEqual(headers, { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
  });

  test('File menu: Open Recording…, Copy kubectl command, Reveal data folder, Quit; the copy command is the quoted kubectl line', async () => {
    const labels = fileMenu().map((item) => item.label ?? item.role ?? item.type);
    for (const label of ['Open Recording…', 'Copy kubectl command', 'Reveal data folder', 'Quit']) assert.ok(labels.includes(label), `${label} in ${JSON.stringify(labels)}`);
    const command = kubectlExecCommand(join(dataDir, 'kubeconfig'));
    fileMenu().find((item) => item.label === 'Copy kubectl command')!.click!();
    assert.equal(fake.clipboardWrites.at(-1), command);
    fileMenu().find((item) => item.label === 'Reveal data folder')!.click!();
    assert.equal(fake.openedPaths.at(-1), dataDir);
    assert.equal(fileMenu().find((item) => item.label === 'Quit')?.role, 'quit');

    // The page may ask main to copy it, but only the console's own frames may.
    const copy = fake.ipcHandlers.get('kubecast:copy-kubectl-command')!;
    fake.clipboardWrites.length = 0;
    assert.equal(await copy({ senderFrame: { url: 'https://evil.example/' } }), false);
    assert.deepEqual(fake.clipboardWrites, []);
    assert.equal(await copy({ senderFrame: { url: `${new URL(loadedUrl()).origin}/` } }), true);
    assert.deepEqual(fake.clipboardWrites, [command]);
  });

  test('the tray shows the live-session count and a notification announces a session', async () => {
    const tray = fake.trays[0];
    assert.ok(tray, 'a tray icon');
    assert.equal(tray.tooltip, 'kubecast — no live sessions');
    const sandbox: KubectlSandbox = { ...makeKubectlSandbox({ server: 'https://127.0.0.1:1' }), kubeconfig: join(dataDir, 'kubeconfig') };
    const term = new Kubectl(KUBECTL_PROFILES[KUBECTL_PROFILES.length - 1], sandbox).terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 80, rows: 24 });
    try {
      term.type('echo up-$((6*7))\r');
      await term.waitForText('up-42');
      await until('the tray to count the session', () => tray.tooltip === 'kubecast — 1 live session');
      assert.match(String(tray.contextMenu[0].label), /^1 live session$/);
      const shown = fake.notifications.find((n) => n.shown && /^Live: /.test(n.options.title ?? ''));
      assert.ok(shown, `a notification: ${JSON.stringify(fake.notifications.map((n) => n.options))}`);
      shown.emit('click');
      assert.equal(fake.windows[0].webContents.sent.at(-1)?.channel, 'kubecast:focus-session');
      term.type('exit\r');
      await term.waitForExit();
      await until('the tray to count no sessions', () => tray.tooltip === 'kubecast — no live sessions');
    } finally {
      term.dispose();
      sandbox.cleanup();
    }
  });

  test('Quit stops the core: the app exits 0 and neither the console nor the proxy listens any more', async () => {
    const consoleUrl = loadedUrl();
    const proxyUrl = /server: "?([^"\s]+)/.exec(readFileSync(join(dataDir, 'kubeconfig'), 'utf8'))![1];
    assert.equal(await listening(consoleUrl), true);
    const quit = fake.trays[0].contextMenu.find((item) => item.label === 'Quit kubecast');
    assert.ok(quit?.click, 'the tray menu has Quit');
    quit.click();
    assert.equal(await within(fake.exited, 15_000, 'timeout'), 0);
    assert.equal(await listening(consoleUrl), false, 'the console stopped');
    assert.equal(await listening(proxyUrl.replace(/^https:/, 'http:')), false, 'the proxy stopped');
  });
});

/** A minimal web-contents stand-in for the 'web-contents-created' handler. */
function fakeEventTarget() {
  const handlers = new Map<string, Array<(...args: unknown[]) => void>>();
  return {
    on(name: string, handler: (...args: unknown[]) => void) {
      handlers.set(name, [...(handlers.get(name) ?? []), handler]);
    },
    emit(name: string, ...args: unknown[]) {
      for (const handler of handlers.get(name) ?? []) handler(...args);
    },
    setWindowOpenHandler(_handler: (d: unknown) => unknown): void {},
  };
}
