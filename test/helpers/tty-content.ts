// Generated terminal sessions for seek-index tests: deterministic TTY output with what makes
// keyframes hard — colours (16, 256, truecolor), bold/underline/inverse, wide characters,
// cursor addressing and erasing, the alternate screen of a full-screen app, a scroll region with
// a hidden cursor, resizes — plus a headless xterm to render any prefix of it.
import { Terminal } from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';
import type { Ev } from './recordings';

/** Deterministic pseudo-random numbers (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ASCII_WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const WORDS = [...ASCII_WORDS, '漢字', 'größe', 'café', '🌍'];

export interface TtyOptions {
  seed?: number;
  /** Roughly how many bytes of output to produce. */
  bytes: number;
  cols?: number;
  rows?: number;
  /** Seconds between events. */
  step?: number;
  /** Unique lines of the form `frame NNNNNNN` let a test tell where it is; on by default. */
  frames?: boolean;
  /** ASCII words only (no wide characters), for comparing rendered text across emulators. */
  ascii?: boolean;
  /** Chance of a resize per event (default 0.005: far more than real sessions, to test them). */
  resizeChance?: number;
}

/**
 * A session's events: mostly coloured scrolling output, with every so often a full-screen app
 * (alternate screen, absolute positioning), a scroll region with the cursor hidden, and resizes.
 */
export function ttyEvents(options: TtyOptions): Ev[] {
  const rand = random(options.seed ?? 1);
  const step = options.step ?? 0.01;
  const events: Ev[] = [];
  let cols = options.cols ?? 100;
  let rows = options.rows ?? 30;
  let t = 0.0037;
  let size = 0;
  let frame = 0;
  const words = options.ascii ? ASCII_WORDS : WORDS;
  const word = () => words[Math.floor(rand() * words.length)];
  const push = (code: 'o' | 'r', data: string) => {
    events.push([Math.round(t * 1e6) / 1e6, code, data]);
    size += data.length;
    t += step * (0.5 + rand());
  };
  const resizeFrom = 1 - (options.resizeChance ?? 0.005);
  // Whether the alternate screen is active: it is entered and left only as real apps do (1049 when
  // already there, or left when not there, is where emulators disagree — and keyframes cannot help it).
  let alt = false;
  while (size < options.bytes) {
    const kind = rand();
    if (kind < 0.83) {
      // Ordinary output: a few coloured lines.
      let text = '';
      const lines = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < lines; i++) {
        const colour = rand();
        const sgr = colour < 0.3 ? `\x1b[${30 + Math.floor(rand() * 8)}m` : colour < 0.5 ? `\x1b[1;38;5;${Math.floor(rand() * 256)}m` : colour < 0.7 ? `\x1b[4;38;2;${Math.floor(rand() * 256)};${Math.floor(rand() * 256)};${Math.floor(rand() * 256)}m` : colour < 0.8 ? '\x1b[7m' : '';
        const label = options.frames === false ? '' : `frame ${String(frame++).padStart(7, '0')} `;
        text += `${label}${sgr}${Array.from({ length: 1 + Math.floor(rand() * 6) }, word).join(' ')}\x1b[0m\r\n`;
      }
      push('o', text);
    } else if (kind < 0.93) {
      // A prompt line redrawn in place.
      push('o', `\x1b[2K\r$ ${word()} ${Math.floor(rand() * 1000)}\x1b[K`);
    } else if (kind < 0.97) {
      // A full-screen app: alternate screen, drawn by position, then left again (sometimes later).
      let text = `${alt ? '' : '\x1b[?1049h'}\x1b[H\x1b[2J\x1b[?25l`;
      alt = true;
      for (let i = 0; i < Math.min(rows, 8); i++) text += `\x1b[${i + 1};${1 + Math.floor(rand() * 10)}H\x1b[4${i % 8}m ${word()} ${i} \x1b[0m`;
      push('o', text);
      push('o', `\x1b[${rows};1Hstatus ${word()}`);
      if (rand() < 0.7) {
        push('o', '\x1b[?25h\x1b[?1049l');
        alt = false;
      }
    } else if (kind < resizeFrom) {
      // A scroll region with the cursor hidden (serialize alone would lose both), kept for a while.
      const top = 2 + Math.floor(rand() * 3);
      const bottom = Math.max(top + 2, rows - 2 - Math.floor(rand() * 3));
      push('o', `${alt ? '\x1b[?1049l' : ''}\x1b[?25l\x1b[${top};${bottom}r\x1b[${bottom};1H`);
      alt = false;
      const lines = 10 + Math.floor(rand() * 20);
      for (let i = 0; i < lines; i++) push('o', `\r\nregion ${word()} ${i} \x1b[3${i % 8}m${word()}\x1b[0m`);
      push('o', '\x1b[r\x1b[?25h');
    } else {
      cols = 60 + Math.floor(rand() * 80);
      rows = 15 + Math.floor(rand() * 25);
      push('r', `${cols}x${rows}`);
    }
  }
  return events;
}

const PALETTE_16 = 0x1000000;
const PALETTE_256 = 0x2000000;

/** Colour mode and value, with the first 16 of the 256-colour palette as the 16 colours they are (serialize writes them so). */
function colour(mode: number, value: number): [number, number] {
  return mode === PALETTE_256 && value < 16 ? [PALETTE_16, value] : [mode, value];
}

/** A headless xterm fed event by event (writes awaited, so resizes land between the right outputs). */
export class ReferenceTerminal {
  readonly term: Terminal;
  private readonly serializer = new SerializeAddon();

  constructor(cols: number, rows: number) {
    this.term = new Terminal({ cols, rows, scrollback: 0, allowProposedApi: true, logLevel: 'off' });
    this.term.loadAddon(this.serializer as unknown as Parameters<Terminal['loadAddon']>[0]);
  }

  write(data: string): Promise<void> {
    return new Promise((resolve) => this.term.write(data, resolve));
  }

  async apply(code: string, data: string): Promise<void> {
    if (code === 'o') await this.write(data);
    else if (code === 'r') {
      const match = /^(\d+)x(\d+)$/.exec(data);
      if (match) this.term.resize(Number(match[1]), Number(match[2]));
    }
  }

  /** Applies events in order, consecutive outputs in one write (as fast as it gets, same result). */
  async applyAll(events: ReadonlyArray<readonly [number, string, string]>): Promise<void> {
    let text = '';
    for (const [, code, data] of events) {
      if (code === 'o') text += data;
      else {
        if (text !== '') await this.write(text);
        text = '';
        await this.apply(code, data);
      }
    }
    if (text !== '') await this.write(text);
  }

  /** The screen serialised (what a keyframe holds). */
  serialize(): string {
    return this.serializer.serialize({ scrollback: 0 });
  }

  /**
   * What is visible, cell by cell: characters with their colours and attributes (runs of equal
   * style), the cursor, which buffer is active, and the modes a keyframe must carry. Hidden state
   * is left out on purpose: after a resize xterm keeps rows of the alternate buffer above the
   * screen that no one sees.
   */
  screen(): string {
    const buffer = this.term.buffer.active;
    const cell = buffer.getNullCell();
    const rows: string[] = [];
    for (let y = 0; y < this.term.rows; y++) {
      const line = buffer.getLine(buffer.viewportY + y);
      let row = '';
      let style = '';
      for (let x = 0; line && x < this.term.cols; x++) {
        line.getCell(x, cell);
        if (cell.getWidth() === 0) continue; // the right half of a wide character
        // An empty (null) cell is compared by its background only: serialize skips runs of them
        // with cursor moves, so their other attributes are lost — invisible except in the rare
        // inverse case (the left half of a wide character overwritten in inverse video).
        const empty = cell.getChars() === '';
        const next = empty
          ? ['empty', ...colour(cell.getBgColorMode(), cell.getBgColor())].join(',')
          : [
              ...colour(cell.getFgColorMode(), cell.getFgColor()),
              ...colour(cell.getBgColorMode(), cell.getBgColor()),
              cell.isBold(),
              cell.isDim(),
              cell.isItalic(),
              cell.isUnderline(),
              cell.isInverse(),
              cell.isInvisible(),
              cell.isStrikethrough(),
            ].join(',');
        if (next !== style) {
          row += `{${next}}`;
          style = next;
        }
        row += cell.getChars() || ' ';
      }
      rows.push(row.trimEnd());
    }
    const modes = this.term.modes;
    const state = [
      `buffer=${buffer.type}`,
      `cursor=${buffer.cursorX},${buffer.cursorY}`,
      `size=${this.term.cols}x${this.term.rows}`,
      `appCursor=${modes.applicationCursorKeysMode}`,
      `bracketedPaste=${modes.bracketedPasteMode}`,
      `origin=${modes.originMode}`,
      `wrap=${modes.wraparoundMode}`,
    ];
    return [...state, ...rows].join('\n');
  }

  /** The visible lines as text (trailing blanks trimmed). */
  lines(): string[] {
    const buffer = this.term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < this.term.rows; y++) out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return out;
  }

  dispose(): void {
    this.term.dispose();
  }
}
