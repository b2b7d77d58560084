// Replaying recorded output into the viewer's real terminal is replaying someone else's bytes:
// sequences that make a terminal answer (device attributes, status and mode reports) would type
// the answer into the viewer's shell once playback ends (asciinema #108), and some are dangerous
// on their own (OSC 50 font ops: CVE-2022-45063; OSC 52 clipboard; DCS such as DECRQSS:
// CVE-2008-2383). This filter passes text and ordinary escape sequences (colours, cursor, screen
// modes, titles, hyperlinks) and drops those. It is streaming: a sequence split between two events
// is handled as one. It also notes which modes the recording switched on, so they can be undone.

const ESC = '\x1b';
/** Longest CSI kept; a longer one is dropped (no real one is this long). */
const MAX_CSI = 256;
/** Longest OSC/DCS-like string buffered; beyond it the rest of the string is skipped. */
const MAX_STRING = 4096;

type State = 'text' | 'esc' | 'csi' | 'osc' | 'string' | 'esc-intermediate';

export class PlaybackFilter {
  private state: State = 'text';
  private seq = '';
  /** Inside a dropped string (DCS/APC/PM/SOS or an OSC we do not keep), waiting for its end. */
  private skipping = false;
  /** Private modes (DECSET numbers) currently set by the recording. */
  readonly modes = new Set<number>();

  /** The part of `data` that may reach the terminal. */
  write(data: string): string {
    let out = '';
    for (let i = 0; i < data.length; i++) {
      const ch = data[i];
      const code = data.charCodeAt(i);
      switch (this.state) {
        case 'text':
          if (ch === ESC) {
            this.state = 'esc';
            this.seq = ESC;
          } else if (code >= 0x80 && code <= 0x9f) {
            // C1 controls (8-bit CSI/OSC/DCS…) are never printable text: dropped.
          } else out += ch;
          break;
        case 'esc':
          this.seq += ch;
          if (ch === '[') this.state = 'csi';
          else if (ch === ']') {
            this.state = 'osc';
            this.skipping = false;
          } else if (ch === 'P' || ch === '_' || ch === '^' || ch === 'X') {
            this.state = 'string';
            this.skipping = true;
          } else if (ch === 'Z') {
            this.state = 'text'; // DECID: asks for an identification answer
          } else if (code >= 0x20 && code <= 0x2f) this.state = 'esc-intermediate';
          else if (ch === ESC) this.seq = ESC;
          else {
            out += this.seq;
            this.state = 'text';
          }
          break;
        case 'esc-intermediate':
          this.seq += ch;
          if (code >= 0x30 && code <= 0x7e) {
            out += this.seq;
            this.state = 'text';
          } else if (this.seq.length > 8) this.state = 'text';
          break;
        case 'csi':
          this.seq += ch;
          if (code >= 0x40 && code <= 0x7e) {
            if (this.keepCsi(this.seq)) out += this.seq;
            this.state = 'text';
          } else if (this.seq.length > MAX_CSI) this.state = 'text';
          break;
        case 'osc':
        case 'string': {
          // Ends with BEL (OSC only) or ST (ESC \).
          const end = (ch === '\x07' && this.state === 'osc') || (ch === '\\' && this.seq.endsWith(ESC));
          if (!this.skipping) {
            this.seq += ch;
            if (this.seq.length > MAX_STRING) this.skipping = true;
          } else if (ch === ESC) this.seq = ESC;
          else this.seq = '';
          if (end) {
            if (!this.skipping && this.state === 'osc' && keepOsc(this.seq)) out += this.seq;
            this.state = 'text';
            this.skipping = false;
          }
          break;
        }
      }
    }
    return out;
  }

  private keepCsi(seq: string): boolean {
    const final = seq[seq.length - 1];
    const body = seq.slice(2, -1);
    // Requests for reports: device attributes, device status, window reports/ops, DECRQM, DECREQTPARM.
    if (final === 'c' || final === 'n' || final === 't' || final === 'x') return false;
    if (final === 'p' && body.includes('$')) return false;
    if ((final === 'h' || final === 'l') && body.startsWith('?')) {
      for (const part of body.slice(1).split(';')) {
        const mode = Number(part);
        if (!Number.isInteger(mode)) continue;
        if (final === 'h') this.modes.add(mode);
        else this.modes.delete(mode);
      }
    }
    return true;
  }

  /** Sequences that undo what the recording left switched on (run when playback stops). */
  restore(): string {
    let out = `${ESC}[0m`;
    // Leaving the alternate screen only if the recording is on it (1049l also restores the cursor).
    for (const mode of [1049, 1047, 47]) if (this.modes.has(mode)) out += `${ESC}[?${mode}l`;
    // Mouse reporting, bracketed paste, focus events, application cursor keys.
    for (const mode of [1000, 1002, 1003, 1005, 1006, 1015, 2004, 1004, 1]) if (this.modes.has(mode)) out += `${ESC}[?${mode}l`;
    out += `${ESC}[?25h`; // cursor visible
    return out;
  }
}

/** OSC kept: window/icon titles (0, 1, 2) and hyperlinks (8). Colour queries, clipboard, fonts: dropped. */
function keepOsc(seq: string): boolean {
  const body = seq.slice(2);
  const match = /^(\d+);/.exec(body);
  if (!match) return false;
  const n = Number(match[1]);
  if (n === 8) return true;
  return (n === 0 || n === 1 || n === 2) && !body.slice(match[0].length).startsWith('?');
}
