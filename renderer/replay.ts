// Main area: a recording replayed with asciinema-player, the activity timeline above it, search hits
// beside it (also as markers on the player's own bar) and the details below. A recording that fits
// comfortably is fetched once and parsed once, and the player gets the parsed events as in-memory
// data. A long one with a seek index (seek-index.ts) plays from the index instead: the player loads
// one segment (a keyframe and the events after it) at a time, so starting and seeking never wait
// for the whole file, and the timeline's activity comes from the index.

import * as AsciinemaPlayer from 'asciinema-player';
import { ApiError, api, type Recording, type SearchHit } from './api';
import { activityBuckets, CastParseError, loadCast, TimeMap, type CastModel } from './cast-model';
import { fileDetails, recordingDetails } from './details';
import { h, icon, replaceChildren, toast } from './dom';
import { formatBytes, formatClock, orUnknown, podLabel, relativeTime, absoluteTime } from './format';
import { badgeElement, badgesFor, highlighted } from './recordings-list';
import { fetchSeekIndex, SEEK_INDEX_MIN_BYTES, seekActivity, seekIndexUrl, type SeekIndex } from './seek-index';
import { ActivityTimeline, type TimelineMark } from './timeline';

/** Above this a cast does not fit in one JavaScript string with room to spare (V8 caps strings near 512 Mi chars). */
export const MAX_REPLAY_BYTES = 400 * 1024 * 1024;

const SPEEDS = [0.5, 1, 1.5, 2, 4, 8];
const IDLE_LIMITS: Array<[number | null, string]> = [
  [null, 'Real time'],
  [0.5, 'Skip pauses over 0.5 s'],
  [1, 'Skip pauses over 1 s'],
  [2, 'Skip pauses over 2 s'],
  [5, 'Skip pauses over 5 s'],
];

export type ReplaySource = { kind: 'library'; recording: Recording } | { kind: 'local'; name: string; size: number; model: CastModel };

export interface ReplayCallbacks {
  onDeleted(id: string): void;
}

interface PlayerState {
  speed: number;
  idleLimit: number | null;
}

export class ReplayView {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private readonly notices: HTMLElement;
  private readonly hitsPanel: HTMLElement;
  private readonly timeLabel: HTMLElement;
  private readonly playerHost: HTMLElement;
  private readonly timelineHost: HTMLElement;
  private readonly detailsHost: HTMLElement;
  private readonly speedSelect: HTMLSelectElement;
  private readonly idleSelect: HTMLSelectElement;
  private model: CastModel | null = null;
  /** Set instead of `model` when the recording plays from its seek index. */
  private seek: SeekIndex | null = null;
  /** The recording is long but its index is still being built: it loads whole this time. */
  private indexPending = false;
  private map: TimeMap | null = null;
  private player: AsciinemaPlayer.Player | null = null;
  private timeline: ActivityTimeline | null = null;
  private query = '';
  private hits: SearchHit[] = [];
  private state: PlayerState = { speed: 1, idleLimit: null };
  private frame = 0;
  private disposed = false;
  private playing = false;
  private lastShownTime = -1;

  constructor(
    private readonly source: ReplaySource,
    private readonly callbacks: ReplayCallbacks,
  ) {
    this.notices = h('div', { class: 'notices' });
    this.timeLabel = h('span', { class: 'time-label mono', attrs: { 'aria-live': 'off' }, text: '0:00.0' });
    this.speedSelect = h(
      'select',
      { attrs: { 'aria-label': 'Playback speed' }, on: { change: () => this.rebuild({ speed: Number(this.speedSelect.value) }) } },
      ...SPEEDS.map((s) => h('option', { attrs: { value: s, selected: s === 1 }, text: `${s}×` })),
    );
    this.idleSelect = h(
      'select',
      {
        attrs: { 'aria-label': 'Idle time limit' },
        on: { change: () => this.rebuild({ idleLimit: this.idleSelect.value === '' ? null : Number(this.idleSelect.value) }) },
      },
      ...IDLE_LIMITS.map(([value, label]) => h('option', { attrs: { value: value ?? '' }, text: label })),
    );
    this.playerHost = h('div', { class: 'player-host', attrs: { role: 'region', 'aria-label': 'Recording player. Space plays or pauses; arrow keys seek.' } });
    this.timelineHost = h('div', { class: 'timeline-host' });
    this.hitsPanel = h('aside', { class: 'hits-panel', attrs: { 'aria-label': 'Search hits and markers' } });
    this.detailsHost = h('div', { class: 'details-host' });
    this.body = h('div', { class: 'replay-body' }, h('p', { class: 'muted loading', attrs: { role: 'status' }, text: 'Loading the recording…' }));

    this.el = h(
      'article',
      { class: 'view replay-view', attrs: { 'aria-labelledby': 'replay-title', 'data-state': 'loading', 'data-time': '0' } },
      this.header(),
      this.notices,
      this.body,
      this.detailsHost,
    );
  }

  /** Loads (library) or takes (local file) the cast and builds the player. Call once the element is in the document. */
  async start(query: string, hits: SearchHit[] | undefined): Promise<void> {
    this.query = query;
    this.hits = hits ?? [];
    try {
      if (this.source.kind === 'local') this.model = this.source.model;
      else {
        const r = this.source.recording;
        if (!r.live && r.bytes >= SEEK_INDEX_MIN_BYTES) {
          const found = await fetchSeekIndex(r.id);
          if (found.state === 'ready') this.seek = found.index;
          else this.indexPending = found.state === 'building';
        }
        if (!this.seek && !this.disposed) this.model = await this.fetchModel(r);
      }
    } catch (err) {
      if (this.disposed) return;
      this.el.dataset.state = 'error';
      replaceChildren(this.body, this.errorBox(err));
      return;
    }
    if (this.disposed || (!this.model && !this.seek)) return;
    this.el.dataset.source = this.seek ? 'segments' : 'file';
    if (this.seek) {
      // The segmented format has no idle-time limiter: segments keep the recording's own times.
      this.state.idleLimit = null;
      this.idleSelect.disabled = true;
      this.idleSelect.title = 'Long recordings play from their seek index in real time: pauses cannot be skipped.';
    } else if (this.model) {
      this.state.idleLimit = this.model.header.idleTimeLimit ?? null;
      this.ensureIdleOption(this.state.idleLimit);
    }
    this.idleSelect.value = this.state.idleLimit === null ? '' : String(this.state.idleLimit);
    this.showNotices();
    replaceChildren(
      this.body,
      this.timelineHost,
      h(
        'div',
        { class: 'replay-main' },
        h(
          'div',
          { class: 'player-column' },
          this.playerHost,
          h(
            'div',
            { class: 'player-toolbar' },
            h('label', {}, h('span', { class: 'visually-hidden', text: 'Speed' }), this.speedSelect),
            h('label', {}, h('span', { class: 'visually-hidden', text: 'Pauses' }), this.idleSelect),
            this.timeLabel,
            this.shortcutsHelp(),
          ),
        ),
        this.hitsPanel,
      ),
    );
    replaceChildren(
      this.detailsHost,
      this.source.kind === 'library' ? recordingDetails(this.source.recording, this.model) : fileDetails(this.source.name, this.source.size, this.source.model),
    );
    this.build(null, true);
    this.el.dataset.state = 'ready';
    this.loop();
  }

  /** The sidebar's query changed: new hits beside the player and on its bar. */
  setHits(query: string, hits: SearchHit[] | undefined): void {
    const before = JSON.stringify(this.marks());
    this.query = query;
    this.hits = hits ?? [];
    if ((!this.model && !this.seek) || !this.player) return;
    this.renderHits();
    const marks = this.marks();
    this.timeline?.setMarks(marks);
    // The player takes markers only when created: recreate it, but only if they changed.
    if (JSON.stringify(marks) !== before) this.rebuild({});
  }

  /** The library recording shown, or null for a local file. */
  get recording(): Recording | null {
    return this.source.kind === 'library' ? this.source.recording : null;
  }

  focus(): void {
    this.playerHost.querySelector<HTMLElement>('.ap-player')?.focus();
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
    this.timeline?.dispose();
    this.player?.dispose();
    this.player = null;
  }

  // --- loading ---------------------------------------------------------------------------

  private async fetchModel(r: Recording): Promise<CastModel> {
    if (r.bytes > MAX_REPLAY_BYTES) {
      throw new Error(`This recording is ${formatBytes(r.bytes)}, too large to replay in the window. Play it in a terminal with \`kubecast play ${r.id}\`, or export it with \`kubecast export ${r.id} --format txt\`.`);
    }
    const status = this.body.querySelector('.loading');
    const response = await fetch(api.castUrl(r.id), { credentials: 'same-origin', cache: 'no-store' });
    if (!response.ok) throw new ApiError(response.status, response.status === 404 ? 'This recording is no longer in the library.' : `The cast could not be loaded (${response.status}).`);
    let text: string;
    if (response.body && status) {
      // Streamed so a big recording shows progress instead of a frozen "Loading…".
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parts: string[] = [];
      let chars = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        chars += value.length;
        if (chars > MAX_REPLAY_BYTES) {
          await reader.cancel();
          throw new Error(`This recording is too large to replay in the window. Use \`kubecast play ${r.id}\`.`);
        }
        status.textContent = `Loading the recording… ${formatBytes(chars)}${r.bytes > 0 ? ` of ${formatBytes(r.bytes)}` : ''}`;
      }
      text = parts.join('');
    } else text = await response.text();
    if (status) status.textContent = 'Preparing the replay…';
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the message paint before a long parse
    return loadCast(text);
  }

  private errorBox(err: unknown): HTMLElement {
    const message = err instanceof CastParseError ? `The file is not a valid asciicast recording: ${err.message}.` : err instanceof Error ? err.message : String(err);
    return h('div', { class: 'error-box', attrs: { role: 'alert' } }, h('h2', { text: 'This recording cannot be replayed' }), h('p', { text: message }));
  }

  // --- player ----------------------------------------------------------------------------

  private build(startAtRecordingTime: number | null, autoPlay: boolean): void {
    if (this.seek) {
      this.buildSegmented(this.seek, startAtRecordingTime, autoPlay);
      return;
    }
    const model = this.model;
    if (!model) return;
    this.map = new TimeMap(model.events, this.state.idleLimit, model.duration);
    const map = this.map;
    this.el.dataset.duration = map.recordingDuration.toFixed(3);
    const header: Record<string, unknown> = { version: 2, width: model.header.cols, height: model.header.rows };
    if (model.header.theme) header.theme = model.header.theme;
    const data: unknown[] = [header, ...model.events];
    const markers = this.marks().map((m): [number, string] => [m.time, m.label]);
    this.player?.dispose();
    replaceChildren(this.playerHost);
    const player = AsciinemaPlayer.create({ data }, this.playerHost, {
      cols: model.header.cols,
      rows: model.header.rows,
      autoPlay,
      preload: true,
      speed: this.state.speed,
      idleTimeLimit: this.state.idleLimit ?? undefined,
      // startAt is in recording time: the player applies its idle limiter to it.
      startAt: startAtRecordingTime ?? undefined,
      markers: markers.length > 0 ? markers : undefined,
      theme: 'auto/kubecast',
      fit: 'width',
      controls: true,
      terminalFontFamily: 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace',
    });
    this.attach(player);
    this.showTimeline(map, model.duration, model.outputChars, (count) => activityBuckets(model.events, map, count));
  }

  /**
   * The player on a seek index (asciinema-player's segmented source): it fetches the index, then
   * only the segment it starts in, and on a seek only the segment of the target. Player markers
   * come from the index (the server adds the search hits when asked with the query).
   */
  private buildSegmented(seek: SeekIndex, startAtRecordingTime: number | null, autoPlay: boolean): void {
    const map = new TimeMap([], null, seek.duration);
    this.map = map;
    this.el.dataset.duration = map.recordingDuration.toFixed(3);
    const id = this.source.kind === 'library' ? this.source.recording.id : '';
    // Not in the player's typings (3.17+, undocumented), hence a variable rather than a literal.
    const src = { url: seekIndexUrl(id, this.hits.length > 0 ? this.query : ''), format: 'segmented' as const };
    this.player?.dispose();
    replaceChildren(this.playerHost);
    // No cols/rows: the player would force that size on every keyframe and resize (its
    // effectiveSize), and a keyframe taken after a resize must be replayed at its own size.
    const player = AsciinemaPlayer.create(src, this.playerHost, {
      autoPlay,
      preload: true,
      speed: this.state.speed,
      startAt: startAtRecordingTime ?? undefined,
      theme: 'auto/kubecast',
      fit: 'width',
      controls: true,
      terminalFontFamily: 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, "DejaVu Sans Mono", monospace',
    });
    this.attach(player);
    this.showTimeline(map, seek.duration, seek.outputChars, (count) => seekActivity(seek, count));
  }

  private attach(player: AsciinemaPlayer.Player): void {
    player.addEventListener('play', () => {
      this.playing = true;
    });
    player.addEventListener('playing', () => {
      this.playing = true;
    });
    player.addEventListener('pause', () => {
      this.playing = false;
    });
    player.addEventListener('ended', () => {
      this.playing = false;
    });
    this.player = player;
  }

  private showTimeline(map: TimeMap, duration: number, outputChars: number, volume: (count: number) => Float64Array): void {
    this.timeline?.dispose();
    this.timeline = new ActivityTimeline({
      duration: map.playerDuration,
      volume,
      onSeek: (t) => void this.seekPlayer(t),
      display: (t) => map.toRecording(t),
    });
    this.timeline.setMarks(this.marks());
    replaceChildren(
      this.timelineHost,
      h('div', { class: 'timeline-label' }, h('span', { text: 'Activity' }), h('span', { class: 'muted', text: `${formatClock(duration)} · ${formatBytes(outputChars)} of output` })),
      this.timeline.el,
    );
    this.renderHits();
  }

  /** The recording's own markers, [recording seconds, label]. */
  private recordingMarkers(): Array<[number, string]> {
    return this.model?.markers ?? this.seek?.markers ?? [];
  }

  /** Recreates the player with new options, keeping the position and whether it was playing. */
  private rebuild(change: Partial<PlayerState>): void {
    if (!this.player || !this.map) return;
    const at = this.map.toRecording(this.player.getCurrentTime() ?? 0);
    const wasPlaying = this.playing;
    this.state = { ...this.state, ...change };
    this.build(at > 0 ? at : null, wasPlaying);
    // startAt only takes effect when playback starts; a paused player is moved there explicitly.
    if (!wasPlaying && at > 0 && this.player && this.map) void this.seekPlayer(this.map.toPlayer(at));
  }

  /** Seeks to a player time, keeping play/pause as it was. */
  private async seekPlayer(playerTime: number): Promise<void> {
    const player = this.player;
    if (!player) return;
    await player.seek(Math.max(0, playerTime));
    this.showTime(true);
  }

  /** Jumps to a moment in recording time and stays there, so the screen can be read. */
  private async jumpTo(recordingTime: number): Promise<void> {
    const player = this.player;
    if (!player || !this.map) return;
    if (this.playing) await player.pause();
    await player.seek(this.map.toPlayer(recordingTime));
    this.showTime(true);
    this.focus();
  }

  private loop(): void {
    if (this.disposed) return;
    this.showTime(false);
    this.frame = requestAnimationFrame(() => this.loop());
  }

  private showTime(force: boolean): void {
    const player = this.player;
    const map = this.map;
    if (!player || !map) return;
    const t = player.getCurrentTime() ?? 0;
    if (!force && Math.abs(t - this.lastShownTime) < 0.05) return;
    this.lastShownTime = t;
    const recordingTime = map.toRecording(t);
    this.timeline?.setTime(t);
    this.timeLabel.textContent = `${formatClock(recordingTime)} / ${formatClock(map.recordingDuration)}`;
    this.el.dataset.time = recordingTime.toFixed(3);
  }

  private marks(): TimelineMark[] {
    const map = this.map;
    if ((!this.model && !this.seek) || !map) return [];
    const marks: TimelineMark[] = this.recordingMarkers().map(([time, label]) => ({ time: map.toPlayer(time), label: label || 'marker', kind: 'marker' }));
    for (const hit of this.hits) marks.push({ time: map.toPlayer(hit.time), label: `“${this.query}”: ${hit.text.trim().slice(0, 80)}`, kind: 'hit' });
    return marks.sort((a, b) => a.time - b.time);
  }

  // --- side panel and chrome -------------------------------------------------------------

  private renderHits(): void {
    if (!this.model && !this.seek) return;
    const markers = this.recordingMarkers();
    const children: HTMLElement[] = [];
    if (this.source.kind === 'library') {
      if (this.query === '') {
        children.push(h('h2', { text: 'Search hits' }), h('p', { class: 'muted', text: 'Search in the sidebar to list every moment a word was on screen. Matches also appear as marks on the timelines; [ and ] jump between them in the player.' }));
      } else if (this.hits.length === 0) {
        children.push(h('h2', { text: 'Search hits' }), h('p', { class: 'muted', text: `“${this.query}” was not on screen in this recording.` }));
      } else {
        children.push(
          h('h2', { text: `${this.hits.length} match${this.hits.length === 1 ? '' : 'es'} for “${this.query}”` }),
          h('ol', { class: 'hit-list' }, ...this.hits.map((hit) => h('li', {}, this.hitButton(hit.time, hit.text, this.query)))),
        );
      }
    } else {
      children.push(h('h2', { text: 'Local file' }), h('p', { class: 'muted', text: 'Played from your disk; it is not added to the library, and search covers the library only.' }));
    }
    if (markers.length > 0) {
      children.push(h('h2', { text: 'Markers' }), h('ol', { class: 'hit-list' }, ...markers.map(([time, label]) => h('li', {}, this.hitButton(time, label || 'marker', '')))));
    }
    replaceChildren(this.hitsPanel, ...children);
  }

  private hitButton(time: number, text: string, query: string): HTMLButtonElement {
    return h(
      'button',
      { class: 'hit', attrs: { 'data-time': time, 'aria-label': `Jump to ${formatClock(time)}: ${text}` }, on: { click: () => void this.jumpTo(time) } },
      h('span', { class: 'hit-time mono', text: formatClock(time) }),
      h('span', { class: 'hit-text mono' }, highlighted(text.trim(), query)),
    );
  }

  private header(): HTMLElement {
    if (this.source.kind === 'local') {
      return h(
        'header',
        { class: 'view-header' },
        h('div', { class: 'title-row' }, h('span', { class: 'badge badge-muted', text: 'LOCAL FILE' }), h('h1', { class: 'mono', attrs: { id: 'replay-title' }, text: this.source.name })),
        h('p', { class: 'subtitle', text: `${formatBytes(this.source.size)} · played from your disk, not added to the library` }),
      );
    }
    const r = this.source.recording;
    const where = podLabel(r.pod, r.container);
    const actions = h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button', attrs: { href: api.castUrl(r.id), download: `kubecast-${r.id}.cast`, 'aria-label': 'Download the recording (.cast)' } }, icon('download'), '.cast'),
      h('a', { class: 'button', attrs: { href: api.textUrl(r.id), download: `kubecast-${r.id}.txt`, 'aria-label': 'Download the transcript (.txt)' } }, icon('download'), '.txt'),
      r.live ? null : h('button', { class: 'danger-outline', attrs: { 'aria-label': 'Delete this recording' }, on: { click: () => void this.confirmDelete(r) } }, icon('trash'), 'Delete'),
    );
    return h(
      'header',
      { class: 'view-header' },
      h('div', { class: 'title-row' }, ...badgesFor(r).map(badgeElement), h('h1', { class: 'mono', attrs: { id: 'replay-title' }, text: r.command || where }), actions),
      h('p', { class: 'subtitle' }, `${orUnknown(r.user, 'user')} · ${where}${r.namespace ? ` · ${r.namespace}` : ''}${r.cluster ? ` · ${r.cluster}` : ''} · `, h('time', { attrs: { datetime: r.startedAt }, title: absoluteTime(r.startedAt), text: relativeTime(r.startedAt) })),
    );
  }

  private showNotices(): void {
    const notes: HTMLElement[] = [];
    if (this.source.kind === 'library') {
      const r = this.source.recording;
      if (r.integrity === 'modified' || r.integrity === 'truncated') {
        notes.push(h('div', { class: 'notice notice-bad', attrs: { role: 'alert' }, text: `This recording was ${r.integrity} after it was signed: what you see may not be what happened. Check it with \`kubecast verify ${r.id}\`.` }));
      }
      if (r.live) notes.push(h('div', { class: 'notice', text: 'The session is still running: this replay stops where the recording was when you opened it.' }));
      else if (!r.complete) notes.push(h('div', { class: 'notice notice-warn', text: 'This recording is incomplete: the session was cut off or the recorder stopped before its end.' }));
    }
    const truncated = this.model?.truncated ?? this.seek?.truncated ?? false;
    if (truncated) notes.push(h('div', { class: 'notice notice-warn', text: 'The last line of the file was cut short (a crash while writing?); everything before it plays.' }));
    if (this.model && this.model.events.length === 0) notes.push(h('div', { class: 'notice', text: 'This recording has no output.' }));
    if (this.indexPending) notes.push(h('div', { class: 'notice', text: 'This long recording is still being indexed for fast seeking, so it was loaded whole this time.' }));
    replaceChildren(this.notices, ...notes);
  }

  private shortcutsHelp(): HTMLElement {
    const keys: Array<[string, string]> = [
      ['Space', 'play / pause'],
      ['← →', '5 seconds back / forward'],
      ['Shift + ← →', '10 % back / forward'],
      ['0 … 9', 'jump to 0 % … 90 %'],
      ['[ ]', 'previous / next match or marker'],
      [', .', 'one frame back / forward (paused)'],
      ['f', 'full screen'],
    ];
    return h(
      'details',
      { class: 'shortcuts' },
      h('summary', { text: 'Keyboard shortcuts' }),
      h('dl', {}, ...keys.flatMap(([k, what]) => [h('dt', {}, h('kbd', { text: k })), h('dd', { text: what })])),
      h('p', { class: 'muted', text: 'Click the player first so it has the keyboard focus.' }),
    );
  }

  private ensureIdleOption(limit: number | null): void {
    if (limit === null || IDLE_LIMITS.some(([value]) => value === limit)) return;
    this.idleSelect.append(h('option', { attrs: { value: limit }, text: `Skip pauses over ${limit} s (recording’s own)` }));
  }

  private async confirmDelete(r: Recording): Promise<void> {
    const dialog = h('dialog', { class: 'confirm', attrs: { 'aria-labelledby': 'confirm-title' } });
    const cancel = h('button', { text: 'Keep it', attrs: { value: 'cancel', autofocus: true } });
    const confirm = h('button', { class: 'danger', text: 'Delete recording', attrs: { value: 'delete' } });
    const form = h(
      'form',
      { attrs: { method: 'dialog' } },
      h('h2', { attrs: { id: 'confirm-title' }, text: 'Delete this recording?' }),
      h('p', { text: `${r.command || podLabel(r.pod, r.container)} by ${orUnknown(r.user, 'user')}, ${relativeTime(r.startedAt)}. The cast file and its index entry are removed; this cannot be undone.` }),
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    );
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
    const choice = await new Promise<string>((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
    dialog.remove();
    if (choice !== 'delete') return;
    try {
      await api.deleteRecording(r.id);
      toast('Recording deleted.');
      this.callbacks.onDeleted(r.id);
    } catch (err) {
      toast(`Could not delete: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
  }
}

