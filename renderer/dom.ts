// A small element builder. Everything shown comes from recordings and the network, so text only
// ever goes in through textContent / attributes, never through innerHTML.

type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;

export interface Props {
  class?: string;
  text?: string;
  title?: string;
  /** Any other attribute: aria-*, data-*, role, type, href… `false`/`null` leave it out, `true` sets it empty. */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: Partial<Record<keyof HTMLElementEventMap, Handler>>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.title) el.title = props.title;
  if (props.attrs) setAttrs(el, props.attrs);
  if (props.on) for (const [name, handler] of Object.entries(props.on)) if (handler) el.addEventListener(name, handler);
  if (props.text !== undefined) el.textContent = props.text;
  append(el, ...children);
  return el;
}

export function setAttrs(el: Element, attrs: Record<string, string | number | boolean | null | undefined>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) el.removeAttribute(name);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
}

export function append(el: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replaceChildren(el: Node, ...children: Child[]): void {
  clear(el);
  append(el, ...children);
}

/** An inline SVG icon from a fixed set (paths are ours, never data). */
const ICONS: Record<string, string> = {
  copy: 'M8 3h9a2 2 0 0 1 2 2v11h-2V5H8zM5 7h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2zm0 2v10h9V9z',
  download: 'M11 3h2v9.6l3.3-3.3 1.4 1.4L12 16.4l-5.7-5.7 1.4-1.4 3.3 3.3zM4 18h16v2H4z',
  search: 'M10 3a7 7 0 0 1 5.6 11.2l5 5-1.4 1.4-5-5A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z',
  settings:
    'M12 8.5a3.5 3.5 0 1 1 0 7 3.5 3.5 0 0 1 0-7zm0 2a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zM10.3 2h3.4l.5 2.6 1.6.9 2.5-.9 1.7 2.9-2 1.7v1.6l2 1.7-1.7 2.9-2.5-.9-1.6.9-.5 2.6h-3.4l-.5-2.6-1.6-.9-2.5.9-1.7-2.9 2-1.7v-1.6l-2-1.7 1.7-2.9 2.5.9 1.6-.9z',
  open: 'M4 4h6l2 2h8v4H6.5L4 18zm2.7 8H22l-3 8H3.7z',
  trash: 'M9 3h6l1 2h4v2H4V5h4zM6 8h12l-1 13H7zm3 2v9h2v-9zm4 0v9h2v-9z',
  filter: 'M3 5h18l-7 8v6l-4 2v-8z',
  live: 'M12 8a4 4 0 1 1 0 8 4 4 0 0 1 0-8z',
  close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z',
  play: 'M8 5v14l11-7z',
  terminal: 'M3 4h18a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm1 2v12h16V6zm2 2 4 4-4 4-1.4-1.4 2.6-2.6-2.6-2.6zm5 6h6v2h-6z',
};

export function icon(name: keyof typeof ICONS | string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name] ?? '');
  svg.appendChild(path);
  return svg;
}

/** Announces a short message to screen readers and shows it as a toast. */
export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { attrs: { id: 'toasts', role: 'status', 'aria-live': 'polite' } });
    document.body.appendChild(region);
  }
  const item = h('div', { class: `toast toast-${kind}`, text: message });
  region.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 3500);
}
