// Sidebar: the recordings library. A search over what was on screen, filters, and a list that
// loads the next page when its end scrolls into view.

import { ApiError, api, type Recording, type RecordingQuery, type SearchHit } from './api';
import { append, h, icon, replaceChildren } from './dom';
import { exitStatus, formatBytes, formatDuration, orUnknown, parseDate, podLabel, relativeTime } from './format';
import { Listbox } from './listbox';

const PAGE_SIZE = 50;
const SEARCH_DEBOUNCE_MS = 250;
const SETTLE_POLL_MS = 3000;

export interface Filters {
  q: string;
  user: string;
  namespace: string;
  pod: string;
  /** '', '1h', '24h', '7d', '30d' */
  since: string;
}

const SINCE: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'Last hour', ms: 3600_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
  '30d': { label: 'Last 30 days', ms: 30 * 86_400_000 },
};

export interface Badge {
  label: string;
  tone: 'live' | 'warn' | 'bad' | 'muted';
  title: string;
}

/** What a recording needs the viewer to know before trusting it. */
export function badgesFor(r: Recording): Badge[] {
  const badges: Badge[] = [];
  if (r.live) badges.push({ label: 'LIVE', tone: 'live', title: 'The session is still running.' });
  else if (!r.complete) badges.push({ label: 'incomplete', tone: 'warn', title: 'The recording has no proper end: the session was cut off or the recorder stopped.' });
  switch (r.integrity) {
    case 'modified':
      badges.push({ label: 'modified', tone: 'bad', title: 'The file no longer matches the digest signed when it closed.' });
      break;
    case 'truncated':
      badges.push({ label: 'truncated', tone: 'bad', title: 'The file is shorter than the digest signed when it closed.' });
      break;
    case 'unsigned':
      badges.push({ label: 'unverified', tone: 'warn', title: 'There is no signed digest for this recording, so it cannot be verified.' });
      break;
    case 'pending':
      if (!r.live) badges.push({ label: 'pending', tone: 'muted', title: 'Still being written; its digest is not signed yet.' });
      break;
    default:
      break;
  }
  return badges;
}

export function badgeElement(b: Badge): HTMLElement {
  return h('span', { class: `badge badge-${b.tone}`, title: b.title, text: b.label });
}

/** Text with every case-insensitive occurrence of `needle` marked. */
export function highlighted(text: string, needle: string): HTMLElement {
  const out = h('span');
  const words = needle.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) {
    out.textContent = text;
    return out;
  }
  const pattern = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const at = match.index ?? 0;
    if (at > last) out.append(text.slice(last, at));
    out.append(h('mark', { text: match[0] }));
    last = at + match[0].length;
  }
  out.append(text.slice(last));
  return out;
}

export class RecordingsList {
  readonly el: HTMLElement;
  private readonly listbox: Listbox;
  private readonly search: HTMLInputElement;
  private readonly filterToggle: HTMLButtonElement;
  private readonly filterPanel: HTMLElement;
  private readonly inputs: Record<'user' | 'namespace' | 'pod', HTMLInputElement>;
  private readonly sinceSelect: HTMLSelectElement;
  private readonly footer: HTMLElement;
  private readonly sentinel: HTMLElement;
  private readonly summary: HTMLElement;
  private filters: Filters = { q: '', user: '', namespace: '', pod: '', since: '' };
  private items: Recording[] = [];
  private next: string | null = null;
  private loading = false;
  private generation = 0;
  private debounce = 0;
  private settleTimer = 0;
  private loadedOnce = false;
  private readonly observer: IntersectionObserver;
  private readonly clock: number;

  constructor(
    private readonly onOpen: (recording: Recording) => void,
    private readonly onFiltersChange: (filters: Filters) => void,
    private readonly renderEmpty: () => HTMLElement,
  ) {
    this.listbox = new Listbox({
      label: 'Recordings',
      onActivate: (id) => {
        const found = this.items.find((r) => r.id === id);
        if (found) this.onOpen(found);
      },
      onReachEnd: () => this.loadMore(),
    });

    this.search = h('input', {
      class: 'search-input',
      attrs: { type: 'search', placeholder: 'Search what was on screen', 'aria-label': 'Search recordings by what was on screen', spellcheck: 'false', autocomplete: 'off' },
      on: {
        input: () => this.scheduleSearch(),
        keydown: (e) => {
          const key = (e as KeyboardEvent).key;
          if (key === 'Enter') this.applyNow();
          if (key === 'ArrowDown') {
            e.preventDefault();
            this.listbox.focus();
          }
        },
      },
    });
    const field = (name: 'user' | 'namespace' | 'pod', label: string): HTMLInputElement =>
      h('input', { attrs: { type: 'text', name, 'aria-label': `Filter by ${label}`, placeholder: label, spellcheck: 'false', autocomplete: 'off' }, on: { input: () => this.scheduleSearch() } });
    this.inputs = { user: field('user', 'user'), namespace: field('namespace', 'namespace'), pod: field('pod', 'pod') };
    this.sinceSelect = h(
      'select',
      { attrs: { 'aria-label': 'Time range' }, on: { change: () => this.applyNow() } },
      h('option', { attrs: { value: '' }, text: 'Any time' }),
      ...Object.entries(SINCE).map(([value, { label }]) => h('option', { attrs: { value }, text: label })),
    );
    this.filterPanel = h(
      'div',
      { class: 'filter-panel', attrs: { id: 'filter-panel', role: 'group', 'aria-label': 'Filters' } },
      this.inputs.user,
      this.inputs.namespace,
      this.inputs.pod,
      this.sinceSelect,
      h('button', { class: 'link', text: 'Clear filters', on: { click: () => this.clearFilters() } }),
    );
    this.filterPanel.hidden = true;
    this.filterToggle = h(
      'button',
      {
        class: 'icon-button filter-toggle',
        title: 'Filters',
        attrs: { 'aria-expanded': 'false', 'aria-controls': 'filter-panel', 'aria-label': 'Show filters' },
        on: { click: () => this.toggleFilters() },
      },
      icon('filter'),
      h('span', { class: 'filter-count', attrs: { 'aria-hidden': 'true' } }),
    );

    this.summary = h('p', { class: 'list-summary', attrs: { 'aria-live': 'polite' } });
    this.footer = h('div', { class: 'list-footer' });
    this.sentinel = h('div', { class: 'sentinel', attrs: { 'aria-hidden': 'true' } });
    this.el = h(
      'section',
      { class: 'sidebar-section recordings-section', attrs: { 'aria-labelledby': 'recordings-heading' } },
      h('h2', { attrs: { id: 'recordings-heading' }, text: 'Recordings' }),
      h('div', { class: 'search-row', attrs: { role: 'search' } }, h('span', { class: 'search-icon' }, icon('search')), this.search, this.filterToggle),
      this.filterPanel,
      this.summary,
      this.listbox.el,
      this.footer,
      this.sentinel,
    );
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    });
    this.observer.observe(this.sentinel);
    this.clock = window.setInterval(() => this.refreshDates(), 30_000);
  }

  get currentFilters(): Filters {
    return { ...this.filters };
  }

  /** The search hits the list has for a recording under the current query. */
  hitsFor(id: string): SearchHit[] | undefined {
    return this.filters.q ? this.items.find((r) => r.id === id)?.hits : undefined;
  }

  setSelected(id: string | null): void {
    this.listbox.setSelected(id);
  }

  focusSearch(): void {
    this.search.focus();
    this.search.select();
  }

  focusList(): void {
    this.listbox.focus();
  }

  setQuery(q: string): void {
    this.search.value = q;
    this.applyNow();
  }

  /** Reloads from the first page (query changed). */
  async reload(): Promise<void> {
    this.generation++;
    this.items = [];
    this.next = null;
    this.loading = false;
    this.listbox.setOptions([]);
    await this.load(true);
  }

  /**
   * Picks up new and changed recordings without losing the pages already loaded (a session just
   * started or ended).
   */
  async refresh(): Promise<void> {
    if (!this.loadedOnce) return this.reload();
    const generation = this.generation;
    try {
      const page = await api.recordings(this.query());
      if (generation !== this.generation) return;
      const fresh = new Map(page.items.map((r) => [r.id, r]));
      const kept = this.items.filter((r) => !fresh.has(r.id));
      // Items of the first page replace the old ones; those beyond it stay as loaded.
      this.items = [...page.items, ...kept.filter((r) => this.isBeyondFirstPage(r, page.items))];
      if (this.items.length === page.items.length) this.next = page.next;
      this.render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      // A failed background refresh keeps what is shown; the next event or poll tries again.
    }
  }

  dispose(): void {
    this.observer.disconnect();
    clearInterval(this.clock);
    clearTimeout(this.settleTimer);
  }

  private isBeyondFirstPage(r: Recording, firstPage: Recording[]): boolean {
    const last = firstPage[firstPage.length - 1];
    if (!last || firstPage.length < PAGE_SIZE) return false;
    return (parseDate(r.startedAt) ?? 0) <= (parseDate(last.startedAt) ?? 0);
  }

  private query(cursor?: string): RecordingQuery {
    const f = this.filters;
    const since = SINCE[f.since];
    return {
      q: f.q || undefined,
      user: f.user || undefined,
      namespace: f.namespace || undefined,
      pod: f.pod || undefined,
      from: since ? new Date(Date.now() - since.ms).toISOString() : undefined,
      limit: PAGE_SIZE,
      cursor,
    };
  }

  private readFilters(): Filters {
    return {
      q: this.search.value.trim(),
      user: this.inputs.user.value.trim(),
      namespace: this.inputs.namespace.value.trim(),
      pod: this.inputs.pod.value.trim(),
      since: this.sinceSelect.value,
    };
  }

  private scheduleSearch(): void {
    clearTimeout(this.debounce);
    this.debounce = window.setTimeout(() => this.applyNow(), SEARCH_DEBOUNCE_MS);
  }

  private applyNow(): void {
    clearTimeout(this.debounce);
    const next = this.readFilters();
    const changed = JSON.stringify(next) !== JSON.stringify(this.filters);
    this.filters = next;
    const active = [next.user, next.namespace, next.pod, next.since].filter((v) => v !== '').length;
    const count = this.filterToggle.querySelector('.filter-count');
    if (count) count.textContent = active > 0 ? String(active) : '';
    this.filterToggle.setAttribute('aria-label', active > 0 ? `Show filters (${active} active)` : 'Show filters');
    if (changed) {
      this.onFiltersChange({ ...next });
      void this.reload();
    }
  }

  private toggleFilters(): void {
    const open = this.filterPanel.hidden;
    this.filterPanel.hidden = !open;
    this.filterToggle.setAttribute('aria-expanded', String(open));
    if (open) this.inputs.user.focus();
  }

  private clearFilters(): void {
    for (const input of Object.values(this.inputs)) input.value = '';
    this.sinceSelect.value = '';
    this.applyNow();
  }

  private loadMore(): void {
    if (this.next !== null && !this.loading) void this.load(false);
  }

  private async load(first: boolean): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    const generation = this.generation;
    this.renderFooter('loading');
    try {
      const page = await api.recordings(this.query(first ? undefined : (this.next ?? undefined)));
      if (generation !== this.generation) return;
      const known = new Set(this.items.map((r) => r.id));
      const added = page.items.filter((r) => !known.has(r.id));
      this.items.push(...added);
      this.next = page.next;
      this.loadedOnce = true;
      if (first) this.render();
      else {
        this.listbox.appendOptions(added.map((r) => this.renderItem(r)));
        this.renderFooter('idle');
      }
    } catch (err) {
      if (generation !== this.generation) return;
      this.renderFooter('error', err instanceof Error ? err.message : String(err));
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    // A tall window can show the sentinel with the first page: keep filling until it scrolls.
    if (generation === this.generation && this.next !== null && this.sentinelVisible()) this.loadMore();
  }

  private sentinelVisible(): boolean {
    const rect = this.sentinel.getBoundingClientRect();
    return rect.top < window.innerHeight && rect.bottom > 0;
  }

  private render(): void {
    this.listbox.setOptions(this.items.map((r) => this.renderItem(r)));
    this.renderFooter('idle');
    this.followUnsettled();
  }

  /** Live and just-ended recordings change (length, exit code, signed digest): look again soon. */
  private followUnsettled(): void {
    clearTimeout(this.settleTimer);
    if (this.items.some((r) => r.live || r.integrity === 'pending')) this.settleTimer = window.setTimeout(() => void this.refresh(), SETTLE_POLL_MS);
  }

  private renderFooter(state: 'idle' | 'loading' | 'error', message = ''): void {
    const f = this.filters;
    const filtered = f.q !== '' || f.user !== '' || f.namespace !== '' || f.pod !== '' || f.since !== '';
    if (state === 'loading') {
      replaceChildren(this.footer, h('p', { class: 'muted loading', text: this.items.length === 0 ? 'Loading recordings…' : 'Loading more…' }));
      return;
    }
    if (state === 'error') {
      replaceChildren(
        this.footer,
        h('div', { class: 'inline-error', attrs: { role: 'alert' } }, h('p', { text: `Could not load recordings: ${message}` }), h('button', { text: 'Retry', on: { click: () => void this.load(this.items.length === 0) } })),
      );
      return;
    }
    if (this.items.length === 0) {
      replaceChildren(this.footer, filtered ? h('p', { class: 'list-empty', text: f.q ? `Nothing on screen matched “${f.q}”.` : 'No recordings match these filters.' }) : this.renderEmpty());
      this.summary.textContent = '';
      return;
    }
    const n = this.items.length;
    this.summary.textContent = f.q ? `${n}${this.next ? '+' : ''} recording${n === 1 ? '' : 's'} with “${f.q}”` : '';
    replaceChildren(this.footer, this.next === null && n > 8 ? h('p', { class: 'muted end-of-list', text: `That is all: ${n} recordings.` }) : null);
  }

  private renderItem(r: Recording): HTMLLIElement {
    const who = orUnknown(r.user, 'user');
    const where = podLabel(r.pod, r.container);
    const title = r.command || where;
    const exit = exitStatus(r.exitCode);
    const duration = r.durationMs ?? durationOf(r);
    const badges = badgesFor(r);
    const hits = this.filters.q ? (r.hits ?? []) : [];
    const label = [
      `${title}, ${who} on ${where}`,
      relativeTime(r.startedAt),
      r.live ? 'live' : exit.label,
      ...badges.filter((b) => b.tone !== 'live').map((b) => b.label),
      hits.length > 0 ? `${hits.length} match${hits.length === 1 ? '' : 'es'}` : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    const option = this.listbox.option(r.id, label);
    option.classList.add('recording-item');
    append(
      option,
      h('div', { class: 'row1' }, h('span', { class: 'title mono', text: title }), ...badges.map(badgeElement), h('time', { class: 'when', attrs: { datetime: r.startedAt, 'data-started': r.startedAt }, title: r.startedAt, text: relativeTime(r.startedAt) })),
      h('div', { class: 'row2', text: `${who} · ${where}${r.namespace ? ` · ${r.namespace}` : ''}` }),
      h(
        'div',
        { class: 'row3' },
        h('span', { text: formatDuration(duration) }),
        r.live ? null : h('span', { class: `exit exit-${exit.tone}`, text: exit.label }),
        h('span', { class: 'muted', text: formatBytes(r.bytes) }),
        hits.length > 0 ? h('span', { class: 'hits-count', text: `${hits.length} match${hits.length === 1 ? '' : 'es'}` }) : null,
      ),
      hits[0] ? h('div', { class: 'hit-preview mono' }, highlighted(hits[0].text, this.filters.q)) : null,
    );
    return option;
  }

  private refreshDates(): void {
    for (const el of this.listbox.el.querySelectorAll<HTMLElement>('time.when')) el.textContent = relativeTime(el.dataset.started);
  }
}

function durationOf(r: Recording): number | null {
  const start = parseDate(r.startedAt);
  const end = parseDate(r.endedAt);
  return start !== null && end !== null ? end - start : null;
}
