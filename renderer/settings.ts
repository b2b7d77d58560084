// Settings: where sessions go (upstream), where recordings go (recorders), what happens when they
// cannot be recorded, stdin, retention and the data folder. Saved by the server in the data
// folder and applied without a restart where it can.

import { api, type ConsoleSettings, type KubeContext } from './api';
import { h, replaceChildren } from './dom';

export interface SettingsCallbacks {
  onSaved(): void;
}

type UpstreamKind = 'local' | 'context' | 'url';

/** Select value for "the current context" (a context name cannot contain a NUL). */
const CURRENT = '\u0000current';

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export class SettingsView {
  readonly el: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly status: HTMLElement;
  private loaded: ConsoleSettings | null = null;
  private contexts: KubeContext[] = [];
  private contextsError = '';

  constructor(private readonly callbacks: SettingsCallbacks) {
    this.status = h('p', { class: 'form-status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.form = h('form', { class: 'settings-form', attrs: { novalidate: true }, on: { submit: (e) => this.onSubmit(e) } }, h('p', { class: 'muted loading', text: 'Loading settings…' }));
    this.el = h(
      'article',
      { class: 'view settings-view', attrs: { 'aria-labelledby': 'settings-title' } },
      h('header', { class: 'view-header' }, h('h1', { attrs: { id: 'settings-title' }, text: 'Settings' }), h('p', { class: 'subtitle', text: 'Saved in the data folder. Changes apply to the next session without a restart, unless noted.' })),
      this.form,
    );
  }

  async start(): Promise<void> {
    try {
      const [settings, contexts] = await Promise.all([
        api.settings(),
        api.contexts().catch((err: unknown) => {
          this.contextsError = err instanceof Error ? err.message : String(err);
          return [] as KubeContext[];
        }),
      ]);
      this.loaded = settings;
      this.contexts = contexts;
      this.render(settings);
    } catch (err) {
      replaceChildren(this.form, h('div', { class: 'error-box', attrs: { role: 'alert' } }, h('p', { text: `Settings could not be loaded: ${err instanceof Error ? err.message : String(err)}` }), h('button', { attrs: { type: 'button' }, text: 'Retry', on: { click: () => void this.start() } })));
    }
  }

  dispose(): void {
    // Nothing to release: the form holds no timers or sockets.
  }

  focus(): void {
    this.form.querySelector<HTMLElement>('input, select, textarea')?.focus();
  }

  private render(s: ConsoleSettings): void {
    const kind: UpstreamKind = s.upstream === 'local' ? 'local' : s.upstream === 'current' || s.upstream.startsWith('context:') ? 'context' : 'url';
    // 'current' follows whatever context the kubeconfig names as current.
    const contextName = s.upstream === 'current' ? CURRENT : kind === 'context' ? s.upstream.slice('context:'.length) : '';
    const radio = (name: string, value: string, checked: boolean, label: string, hint?: string): HTMLElement =>
      h(
        'label',
        { class: 'choice' },
        h('input', { attrs: { type: 'radio', name, value, checked } }),
        h('span', {}, h('span', { class: 'choice-label', text: label }), hint ? h('span', { class: 'hint', text: hint }) : null),
      );

    const contextSelect = h(
      'select',
      { attrs: { name: 'context', 'aria-label': 'Kubeconfig context', disabled: this.contexts.length === 0 && contextName === '' } },
      h('option', { attrs: { value: CURRENT, selected: contextName === CURRENT }, text: 'The kubeconfig’s current context' }),
      ...this.contexts.map((c) => h('option', { attrs: { value: c.name, selected: c.name === contextName }, text: `${c.name}${c.server ? ` — ${c.server}` : ''}` })),
    );
    if (contextName && contextName !== CURRENT && !this.contexts.some((c) => c.name === contextName)) {
      contextSelect.append(h('option', { attrs: { value: contextName, selected: true }, text: `${contextName} (not in the kubeconfig now)` }));
      contextSelect.disabled = false;
    }
    const urlInput = h('input', { attrs: { type: 'url', name: 'upstreamUrl', 'aria-label': 'API server URL', placeholder: 'https://kubernetes.example:6443', value: kind === 'url' ? s.upstream : '', spellcheck: 'false' } });

    const recorders = h('textarea', { attrs: { name: 'recorders', rows: 3, spellcheck: 'false', 'aria-describedby': 'recorders-hint', placeholder: 'Empty: the embedded recorder' } });
    recorders.value = s.recorders.join('\n');
    const retain = h('input', { attrs: { type: 'number', name: 'retainDays', min: 1, step: 1, inputmode: 'numeric', 'aria-describedby': 'retain-hint', value: s.retainDays ?? '' } });
    const dataDir = h('input', { attrs: { type: 'text', name: 'dataDir', value: s.dataDir, spellcheck: 'false', 'aria-describedby': 'data-hint' } });
    const stdin = h('input', { attrs: { type: 'checkbox', name: 'recordStdin', checked: s.recordStdin, 'aria-describedby': 'stdin-hint' } });

    replaceChildren(
      this.form,
      h(
        'fieldset',
        {},
        h('legend', { text: 'Upstream: where kubectl sessions go' }),
        radio('upstream', 'local', kind === 'local', 'Built-in local cluster', 'Pods are local processes on this machine, running as your user.'),
        h('div', { class: 'choice-with-field' }, radio('upstream', 'context', kind === 'context', 'A context from your kubeconfig'), contextSelect),
        this.contexts.length === 0 ? h('p', { class: 'hint indent', text: this.contextsError ? `Contexts could not be read: ${this.contextsError}` : 'No contexts found in your kubeconfig.' }) : null,
        h('div', { class: 'choice-with-field' }, radio('upstream', 'url', kind === 'url', 'API server URL'), urlInput),
      ),
      h(
        'fieldset',
        {},
        h('legend', { text: 'Recorders' }),
        h('label', { class: 'field' }, h('span', { text: 'Recorder URLs, one per line, tried in order' }), recorders),
        h('p', { class: 'hint', attrs: { id: 'recorders-hint' }, text: 'Leave empty to record into this app’s own library.' }),
      ),
      h(
        'fieldset',
        {},
        h('legend', { text: 'When a session cannot be recorded' }),
        radio('policy', 'fail-closed', s.policy === 'fail-closed', 'Refuse the session (fail-closed)', 'Recommended: nothing runs unrecorded. kubectl prints why.'),
        radio('policy', 'fail-open', s.policy === 'fail-open', 'Let it run unrecorded (fail-open)', 'The session goes on; the gap is logged.'),
      ),
      h(
        'fieldset',
        {},
        h('legend', { text: 'Recording' }),
        h('label', { class: 'choice' }, stdin, h('span', {}, h('span', { class: 'choice-label', text: 'Record keystrokes (stdin)' }), h('span', { class: 'hint', attrs: { id: 'stdin-hint' }, text: 'Off by default: typed passwords would end up in recordings.' }))),
        h('label', { class: 'field' }, h('span', { text: 'Keep recordings for (days)' }), retain),
        h('p', { class: 'hint', attrs: { id: 'retain-hint' }, text: 'Empty: keep them forever. Older recordings are deleted in the background.' }),
        h('label', { class: 'field' }, h('span', { text: 'Data folder' }), dataDir),
        h('p', { class: 'hint', attrs: { id: 'data-hint' }, text: 'Recordings, the index, keys and the kubeconfig live here. A new folder is used after kubecast restarts; recordings made so far stay in the old one.' }),
      ),
      h('div', { class: 'form-actions' }, h('button', { class: 'primary', attrs: { type: 'submit' }, text: 'Save' }), h('button', { attrs: { type: 'button' }, text: 'Revert', on: { click: () => this.loaded && this.render(this.loaded) } }), this.status),
    );
    // Choosing a context or typing a URL selects its radio button.
    contextSelect.addEventListener('change', () => this.check('upstream', 'context'));
    urlInput.addEventListener('input', () => this.check('upstream', 'url'));
  }

  private check(name: string, value: string): void {
    const input = this.form.querySelector<HTMLInputElement>(`input[name="${name}"][value="${value}"]`);
    if (input) input.checked = true;
  }

  private read(): { settings: ConsoleSettings } | { error: string; field: string } {
    const data = new FormData(this.form);
    const kind = String(data.get('upstream') ?? 'local') as UpstreamKind;
    let upstream = 'local';
    if (kind === 'context') {
      const name = String(data.get('context') ?? '');
      if (!name) return { error: 'Choose a kubeconfig context.', field: 'context' };
      upstream = name === CURRENT ? 'current' : `context:${name}`;
    } else if (kind === 'url') {
      const url = String(data.get('upstreamUrl') ?? '').trim();
      if (!isHttpUrl(url)) return { error: 'The API server URL must start with http:// or https://.', field: 'upstreamUrl' };
      upstream = url;
    }
    const recorders = String(data.get('recorders') ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    const badRecorder = recorders.find((r) => !isHttpUrl(r));
    if (badRecorder) return { error: `Not a recorder URL: ${badRecorder}`, field: 'recorders' };
    const retainText = String(data.get('retainDays') ?? '').trim();
    const retainDays = retainText === '' ? null : Number(retainText);
    if (retainDays !== null && (!Number.isInteger(retainDays) || retainDays < 1)) return { error: 'Days to keep recordings must be a whole number of at least 1, or empty.', field: 'retainDays' };
    const dataDir = String(data.get('dataDir') ?? '').trim();
    if (dataDir === '') return { error: 'The data folder cannot be empty.', field: 'dataDir' };
    return {
      settings: {
        upstream,
        recorders,
        policy: data.get('policy') === 'fail-open' ? 'fail-open' : 'fail-closed',
        recordStdin: data.get('recordStdin') !== null,
        retainDays,
        dataDir,
      },
    };
  }

  private async onSubmit(event: Event): Promise<void> {
    event.preventDefault();
    for (const el of this.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const result = this.read();
    if ('error' in result) {
      this.status.textContent = result.error;
      this.status.className = 'form-status error';
      const field = this.form.querySelector<HTMLElement>(`[name="${result.field}"]`);
      field?.setAttribute('aria-invalid', 'true');
      field?.focus();
      return;
    }
    const submit = this.form.querySelector<HTMLButtonElement>('button[type="submit"]');
    if (submit) submit.disabled = true;
    this.status.className = 'form-status';
    this.status.textContent = 'Saving…';
    try {
      const answer = await api.saveSettings(result.settings);
      if (answer.error) {
        // The server refuses the whole change: nothing was saved and the running settings stand.
        this.status.className = 'form-status error';
        this.status.textContent = `Not saved, nothing changed: ${answer.error}`;
        return;
      }
      this.loaded = result.settings;
      this.status.className = `form-status ${answer.restartRequired ? 'warn' : 'ok'}`;
      this.status.textContent = answer.restartRequired
        ? 'Saved. The new data folder is used after kubecast restarts; the rest applies to the next session.'
        : answer.applied
          ? 'Saved and applied: the next session uses these settings.'
          : 'Saved.';
      this.callbacks.onSaved();
    } catch (err) {
      this.status.className = 'form-status error';
      this.status.textContent = `Not saved: ${err instanceof Error ? err.message : String(err)}`;
    } finally {
      if (submit) submit.disabled = false;
    }
  }
}
