// A stand-in for the 'electron' module, so the built desktop main (dist/electron/main.js) runs
// under plain Node: every call the main process makes is recorded for the test to inspect, and
// handlers it registers can be invoked as Electron would.
import Module from 'node:module';

type Handler = (...args: unknown[]) => unknown;

export interface FakeEvent {
  defaultPrevented: boolean;
  preventDefault(): void;
}

export function fakeEvent(): FakeEvent {
  return {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

/** Named handlers registered with `on`/`once`, callable by the test. */
class Emitter {
  readonly handlers = new Map<string, Handler[]>();
  on(name: string, handler: Handler): this {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler]);
    return this;
  }
  once(name: string, handler: Handler): this {
    return this.on(name, handler);
  }
  emit(name: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(name) ?? []) handler(...args);
  }
}

export interface MenuItem {
  label?: string;
  role?: string;
  type?: string;
  enabled?: boolean;
  click?: () => void;
  submenu?: MenuItem[];
}

class FakeWebContents extends Emitter {
  windowOpenHandler: Handler | undefined;
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  setWindowOpenHandler(handler: Handler): void {
    this.windowOpenHandler = handler;
  }
  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
  }
}

export function createFakeElectron() {
  const calls: string[] = [];
  const windows: FakeBrowserWindow[] = [];
  const trays: FakeTray[] = [];
  const notifications: FakeNotification[] = [];
  const clipboardWrites: string[] = [];
  const openedPaths: string[] = [];
  const errorBoxes: Array<{ title: string; content: string }> = [];
  const ipcHandlers = new Map<string, Handler>();
  const cookies: Array<Record<string, unknown>> = [];
  let applicationMenu: MenuItem[] | null = null;
  let exitCode: number | null = null;
  let onExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (onExit = resolve));

  class FakeApp extends Emitter {
    isPackaged = false;
    requestSingleInstanceLock(): boolean {
      calls.push('app.requestSingleInstanceLock');
      return true;
    }
    whenReady(): Promise<void> {
      return Promise.resolve();
    }
    /** As Electron: 'before-quit' first; quitting goes on unless a handler prevents it. */
    quit(): void {
      calls.push('app.quit');
      const event = fakeEvent();
      this.emit('before-quit', event);
      if (!event.defaultPrevented) this.exit(0);
    }
    exit(code = 0): void {
      calls.push(`app.exit(${code})`);
      exitCode = code;
      onExit(code);
    }
  }
  const app = new FakeApp();

  class FakeBrowserWindow extends Emitter {
    readonly webContents = new FakeWebContents();
    loadedUrl: string | undefined;
    visible = false;
    constructor(readonly options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>) {
      super();
      windows.push(this);
    }
    async loadURL(url: string): Promise<void> {
      this.loadedUrl = url;
    }
    isMinimized(): boolean {
      return false;
    }
    restore(): void {}
    show(): void {
      this.visible = true;
    }
    hide(): void {
      this.visible = false;
    }
    focus(): void {}
  }

  const webRequest = {
    headersHandler: undefined as Handler | undefined,
    onHeadersReceived(handler: Handler) {
      this.headersHandler = handler;
    },
  };
  const defaultSession = Object.assign(new Emitter(), {
    permissionRequestHandler: undefined as Handler | undefined,
    permissionCheckHandler: undefined as Handler | undefined,
    devicePermissionHandler: undefined as Handler | undefined,
    setPermissionRequestHandler(handler: Handler) {
      this.permissionRequestHandler = handler;
    },
    setPermissionCheckHandler(handler: Handler) {
      this.permissionCheckHandler = handler;
    },
    setDevicePermissionHandler(handler: Handler) {
      this.devicePermissionHandler = handler;
    },
    webRequest,
    cookies: {
      async set(details: Record<string, unknown>) {
        cookies.push(details);
      },
    },
  });

  class FakeTray extends Emitter {
    tooltip = '';
    title = '';
    contextMenu: MenuItem[] = [];
    constructor(readonly image: unknown) {
      super();
      trays.push(this);
    }
    setImage(image: unknown): void {
      (this as { image: unknown }).image = image;
    }
    setToolTip(text: string): void {
      this.tooltip = text;
    }
    setTitle(text: string): void {
      this.title = text;
    }
    setContextMenu(menu: { template: MenuItem[] }): void {
      this.contextMenu = menu.template;
    }
  }

  class FakeNotification extends Emitter {
    shown = false;
    constructor(readonly options: { title?: string; body?: string }) {
      super();
      notifications.push(this);
    }
    static isSupported(): boolean {
      return true;
    }
    show(): void {
      this.shown = true;
    }
  }

  const electron = {
    app,
    BrowserWindow: FakeBrowserWindow,
    session: { defaultSession },
    Menu: {
      buildFromTemplate: (template: MenuItem[]) => ({ template }),
      setApplicationMenu: (menu: { template: MenuItem[] }) => {
        applicationMenu = menu.template;
      },
    },
    Tray: FakeTray,
    Notification: FakeNotification,
    ipcMain: {
      handle: (channel: string, handler: Handler) => ipcHandlers.set(channel, handler),
    },
    dialog: {
      showErrorBox: (title: string, content: string) => errorBoxes.push({ title, content }),
      showMessageBox: async () => ({ response: 0 }),
      showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
    },
    clipboard: { writeText: (text: string) => clipboardWrites.push(text) },
    shell: {
      openPath: async (path: string) => {
        openedPaths.push(path);
        return '';
      },
    },
    nativeImage: { createFromBitmap: (pixels: Buffer, size: { width: number; height: number }) => ({ pixels, size }) },
    nativeTheme: { shouldUseDarkColors: false },
  };

  return {
    electron,
    app,
    calls,
    windows,
    trays,
    notifications,
    clipboardWrites,
    openedPaths,
    errorBoxes,
    ipcHandlers,
    cookies,
    defaultSession,
    applicationMenu: () => applicationMenu,
    exitCode: () => exitCode,
    exited,
  };
}

export type FakeElectron = ReturnType<typeof createFakeElectron>;

const FAKE_ID = '\0fake-electron';

/** Makes `require('electron')` return `fake` in this process, until the returned function is called. */
export function installFakeElectron(fake: object): () => void {
  const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = loader._resolveFilename;
  loader._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'electron' ? FAKE_ID : original.call(this, request, ...rest);
  };
  const cached = new Module(FAKE_ID);
  cached.exports = fake;
  cached.loaded = true;
  require.cache[FAKE_ID] = cached;
  return () => {
    loader._resolveFilename = original;
    delete require.cache[FAKE_ID];
  };
}
