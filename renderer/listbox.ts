// A keyboard-navigable list (WAI-ARIA listbox with a roving tabindex): one Tab stop for the whole
// list, arrows/Home/End/PageUp/PageDown move, Enter or Space opens, a click opens.

import { h } from './dom';

export interface ListboxOptions {
  label: string;
  onActivate(id: string): void;
  /** Called when focus reaches the last item (infinite scroll may load more). */
  onReachEnd?(): void;
}

export class Listbox {
  readonly el: HTMLUListElement;
  private selectedId: string | null = null;

  constructor(private readonly options: ListboxOptions) {
    this.el = h('ul', { class: 'listbox', attrs: { role: 'listbox', 'aria-label': options.label } });
    this.el.addEventListener('keydown', (event) => this.onKey(event));
    this.el.addEventListener('click', (event) => {
      const option = (event.target as Element).closest<HTMLElement>('[role="option"]');
      if (option?.dataset.id) {
        this.focusOption(option);
        options.onActivate(option.dataset.id);
      }
    });
  }

  /** Creates an option element for `id`; callers fill it. */
  option(id: string, label: string): HTMLLIElement {
    return h('li', { class: 'option', attrs: { role: 'option', 'data-id': id, 'aria-label': label, tabindex: -1, 'aria-selected': 'false' } });
  }

  /** Replaces the options, keeping focus on the same id when it is still there. */
  setOptions(options: HTMLLIElement[]): void {
    const focusedId = this.focusedId();
    this.el.replaceChildren(...options);
    this.refreshState(focusedId);
  }

  appendOptions(options: HTMLLIElement[]): void {
    this.el.append(...options);
    this.refreshState(this.focusedId());
  }

  get size(): number {
    return this.el.children.length;
  }

  setSelected(id: string | null): void {
    this.selectedId = id;
    this.refreshState(this.focusedId());
  }

  focus(): void {
    (this.tabStop() ?? this.items()[0])?.focus();
  }

  private items(): HTMLElement[] {
    return Array.from(this.el.querySelectorAll<HTMLElement>(':scope > [role="option"]'));
  }

  private focusedId(): string | null {
    const active = document.activeElement;
    return active instanceof HTMLElement && active.parentElement === this.el ? (active.dataset.id ?? null) : null;
  }

  private tabStop(): HTMLElement | undefined {
    return this.items().find((o) => o.tabIndex === 0);
  }

  private refreshState(focusedId: string | null): void {
    const options = this.items();
    const stopId = focusedId ?? this.tabStop()?.dataset.id ?? this.selectedId;
    let stop: HTMLElement | undefined;
    for (const option of options) {
      option.setAttribute('aria-selected', String(option.dataset.id === this.selectedId));
      option.tabIndex = -1;
      if (option.dataset.id === stopId) stop = option;
    }
    stop ??= options[0];
    if (stop) stop.tabIndex = 0;
    if (focusedId !== null && stop && document.activeElement !== stop && stop.dataset.id === focusedId) stop.focus();
  }

  private focusOption(option: HTMLElement): void {
    for (const other of this.items()) other.tabIndex = -1;
    option.tabIndex = 0;
    option.focus();
    option.scrollIntoView({ block: 'nearest' });
  }

  private onKey(event: KeyboardEvent): void {
    const options = this.items();
    if (options.length === 0) return;
    const current = (event.target as Element).closest<HTMLElement>('[role="option"]');
    const index = current ? options.indexOf(current) : -1;
    const page = Math.max(1, Math.floor(this.el.clientHeight / Math.max(1, current?.offsetHeight ?? 40)) - 1);
    let next = -1;
    switch (event.key) {
      case 'ArrowDown':
        next = Math.min(options.length - 1, index + 1);
        break;
      case 'ArrowUp':
        next = Math.max(0, index - 1);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = options.length - 1;
        break;
      case 'PageDown':
        next = Math.min(options.length - 1, index + page);
        break;
      case 'PageUp':
        next = Math.max(0, index - page);
        break;
      case 'Enter':
      case ' ':
        if (current?.dataset.id) {
          event.preventDefault();
          this.options.onActivate(current.dataset.id);
        }
        return;
      default:
        return;
    }
    event.preventDefault();
    const target = options[next];
    if (target) this.focusOption(target);
    if (next === options.length - 1) this.options.onReachEnd?.();
  }
}
