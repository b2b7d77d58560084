// Light and dark follow the system (prefers-color-scheme). Colours live in styles.css as custom
// properties; terminals read them from there so the page, the live view and the player agree.

import type { ITheme } from '@xterm/xterm';

const ANSI_NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'] as const;

export function terminalTheme(): ITheme {
  const css = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  const theme: ITheme = {
    foreground: read('--term-fg', '#d0d0d0'),
    background: read('--term-bg', '#1b1d23'),
    cursor: read('--term-cursor', '#d0d0d0'),
    selectionBackground: read('--term-selection', '#3a4a6b'),
  };
  const palette = theme as Record<string, string>;
  ANSI_NAMES.forEach((name, i) => {
    palette[name] = read(`--term-${i}`, '#808080');
    palette[`bright${name[0].toUpperCase()}${name.slice(1)}`] = read(`--term-${i + 8}`, '#a0a0a0');
  });
  return theme;
}

/** Calls `listener` when the system switches between light and dark. Returns an unsubscribe function. */
export function onColorSchemeChange(listener: () => void): () => void {
  const query = window.matchMedia('(prefers-color-scheme: dark)');
  query.addEventListener('change', listener);
  return () => query.removeEventListener('change', listener);
}
