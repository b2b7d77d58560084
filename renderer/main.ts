// The console window: sidebar (live sessions, recordings), the main area (what is selected) and
// the status line. The location hash names what is shown, so reload and back/forward work:
// #/live/ID, #/recordings/ID, #/file, #/settings, #/ (home).

import '@xterm/xterm/css/xterm.css';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import './styles.css';

import { ApiError, api, setUnauthorizedHandler, subscribeLiveEvents, type ConsoleStatus, type Recording, type SearchHit, type SessionInfo } from './api';
import { desktopBridge, type OpenedRecording } from './bridge';
import { CastParseError, loadCast } from './cast-model';
import { h, icon, replaceChildren } from './dom';
import { commandBlock, howToRecord } from './empty-state';
import { LiveList } from './live-list';
import { LiveView } from './live-view';
import { filePicker, installDropZone, LocalFileError, readLocalFile, type LocalFile } from './local-file';
import { RecordingsList, type Filters } from './recordings-list';
import { ReplayView } from './replay';
import { SettingsView } from './settings';
import { StatusLine } from './status-line';

const LIVE_POLL_MS = 1000;
const STATUS_POLL_MS = 5000;

type View = LiveView | ReplayView | SettingsView | null;
type Route = { name: 'home' } | { name: 'live'; id: string } | { name: 'recording'; id: string } | { name: 'file' } | { name: 'settings' };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'live' && parts[1]) return { name: 'live', id: parts[1] };
  if (parts[0] === 'recordings' && parts[1]) return { name: 'recording', id: parts[1] };
  if (parts[0] === 'file') return { name: 'file' };
  if (parts[0] === 'settings') return { name: 'settings' };
  return { name: 'home' };
}

function go(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

class App {
  private readonly main: HTMLElement;
  private readonly liveList: LiveList;
  private readonly recordings: RecordingsList;
  private readonly statusLine: StatusLine;
  private readonly picker: ReturnType<typeof filePicker>;
  private view: View = null;
  private status: ConsoleStatus | null = null;
  private localFile: LocalFile | null = null;
  private eventsConnected = false;
  private unauthorized = false;
  private routeToken = 0;

  constructor(private readonly root: HTMLElement) {
    this.main = h('main', { class: 'main', attrs: { id: 'main', tabindex: -1, 'aria-label': 'Selected session or recording' } });
    this.liveList = new LiveList(
      (s) => go(`#/live/${encodeURIComponent(s.id)}`),
      () => go('#/'),
    );
    this.recordings = new RecordingsList(
      (r) => go(r.live ? `#/live/${encodeURIComponent(r.id)}` : `#/recordings/${encodeURIComponent(r.id)}`),
      (filters) => this.onFiltersChange(filters),
      () => howToRecord(this.status, true),
    );
    this.statusLine = new StatusLine(() => go('#/settings'));
    this.picker = filePicker((file) => void this.openFile(file));

    const sidebar = h(
      'nav',
      { class: 'sidebar', attrs: { 'aria-label': 'Sessions and recordings' } },
      h(
        'div',
        { class: 'brand' },
        h('a', { class: 'brand-name', attrs: { href: '#/', 'aria-label': 'kubecast home' } }, h('img', { attrs: { src: 'icon.svg', alt: '', width: 22, height: 22 } }), 'kubecast'),
        h('button', { class: 'icon-button', title: 'Open a recording file', attrs: { 'aria-label': 'Open a recording file' }, on: { click: () => this.picker.pick() } }, icon('open')),
        h('button', { class: 'icon-button', title: 'Settings', attrs: { 'aria-label': 'Settings' }, on: { click: () => go('#/settings') } }, icon('settings')),
      ),
      this.liveList.el,
      this.recordings.el,
    );
    replaceChildren(
      root,
      h('a', { class: 'skip-link', attrs: { href: '#main' }, text: 'Skip to the main area', on: { click: (e) => (e.preventDefault(), this.main.focus()) } }),
      h('div', { class: 'app' }, sidebar, this.main, this.statusLine.el),
      this.picker.input,
      installDropZone((file) => void this.openFile(file)),
    );
  }

  start(): void {
    setUnauthorizedHandler(() => this.showUnauthorized());
    window.addEventListener('hashchange', () => void this.route());
    document.addEventListener('keydown', (e) => this.onGlobalKey(e));

    const bridge = desktopBridge();
    if (bridge) {
      document.documentElement.dataset.platform = bridge.platform;
      bridge.onOpenRecording((file) => this.openOpened(file));
      bridge.onFocusSession((id) => go(`#/live/${encodeURIComponent(id)}`));
    }

    subscribeLiveEvents(
      (event) => {
        this.liveList.applyEvent(event.type, event.session);
        this.statusLine.setLiveCount(this.liveList.sessions.length);
        if (parseRoute(location.hash).name === 'home') this.showHome();
        void this.recordings.refresh();
      },
      (connected) => {
        this.eventsConnected = connected;
      },
    );
    void this.pollLive();
    void this.pollStatus();
    void this.recordings.reload();
    void this.route();
  }

  // --- data ------------------------------------------------------------------------------

  private async pollLive(): Promise<void> {
    try {
      const before = new Set(this.liveList.sessions.map((s) => s.id));
      const sessions = await api.live();
      this.liveList.update(sessions);
      this.statusLine.setLiveCount(sessions.length);
      if (sessions.length !== before.size && parseRoute(location.hash).name === 'home') this.showHome();
      this.statusLine.setProblem(null);
      // Without the event stream, a session that appeared or vanished is the cue to refresh the library.
      const changed = sessions.length !== before.size || sessions.some((s) => !before.has(s.id));
      if (changed && !this.eventsConnected) void this.recordings.refresh();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) this.statusLine.setProblem('kubecast is not reachable; retrying…');
    }
    if (!this.unauthorized) setTimeout(() => void this.pollLive(), LIVE_POLL_MS);
  }

  private async pollStatus(): Promise<void> {
    try {
      const first = this.status === null;
      this.status = await api.status();
      this.statusLine.setStatus(this.status);
      this.statusLine.setLiveCount(this.liveList.sessions.length);
      if (first && this.view === null) void this.route();
    } catch {
      // The live poll reports reachability; an older server without /api/status still works.
    }
    if (!this.unauthorized) setTimeout(() => void this.pollStatus(), STATUS_POLL_MS);
  }

  private onFiltersChange(filters: Filters): void {
    const view = this.view;
    if (view instanceof ReplayView && view.recording) {
      void this.hitsFor(view.recording, filters.q).then((hits) => {
        if (this.view === view) view.setHits(filters.q, hits);
      });
    }
  }

  /** Search hits for one recording: from the list when it has them, else from the index directly. */
  private async hitsFor(recording: Recording, q: string): Promise<SearchHit[] | undefined> {
    if (q === '') return undefined;
    const listed = this.recordings.hitsFor(recording.id);
    if (listed) return listed;
    try {
      // Narrowed by the recording's own identity so it is on the first page of answers.
      const page = await api.recordings({ q, user: recording.user || undefined, namespace: recording.namespace || undefined, pod: recording.pod || undefined, limit: 200 });
      return page.items.find((r) => r.id === recording.id)?.hits ?? [];
    } catch {
      return undefined;
    }
  }

  // --- routing ---------------------------------------------------------------------------

  private async route(): Promise<void> {
    if (this.unauthorized) return;
    const route = parseRoute(location.hash);
    const token = ++this.routeToken;
    this.liveList.setSelected(route.name === 'live' ? route.id : null);
    this.recordings.setSelected(route.name === 'recording' ? route.id : null);
    switch (route.name) {
      case 'home':
        this.showHome();
        return;
      case 'settings': {
        const view = new SettingsView({ onSaved: () => void this.pollStatus() });
        this.mount(view, 'Settings');
        await view.start();
        return;
      }
      case 'file':
        if (this.localFile) this.showLocal(this.localFile);
        else go('#/');
        return;
      case 'live': {
        const session = await this.findLive(route.id);
        if (token !== this.routeToken) return;
        if (!session) {
          // Ended meanwhile (or never live): its recording is the next best thing.
          go(`#/recordings/${encodeURIComponent(route.id)}`);
          return;
        }
        const view = new LiveView(session, { openRecording: (id) => go(`#/recordings/${encodeURIComponent(id)}`) });
        this.mount(view, `Live: ${session.user || 'session'} on ${session.pod}`);
        view.start();
        return;
      }
      case 'recording': {
        this.mountPlaceholder('Loading the recording…');
        let recording: Recording;
        try {
          recording = await api.recording(route.id);
        } catch (err) {
          if (token !== this.routeToken) return;
          this.mountMessage('This recording cannot be opened', err instanceof ApiError && err.status === 404 ? 'It is not in the library (deleted, or the link is wrong).' : err instanceof Error ? err.message : String(err));
          return;
        }
        if (token !== this.routeToken) return;
        const q = this.recordings.currentFilters.q;
        const view = new ReplayView({ kind: 'library', recording }, { onDeleted: () => this.onDeleted() });
        this.mount(view, `Replay: ${recording.command || recording.pod}`);
        await view.start(q, await this.hitsFor(recording, q));
        return;
      }
    }
  }

  private async findLive(id: string): Promise<SessionInfo | undefined> {
    const known = this.liveList.sessions.find((s) => s.id === id);
    if (known) return known;
    try {
      return (await api.live()).find((s) => s.id === id);
    } catch {
      return undefined;
    }
  }

  private mount(view: Exclude<View, null>, title: string): void {
    this.view?.dispose();
    this.view = view;
    replaceChildren(this.main, view.el);
    document.title = `${title} — kubecast`;
  }

  private unmount(): void {
    this.view?.dispose();
    this.view = null;
  }

  private mountPlaceholder(text: string): void {
    this.unmount();
    replaceChildren(this.main, h('p', { class: 'muted loading', attrs: { role: 'status' }, text }));
  }

  private mountMessage(title: string, message: string, extra?: HTMLElement): void {
    this.unmount();
    replaceChildren(this.main, h('div', { class: 'view message-view' }, h('div', { class: 'error-box', attrs: { role: 'alert' } }, h('h1', { text: title }), h('p', { text: message }), extra ?? null)));
    document.title = 'kubecast';
  }

  private showHome(): void {
    this.unmount();
    const live = this.liveList.sessions.length;
    replaceChildren(
      this.main,
      h(
        'div',
        { class: 'view home-view' },
        h('h1', { text: live > 0 ? `${live} session${live === 1 ? '' : 's'} live` : 'No live sessions' }),
        h('p', { class: 'subtitle', text: live > 0 ? 'Pick one on the left to watch it as it happens.' : 'Pick a recording on the left to replay it, or start a session.' }),
        howToRecord(this.status),
        h(
          'div',
          { class: 'home-actions' },
          h('button', { on: { click: () => this.picker.pick() } }, icon('open'), 'Open a recording file…'),
          h('span', { class: 'muted', text: 'or drop a .cast file anywhere in this window (asciicast v1, v2 or v3).' }),
        ),
      ),
    );
    document.title = 'kubecast';
  }

  // --- local files -----------------------------------------------------------------------

  private async openFile(file: File): Promise<void> {
    try {
      this.openLocal(await readLocalFile(file));
    } catch (err) {
      this.showFileError(file.name, err instanceof LocalFileError ? err.message : `It could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private openOpened(file: OpenedRecording): void {
    if (typeof file?.name !== 'string' || typeof file.text !== 'string') return;
    this.openLocal({ name: file.name, size: new Blob([file.text]).size, text: file.text });
  }

  private openLocal(file: LocalFile): void {
    this.localFile = file;
    if (location.hash === '#/file') this.showLocal(file);
    else location.hash = '#/file';
  }

  private showLocal(file: LocalFile): void {
    let model;
    try {
      model = loadCast(file.text);
    } catch (err) {
      this.localFile = null;
      const detail = err instanceof CastParseError ? `${err.message[0].toUpperCase()}${err.message.slice(1)}.` : err instanceof Error ? err.message : String(err);
      this.showFileError(file.name, `It is not an asciicast recording. ${detail}`);
      return;
    }
    const view = new ReplayView({ kind: 'local', name: file.name, size: file.size, model }, { onDeleted: () => {} });
    this.mount(view, file.name);
    void view.start('', undefined);
  }

  private showFileError(name: string, detail: string): void {
    this.mountMessage(`“${name}” cannot be played`, detail, h('p', { class: 'muted', text: 'kubecast plays asciicast v1, v2 and v3 files (.cast), as written by kubecast, asciinema and compatible recorders.' }));
    this.main.querySelector<HTMLElement>('[role="alert"]')?.setAttribute('data-kind', 'file-error');
  }

  private onDeleted(): void {
    go('#/');
    void this.recordings.reload();
  }

  // --- chrome ----------------------------------------------------------------------------

  private onGlobalKey(event: KeyboardEvent): void {
    const target = event.target as HTMLElement | null;
    const typing = target instanceof HTMLElement && target.closest('input, textarea, select, [contenteditable="true"]') !== null;
    if (typing || event.altKey || event.metaKey) return;
    if (event.key === '/' || (event.key.toLowerCase() === 'k' && event.ctrlKey)) {
      event.preventDefault();
      this.recordings.focusSearch();
    } else if (event.key.toLowerCase() === 'o' && event.ctrlKey && !desktopBridge()) {
      // The desktop app's File › Open Recording… owns Ctrl+O there.
      event.preventDefault();
      this.picker.pick();
    }
  }

  private showUnauthorized(): void {
    if (this.unauthorized) return;
    this.unauthorized = true;
    this.unmount();
    replaceChildren(
      this.root,
      h(
        'div',
        { class: 'unauthorized' },
        h(
          'div',
          { class: 'error-box', attrs: { role: 'alert' } },
          h('h1', { text: 'This console needs its access link' }),
          h('p', { text: 'Open the console URL that `kubecast serve` printed — it carries a one-time token. It looks like http://127.0.0.1:PORT/?token=… . The desktop app signs in by itself.' }),
          commandBlock('kubecast serve'),
        ),
      ),
    );
  }
}

// The sign-in link's ?token= has done its job (the server set the cookie): keep it out of the
// address bar, bookmarks and screenshots.
if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', `${location.pathname}${location.hash}`);

const root = document.getElementById('app');
if (root) new App(root).start();

