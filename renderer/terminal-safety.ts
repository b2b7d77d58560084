// Recorded output is untrusted. A terminal emulator in a page can reach the host through a few
// escape sequences: OSC 52 (clipboard), OSC 0/1/2 (window/icon title) and OSC 8 (hyperlinks that a
// click would open). The live view swallows them before xterm.js acts on them; asciinema-player's
// own VT has no clipboard, title or link support at all (checked by the e2e tests).

import type { Terminal } from '@xterm/xterm';

/** OSC numbers whose effect would leave the terminal: titles (0, 1, 2), hyperlinks (8), clipboard (52). */
export const SWALLOWED_OSC = [0, 1, 2, 8, 52] as const;

export function neuterHostSequences(term: Terminal): void {
  // Returning true marks the sequence as handled, so xterm's built-in handler never runs.
  for (const ident of SWALLOWED_OSC) term.parser.registerOscHandler(ident, () => true);
}

/** Options that keep a terminal read-only and link-free whatever it is fed. */
export const SAFE_TERMINAL_OPTIONS = {
  disableStdin: true,
  // OSC 8 is swallowed above; this guards any link that still reaches activation: it does nothing.
  linkHandler: { activate: (): void => {}, allowNonHttpProtocols: false },
} as const;
