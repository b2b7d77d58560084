// The desktop app: runs the same core as `kubecast serve`, in this process, and shows its console
// in one locked-down window. Everything else (lists, players, settings) is the web UI in renderer/,
// which talks to the console API exactly as it does in a browser. The console token stays here:
// it becomes an HttpOnly cookie before the page loads, and the page URL never carries it.

import { app, BrowserWindow, clipboard, dialog, ipcMain, Menu, nativeTheme, Notification, session, shell, Tray, type MenuItemConstructorOptions } from 'electron';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { startServe } from '../src/commands/serve';
import { CONSOLE_COOKIE, CONTENT_SECURITY_POLICY } from '../src/console/server';
import type { LiveChange, LiveHub } from '../src/live/hub';
import type { LiveSession } from '../src/live/messages';
import { createLogger } from '../src/util/log';
import { resolveDataFolder, type DataFolder } from '../src/util/paths';
import { kubectlExecCommand } from '../src/util/shell';
import { trayIcon, windowIcon } from './icons';
import { CHANNELS } from './ipc';

/** The console's auth cookie (src/console sets the same one when `?token=` is opened in a browser). */
/** Larger casts do not fit in one string in the page (V8's string limit); the renderer says the same. */
const MAX_OPEN_BYTES = 400 * 1024 * 1024;

/** What the window needs from the core; `startServe` returns more. */
interface DesktopCore {
  urls: { console: string | null };
  kubeconfigPath: string;
  dataDir: string;
  stop(): Promise<void>;
  live: Pick<LiveHub, 'onChange' | 'list'>;
}

let core: DesktopCore | null = null;
let consoleOrigin = '';
/** The console's token, from the console URL the core made; it only ever becomes the HttpOnly cookie. */
let consoleToken = '';
let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let liveSessions: LiveSession[] = [];
let quitting = false;
const pendingFiles: string[] = [];

/** `--data DIR` / `--data=DIR`, else KUBECAST_DATA, the folder chosen in Settings or the platform folder (as `kubecast serve`). */
function dataFolderFromArgv(argv: string[]): DataFolder {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data' && argv[i + 1]) return resolveDataFolder(argv[i + 1]);
    if (argv[i].startsWith('--data=')) return resolveDataFolder(argv[i].slice('--data='.length));
  }
  return resolveDataFolder(undefined);
}

function castArgs(argv: string[]): string[] {
  return argv.filter((arg) => arg.toLowerCase().endsWith('.cast') && !arg.startsWith('-'));
}

function kubectlCommand(): string {
  return core ? kubectlExecCommand(core.kubeconfigPath) : '';
}

function isFromConsole(frameUrl: string | undefined): boolean {
  try {
    return frameUrl !== undefined && new URL(frameUrl).origin === consoleOrigin;
  } catch {
    return false;
  }
}

function showWindow(): void {
  if (!window) return;
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}

// --- opening recordings ---------------------------------------------------------------------

async function openRecordingFile(path: string): Promise<void> {
  if (!window) {
    pendingFiles.push(path);
    return;
  }
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('It is not a file.');
    if (info.size > MAX_OPEN_BYTES) {
      throw new Error(`It is ${Math.round(info.size / 1024 / 1024)} MiB; the window replays files up to ${MAX_OPEN_BYTES / 1024 / 1024} MiB. Use \`kubecast play FILE\` in a terminal.`);
    }
    const text = await readFile(path, 'utf8');
    showWindow();
    window.webContents.send(CHANNELS.openRecording, { name: basename(path), text });
  } catch (err) {
    await dialog.showMessageBox(window, { type: 'error', message: `${basename(path)} cannot be opened`, detail: err instanceof Error ? err.message : String(err) });
  }
}

async function chooseRecording(): Promise<void> {
  if (!window) return;
  const result = await dialog.showOpenDialog(window, {
    title: 'Open Recording',
    properties: ['openFile'],
    filters: [
      { name: 'asciicast recordings', extensions: ['cast'] },
      { name: 'All files', extensions: ['*'] },
    ],
  });
  if (!result.canceled && result.filePaths[0]) await openRecordingFile(result.filePaths[0]);
}

// --- live sessions: tray count and notifications ---------------------------------------------

function onLiveChange(change: LiveChange): void {
  // The hub may still list an ending session for a moment; the change itself is authoritative.
  liveSessions = core ? core.live.list().filter((s) => s.endedAt === null && !(change.type === 'ended' && s.id === change.session.id)) : [];
  if (change.type === 'started') notifyStarted(change.session);
  updateTray();
}

function notifyStarted(s: LiveSession): void {
  if (!Notification.isSupported()) return;
  const where = s.container && s.container !== s.pod ? `${s.pod}/${s.container}` : s.pod;
  const notification = new Notification({
    title: `Live: ${s.user || 'someone'} on ${where || 'a pod'}`,
    body: s.command ? `Running ${s.command}. Click to watch.` : 'Click to watch.',
    silent: true,
  });
  notification.on('click', () => {
    showWindow();
    window?.webContents.send(CHANNELS.focusSession, s.id);
  });
  notification.show();
}

function updateTray(): void {
  if (!tray) return;
  const count = liveSessions.length;
  tray.setImage(trayIcon(count > 0));
  tray.setToolTip(count > 0 ? `kubecast — ${count} live session${count === 1 ? '' : 's'}` : 'kubecast — no live sessions');
  if (process.platform === 'darwin') tray.setTitle(count > 0 ? String(count) : '');
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: count > 0 ? `${count} live session${count === 1 ? '' : 's'}` : 'No live sessions', enabled: false },
      ...liveSessions.slice(0, 10).map((s) => ({
        label: `${s.user || 'someone'} · ${s.pod}${s.command ? ` · ${s.command}` : ''}`.slice(0, 80),
        click: () => {
          showWindow();
          window?.webContents.send(CHANNELS.focusSession, s.id);
        },
      })),
      { type: 'separator' },
      { label: 'Show kubecast', click: showWindow },
      { label: 'Copy kubectl command', click: () => clipboard.writeText(kubectlCommand()) },
      { type: 'separator' },
      { label: 'Quit kubecast', click: () => app.quit() },
    ]),
  );
}

// --- window, menu, security --------------------------------------------------------------------

function buildMenu(): void {
  const mac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(mac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open Recording…', accelerator: 'CmdOrCtrl+O', click: () => void chooseRecording() },
        { type: 'separator' },
        { label: 'Copy kubectl command', click: () => clipboard.writeText(kubectlCommand()) },
        { label: 'Reveal data folder', click: () => core && void shell.openPath(core.dataDir) },
        { type: 'separator' },
        mac ? { role: 'close' } : { role: 'quit', label: 'Quit', accelerator: 'CmdOrCtrl+Q' },
      ],
    },
    { label: 'Edit', submenu: [{ role: 'copy' }, { role: 'selectAll' }] },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' as const }]),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function lockDownSession(): void {
  const ses = session.defaultSession;
  // Electron grants permission requests unless told otherwise; the console needs none.
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    if (details.url.startsWith(`${consoleOrigin}/`)) {
      for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-security-policy') delete headers[name];
      // The console's own policy, enforced here too in case a response ever comes without it.
      headers['Content-Security-Policy'] = [CONTENT_SECURITY_POLICY];
    }
    callback({ responseHeaders: headers });
  });
  ses.on('will-download', (_event, item) => {
    item.setSaveDialogOptions({ title: 'Save', defaultPath: item.getFilename() });
  });
}

async function createWindow(): Promise<void> {
  if (!core?.urls.console) return;
  const consoleUrl = new URL(core.urls.console);
  await session.defaultSession.cookies.set({ url: consoleOrigin, name: CONSOLE_COOKIE, value: consoleToken, httpOnly: true, sameSite: 'strict', path: '/' });
  consoleUrl.search = ''; // the token is in the cookie now, never in the page's address

  window = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 900,
    minHeight: 560,
    title: 'kubecast',
    icon: windowIcon(),
    show: false,
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#0f1216' : '#f5f6f8',
    webPreferences: {
      preload: join(__dirname, 'preload.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  const contents = window.webContents;
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayOnConsole = (event: Electron.Event, url: string) => {
    if (!isFromConsole(url)) event.preventDefault();
  };
  contents.on('will-navigate', stayOnConsole);
  contents.on('will-redirect', stayOnConsole);
  window.once('ready-to-show', () => window?.show());
  window.on('close', (event) => {
    // Closing the window would cut the sessions being recorded; keep running in the tray instead.
    if (!quitting && tray && liveSessions.length > 0) {
      event.preventDefault();
      window?.hide();
      if (Notification.isSupported()) {
        new Notification({ title: 'kubecast keeps recording', body: `${liveSessions.length} live session${liveSessions.length === 1 ? ' is' : 's are'} still being recorded. Quit from the tray icon.`, silent: true }).show();
      }
    }
  });
  window.on('closed', () => {
    window = null;
  });
  await window.loadURL(consoleUrl.href);
  for (const path of pendingFiles.splice(0)) await openRecordingFile(path);
}

async function start(): Promise<void> {
  const { dataDir, pointer } = dataFolderFromArgv(process.argv);
  let started: DesktopCore;
  try {
    // No upstream or policy here: like `kubecast serve`, the core takes them from saved settings.
    started = await startServe({ dataDir, dataFolderPointer: pointer, logger: createLogger() });
  } catch (err) {
    dialog.showErrorBox('kubecast could not start', `${err instanceof Error ? err.message : String(err)}\n\nData folder: ${dataDir}`);
    app.exit(1);
    return;
  }
  core = started;
  if (!started.urls.console) throw new Error('the core started without its console');
  const consoleUrl = new URL(started.urls.console);
  consoleOrigin = consoleUrl.origin;
  consoleToken = consoleUrl.searchParams.get('token') ?? '';
  lockDownSession();
  buildMenu();
  ipcMain.handle(CHANNELS.copyKubectlCommand, (event) => {
    if (!isFromConsole(event.senderFrame?.url)) return false;
    clipboard.writeText(kubectlCommand());
    return true;
  });
  try {
    tray = new Tray(trayIcon(false));
    tray.on('click', showWindow);
  } catch {
    tray = null; // desktops without a status area: the window is enough
  }
  started.live.onChange(onLiveChange);
  liveSessions = started.live.list().filter((s) => s.endedAt === null);
  updateTray();
  await createWindow();
}

// --- lifecycle -----------------------------------------------------------------------------------

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', (_event, argv) => {
    showWindow();
    for (const path of castArgs(argv.slice(1))) void openRecordingFile(path);
  });
  app.on('open-file', (event, path) => {
    event.preventDefault();
    void openRecordingFile(path);
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  pendingFiles.push(...castArgs(process.argv.slice(1)));
  app
    .whenReady()
    .then(start)
    .catch(async (err: unknown) => {
      dialog.showErrorBox('kubecast could not start', err instanceof Error ? err.message : String(err));
      await core?.stop().catch(() => {});
      app.exit(1);
    });
  app.on('activate', () => {
    if (window) showWindow();
    else if (core) void createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('before-quit', (event) => {
    quitting = true;
    if (!core) return;
    // Let recordings finish writing before the process goes.
    event.preventDefault();
    const stopping = core;
    core = null;
    stopping
      .stop()
      .catch(() => {})
      .finally(() => app.exit(0));
  });
}
