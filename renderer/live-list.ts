// Sidebar: sessions in progress. Who, where, what, for how long, and a pulse while output flows
// (the byte count grew since the previous update).

import type { SessionInfo } from './api';
import { h } from './dom';
import { formatDuration, orUnknown, parseDate, podLabel } from './format';
import { Listbox } from './listbox';

const PULSE_MS = 2500;

export class LiveList {
  readonly el: HTMLElement;
  private readonly listbox: Listbox;
  private readonly empty: HTMLElement;
  private readonly count: HTMLElement;
  private current: SessionInfo[] = [];
  private shown = '';
  private readonly lastBytes = new Map<string, { bytes: number; changedAt: number }>();
  private readonly ticker: number;

  constructor(private readonly onOpen: (session: SessionInfo) => void, onHowTo: () => void) {
    this.listbox = new Listbox({
      label: 'Live sessions',
      onActivate: (id) => {
        const found = this.current.find((s) => s.id === id);
        if (found) this.onOpen(found);
      },
    });
    this.count = h('span', { class: 'count', attrs: { 'aria-label': '0 live sessions' }, text: '0' });
    this.empty = h(
      'div',
      { class: 'list-empty' },
      h('p', { text: 'No live sessions.' }),
      h('button', { class: 'link', text: 'How to start one', on: { click: onHowTo } }),
    );
    this.el = h(
      'section',
      { class: 'sidebar-section live-section', attrs: { 'aria-labelledby': 'live-heading' } },
      h('h2', { attrs: { id: 'live-heading' } }, h('span', { class: 'live-dot', attrs: { 'aria-hidden': 'true' } }), 'Live', this.count),
      this.listbox.el,
      this.empty,
    );
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  get sessions(): readonly SessionInfo[] {
    return this.current;
  }

  update(sessions: SessionInfo[]): void {
    const now = Date.now();
    const sorted = [...sessions].sort((a, b) => (parseDate(b.startedAt) ?? 0) - (parseDate(a.startedAt) ?? 0));
    for (const s of sorted) {
      // The server's last-output time when it sends one; else a growing byte count means output.
      const lastOutput = parseDate(s.lastOutputAt);
      const seen = this.lastBytes.get(s.id);
      let changedAt = seen?.changedAt ?? (lastOutput ?? 0);
      if (seen && s.bytes !== seen.bytes) changedAt = now;
      if (lastOutput !== null) changedAt = Math.max(changedAt, Math.min(lastOutput, now));
      this.lastBytes.set(s.id, { bytes: s.bytes, changedAt });
    }
    for (const id of [...this.lastBytes.keys()]) if (!sorted.some((s) => s.id === id)) this.lastBytes.delete(id);
    this.current = sorted;
    // Redraw only when something shown changed; the pulse and the clocks update in tick().
    const shown = JSON.stringify(sorted.map((s) => [s.id, s.user, s.pod, s.container, s.namespace, s.cluster, s.command, s.startedAt]));
    if (shown !== this.shown) this.listbox.setOptions(sorted.map((s) => this.render(s)));
    this.shown = shown;
    this.empty.hidden = sorted.length > 0;
    this.count.textContent = String(sorted.length);
    this.count.setAttribute('aria-label', `${sorted.length} live session${sorted.length === 1 ? '' : 's'}`);
    this.tick();
  }

  /** Adds or removes one session at once (server-sent event), before the next full update. */
  applyEvent(type: 'started' | 'ended', session: SessionInfo): void {
    const others = this.current.filter((s) => s.id !== session.id);
    this.update(type === 'started' ? [session, ...others] : others);
  }

  setSelected(id: string | null): void {
    this.listbox.setSelected(id);
  }

  focus(): void {
    this.listbox.focus();
  }

  dispose(): void {
    clearInterval(this.ticker);
  }

  private render(s: SessionInfo): HTMLLIElement {
    const who = orUnknown(s.user, 'user');
    const where = podLabel(s.pod, s.container);
    const option = this.listbox.option(s.id, `Live: ${who} on ${where}${s.command ? `, running ${s.command}` : ''}`);
    option.classList.add('session-item');
    option.append(
      h(
        'div',
        { class: 'row1' },
        h('span', { class: 'pulse', attrs: { 'aria-hidden': 'true', 'data-session': s.id } }),
        h('span', { class: 'who', text: who }),
        h('span', { class: 'ticking', attrs: { 'data-started': s.startedAt } }),
      ),
      h('div', { class: 'row2', text: `${where}${s.namespace ? ` · ${s.namespace}` : ''}${s.cluster ? ` · ${s.cluster}` : ''}` }),
      h('div', { class: 'row3 mono', text: s.command || '(no command)' }),
    );
    return option;
  }

  private tick(): void {
    const now = Date.now();
    for (const el of this.listbox.el.querySelectorAll<HTMLElement>('.ticking')) {
      const started = parseDate(el.dataset.started);
      el.textContent = started === null ? '' : formatDuration(now - started);
    }
    for (const el of this.listbox.el.querySelectorAll<HTMLElement>('.pulse')) {
      const seen = this.lastBytes.get(el.dataset.session ?? '');
      el.classList.toggle('active', seen !== undefined && now - seen.changedAt < PULSE_MS);
    }
  }
}
