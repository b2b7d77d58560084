// The always-visible status line: where sessions go and what happens when recording fails,
// e.g. "recording kind-prod · fail-closed · 2 live".

import type { ConsoleStatus } from './api';
import { h, replaceChildren } from './dom';

export function upstreamLabel(status: ConsoleStatus): string {
  const u = status.upstream;
  if (u.kind === 'local') return 'local cluster';
  if (u.kind === 'url' && u.url) {
    try {
      return new URL(u.url).host;
    } catch {
      return u.url;
    }
  }
  return u.name || u.url || 'upstream';
}

export class StatusLine {
  readonly el: HTMLElement;
  private readonly text: HTMLButtonElement;
  private readonly version: HTMLElement;
  private status: ConsoleStatus | null = null;
  private live = 0;
  private problem: string | null = null;

  constructor(onOpenSettings: () => void) {
    this.text = h('button', { class: 'status-text', attrs: { 'aria-label': 'Recording status; open settings' }, on: { click: onOpenSettings } });
    this.version = h('span', { class: 'muted version' });
    this.el = h('footer', { class: 'status-line', attrs: { role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' } }, this.text, this.version);
    this.render();
  }

  setStatus(status: ConsoleStatus): void {
    this.status = status;
    this.live = status.live;
    this.problem = null;
    this.render();
  }

  setLiveCount(count: number): void {
    if (count === this.live) return;
    this.live = count;
    this.render();
  }

  setProblem(message: string | null): void {
    if (message === this.problem) return;
    this.problem = message;
    this.render();
  }

  private render(): void {
    const s = this.status;
    this.el.classList.toggle('has-problem', this.problem !== null);
    if (this.problem !== null) {
      replaceChildren(this.text, h('span', { class: 'dot dot-bad', attrs: { 'aria-hidden': 'true' } }), this.problem);
      return;
    }
    if (!s) {
      replaceChildren(this.text, h('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }), 'Connecting to kubecast…');
      return;
    }
    const parts: Array<Node | string> = [
      h('span', { class: `dot ${this.live > 0 ? 'dot-live' : 'dot-ok'}`, attrs: { 'aria-hidden': 'true' } }),
      'recording ',
      h('code', { class: 'upstream', text: upstreamLabel(s), title: s.upstream.url ?? s.upstream.name }),
      ' · ',
      h('span', { class: s.policy === 'fail-open' ? 'policy-open' : 'policy-closed', text: s.policy }),
      ' · ',
      `${this.live} live`,
    ];
    if (s.recordStdin) parts.push(' · ', h('span', { class: 'policy-open', text: 'keystrokes recorded' }));
    replaceChildren(this.text, ...parts);
    this.version.textContent = s.version ? `kubecast ${s.version}` : '';
  }
}
