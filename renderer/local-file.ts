// Opening a recording from disk (file picker, drag and drop, or File › Open in the desktop app).
// The file is played as it is; nothing is sent to the server or added to the library.

import { h } from './dom';
import { formatBytes } from './format';
import { MAX_REPLAY_BYTES } from './replay';

export interface LocalFile {
  name: string;
  size: number;
  text: string;
}

export class LocalFileError extends Error {}

export async function readLocalFile(file: File): Promise<LocalFile> {
  if (file.size > MAX_REPLAY_BYTES) {
    throw new LocalFileError(`“${file.name}” is ${formatBytes(file.size)}; files over ${formatBytes(MAX_REPLAY_BYTES)} cannot be replayed in the window. Use \`kubecast play FILE\` in a terminal.`);
  }
  return { name: file.name, size: file.size, text: await file.text() };
}

/** A hidden file input opened by `pick()`. */
export function filePicker(onFile: (file: File) => void): { input: HTMLInputElement; pick(): void } {
  const input = h('input', { class: 'visually-hidden', attrs: { type: 'file', accept: '.cast,.json,.txt,application/json,text/plain', 'aria-label': 'Open a recording file', 'data-testid': 'open-file-input', tabindex: -1 } });
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) onFile(file);
  });
  return { input, pick: () => input.click() };
}

/** Drop a file anywhere on the window to play it. */
export function installDropZone(onFile: (file: File) => void): HTMLElement {
  const overlay = h('div', { class: 'drop-overlay', attrs: { 'aria-hidden': 'true' } }, h('div', { class: 'drop-card' }, h('p', { text: 'Drop a .cast file to play it' }), h('p', { class: 'muted', text: 'It stays on your disk and is not added to the library.' })));
  overlay.hidden = true;
  let depth = 0;
  const hasFiles = (event: DragEvent): boolean => Array.from(event.dataTransfer?.types ?? []).includes('Files');
  window.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth++;
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  window.addEventListener('dragover', (event) => {
    // Without this the browser (or Electron) would navigate to the file.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = hasFiles(event) ? 'copy' : 'none';
  });
  window.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    const file = event.dataTransfer?.files[0];
    if (file) onFile(file);
  });
  return overlay;
}
