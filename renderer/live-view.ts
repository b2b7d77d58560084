// Main area: one session followed live in a read-only xterm.js. Joining shows the current screen at
// once (the snapshot message), then output as it happens, then the end and the exit code.

import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { ApiError, api, liveSocketUrl, type SessionInfo } from './api';
import { h, icon, replaceChildren } from './dom';
import { exitStatus, formatDuration, orUnknown, parseDate, podLabel } from './format';
import { parseLiveMessage, type LiveMessage } from './live-messages';
import { neuterHostSequences, SAFE_TERMINAL_OPTIONS } from './terminal-safety';
import { onColorSchemeChange, terminalTheme } from './theme';

/** Above this much output waiting for xterm, drop the socket and rejoin with a fresh snapshot. */
const MAX_PENDING_CHARS = 4 * 1024 * 1024;
const MIN_FONT = 7;
const MAX_FONT = 15;
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000];
/** Close codes of the live socket (src/live/messages.ts): the session is not live; too many viewers. */
const CLOSE_NOT_FOUND = 4404;
const CLOSE_BUSY = 1013;

type State = 'connecting' | 'live' | 'catching-up' | 'reconnecting' | 'ended' | 'lost';

export interface LiveViewCallbacks {
  openRecording(id: string): void;
}

export class LiveView {
  readonly el: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly termHost: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly clock: HTMLElement;
  private readonly sizeText: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly followButton: HTMLButtonElement;
  private readonly markers: HTMLElement;
  private socket: WebSocket | null = null;
  private state: State = 'connecting';
  private pendingChars = 0;
  private attempts = 0;
  private reconnectTimer = 0;
  private readonly ticker: number;
  private exitCode: number | null = null;
  private endedAt: number | null = null;
  private disposed = false;
  private readonly resizeObserver: ResizeObserver;
  private readonly stopThemeWatch: () => void;
  private cols: number;
  private rows: number;

  constructor(
    private readonly session: SessionInfo,
    private readonly callbacks: LiveViewCallbacks,
  ) {
    const tty = session.tty;
    this.cols = session.cols > 0 ? session.cols : 80;
    this.rows = session.rows > 0 ? session.rows : 24;
    this.term = new Terminal({
      ...SAFE_TERMINAL_OPTIONS,
      cols: this.cols,
      rows: this.rows,
      scrollback: 5000,
      // Non-TTY output has bare "\n" line ends; a TTY already sends "\r\n".
      convertEol: !tty,
      cursorBlink: false,
      fontSize: 13,
      fontFamily: 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace',
      theme: terminalTheme(),
      allowProposedApi: false,
    });
    neuterHostSequences(this.term);
    this.term.loadAddon(this.fit);

    this.badge = h('span', { class: 'badge badge-live pulse-badge', text: 'LIVE' });
    this.clock = h('span', { class: 'ticking', attrs: { 'aria-label': 'Session duration' } });
    this.sizeText = h('span', { class: 'muted' });
    this.statusText = h('span', { class: 'connection', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.followButton = h('button', { class: 'follow', text: 'Jump to latest output', on: { click: () => this.follow() } });
    this.followButton.hidden = true;
    this.markers = h('ol', { class: 'live-markers', attrs: { 'aria-label': 'Markers' } });
    this.banner = h('div', { class: 'end-banner', attrs: { role: 'status' } });
    this.banner.hidden = true;
    this.termHost = h('div', { class: 'terminal-host', attrs: { role: 'region', 'aria-label': 'Live terminal (read-only)' } });

    const who = orUnknown(session.user, 'user');
    this.el = h(
      'article',
      { class: 'view live-view', attrs: { 'aria-labelledby': 'live-view-title', 'data-session': session.id, 'data-state': 'connecting' } },
      h(
        'header',
        { class: 'view-header' },
        h('div', { class: 'title-row' }, this.badge, h('h1', { attrs: { id: 'live-view-title' }, class: 'mono', text: session.command || podLabel(session.pod, session.container) }), this.clock),
        h(
          'p',
          { class: 'subtitle' },
          `${who} · ${podLabel(session.pod, session.container)}${session.namespace ? ` · ${session.namespace}` : ''}${session.cluster ? ` · ${session.cluster}` : ''} · `,
          this.sizeText,
        ),
        h('div', { class: 'toolbar' }, this.statusText, this.followButton),
      ),
      this.banner,
      this.termHost,
      this.markers,
    );
    this.markers.hidden = true;

    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.stopThemeWatch = onColorSchemeChange(() => {
      this.term.options.theme = terminalTheme();
    });
    this.ticker = window.setInterval(() => this.tick(), 1000);
    this.tick();
    this.updateSize();
  }

  /** Call once the element is in the document: xterm measures its container. */
  start(): void {
    this.term.open(this.termHost);
    this.term.onScroll(() => this.updateFollow());
    this.resizeObserver.observe(this.termHost);
    this.layout();
    this.connect();
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.ticker);
    clearTimeout(this.reconnectTimer);
    this.resizeObserver.disconnect();
    this.stopThemeWatch();
    this.closeSocket();
    this.term.dispose();
  }

  focus(): void {
    this.termHost.querySelector<HTMLElement>('.xterm')?.focus();
  }

  private connect(): void {
    if (this.disposed) return;
    this.setState(this.attempts === 0 ? 'connecting' : 'reconnecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(liveSocketUrl(this.session.id));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      const message = parseLiveMessage(event.data);
      if (message) this.onMessage(message);
    });
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state === 'ended' || this.disposed) return;
      if (this.state === 'catching-up') return; // reconnects once xterm has drained
      if (event.code === CLOSE_NOT_FOUND || !opened) void this.checkEnded();
      else if (event.code === CLOSE_BUSY) {
        this.statusText.textContent = 'Too many viewers on this session right now; trying again…';
        this.scheduleReconnect();
      } else this.scheduleReconnect();
    });
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  private scheduleReconnect(): void {
    if (this.disposed || this.state === 'ended') return;
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempts, RECONNECT_DELAYS_MS.length - 1)];
    this.attempts++;
    if (this.attempts > 8) {
      void this.checkEnded(true);
      return;
    }
    this.setState('reconnecting');
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  /** The socket could not be opened: the session may have ended meanwhile. */
  private async checkEnded(giveUp = false): Promise<void> {
    try {
      const live = await api.live();
      if (live.some((s) => s.id === this.session.id) && !giveUp) {
        this.scheduleReconnect();
        return;
      }
      const recording = await api.recording(this.session.id).catch(() => null);
      if (recording && !recording.live) {
        this.showEnd(recording.exitCode, recording.complete, parseDate(recording.endedAt));
        return;
      }
      if (!giveUp) {
        this.scheduleReconnect();
        return;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      if (!giveUp) {
        this.scheduleReconnect();
        return;
      }
    }
    this.setState('lost');
  }

  private onMessage(message: LiveMessage): void {
    switch (message.type) {
      case 'snapshot':
        // First message, or a resync after this viewer fell behind: start from the server's screen.
        this.attempts = 0;
        this.term.reset();
        this.resizeTerminal(message.cols, message.rows);
        this.write(message.data);
        this.setState('live');
        break;
      case 'output':
        this.write(message.data);
        break;
      case 'resize':
        this.resizeTerminal(message.cols, message.rows);
        break;
      case 'marker':
        this.markers.hidden = false;
        this.markers.append(h('li', {}, h('span', { class: 'muted', text: formatDuration(message.time * 1000) }), ' ', message.label || 'marker'));
        break;
      case 'exit':
        this.exitCode = message.code;
        break;
      case 'end':
        this.showEnd(message.exitCode ?? this.exitCode, message.complete, Date.now(), message.error);
        this.closeSocket();
        break;
    }
  }

  private write(data: string): void {
    if (this.state === 'catching-up') return;
    this.pendingChars += data.length;
    this.term.write(data, () => {
      this.pendingChars -= data.length;
      if (this.state === 'catching-up' && this.pendingChars <= 0) {
        this.pendingChars = 0;
        this.connect();
      }
    });
    if (this.pendingChars > MAX_PENDING_CHARS) {
      // The page cannot keep up; the server's snapshot on rejoin is cheaper than the backlog.
      this.setState('catching-up');
      this.closeSocket();
    }
  }

  private resizeTerminal(cols: number, rows: number): void {
    this.cols = cols;
    this.rows = rows;
    if (this.session.tty) this.term.resize(cols, rows);
    this.updateSize();
    this.layout();
  }

  private updateSize(): void {
    this.sizeText.textContent = this.session.tty ? `${this.cols}×${this.rows}` : 'no TTY';
  }

  /**
   * A TTY session keeps the size kubectl's terminal has (a TUI drawn for 120 columns is unreadable
   * re-wrapped), so the font scales to fit the width instead; non-TTY output just fills the pane.
   */
  private layout(): void {
    if (this.disposed || !this.term.element) return;
    if (!this.session.tty) {
      this.fit.fit();
      return;
    }
    for (let i = 0; i < 2; i++) {
      const proposed = this.fit.proposeDimensions();
      if (!proposed || !Number.isFinite(proposed.cols) || proposed.cols <= 0) return;
      const current = this.term.options.fontSize ?? 13;
      const wanted = Math.max(MIN_FONT, Math.min(MAX_FONT, Math.floor(((current * proposed.cols) / this.cols) * 2) / 2));
      if (wanted === current) break;
      this.term.options.fontSize = wanted;
    }
  }

  private follow(): void {
    this.term.scrollToBottom();
    this.updateFollow();
  }

  private updateFollow(): void {
    const buffer = this.term.buffer.active;
    this.followButton.hidden = buffer.viewportY >= buffer.baseY;
  }

  private showEnd(code: number | null, complete: boolean, endedAt: number | null, error?: string): void {
    this.endedAt = endedAt ?? Date.now();
    this.exitCode = code;
    this.setState('ended');
    const exit = exitStatus(code);
    this.badge.textContent = 'ENDED';
    this.badge.className = 'badge badge-muted';
    replaceChildren(
      this.banner,
      h('span', { class: `exit exit-${exit.tone}`, text: `Session ended · ${exit.label}` }),
      complete ? null : h('span', { class: 'badge badge-warn', title: 'The upload was cut off; the recording may be truncated.', text: 'incomplete' }),
      error ? h('span', { class: 'muted', text: error }) : null,
      h('button', { class: 'primary', on: { click: () => this.callbacks.openRecording(this.session.id) } }, icon('play'), 'Replay the recording'),
    );
    this.banner.hidden = false;
    this.tick();
  }

  private setState(state: State): void {
    this.state = state;
    this.el.dataset.state = state;
    const text: Record<State, string> = {
      connecting: 'Connecting…',
      live: 'Following live output',
      'catching-up': 'Output is arriving faster than it can be drawn; catching up with a fresh screen…',
      reconnecting: 'Connection lost; reconnecting…',
      ended: 'The session has ended.',
      lost: 'Could not reach this session. It may have ended; check Recordings.',
    };
    this.statusText.textContent = text[state];
    this.statusText.className = `connection connection-${state}`;
  }

  private tick(): void {
    const started = parseDate(this.session.startedAt);
    const end = this.endedAt ?? Date.now();
    this.clock.textContent = started === null ? '' : formatDuration(end - started);
  }
}
