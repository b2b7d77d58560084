// The rendered transcript of a recording: what a person watching it saw, as plain text. Lines that
// scrolled by and the final screen, through a headless terminal (see screen-text.ts), so colour
// codes, cursor movement and redraws are resolved, never printed. Works on any cast file (kubecast,
// peer, asciicast v1/v2/v3) without the index.
import { scanCastFile } from './cast-scan';
import { ScreenText, type ScreenLine } from './screen-text';

const BUSY_CHARS = 1024 * 1024;
/** Lines handed to the sink in batches of about this many characters. */
const BATCH_CHARS = 64 * 1024;

/** Text is written to `sink` in order; a returned promise is awaited (stdout/HTTP backpressure). */
export type TranscriptSink = (text: string) => Promise<void> | void;

export async function writeTranscript(path: string, sink: TranscriptSink): Promise<void> {
  let screen: ScreenText | undefined;
  let pending: string[] = [];
  let pendingChars = 0;
  const take = (lines: ScreenLine[]) => {
    for (const line of lines) {
      pending.push(line.text);
      pendingChars += line.text.length + 1;
    }
  };
  const drain = async () => {
    if (pending.length === 0) return;
    const text = pending.join('\n') + '\n';
    pending = [];
    pendingChars = 0;
    await sink(text);
  };
  try {
    await scanCastFile(path, {
      noHash: true,
      onHeader: (identity) => {
        screen = new ScreenText({ cols: identity.cols, rows: identity.rows, convertEol: !identity.tty, mode: 'transcript', onLines: take });
      },
      events: (event) => {
        screen?.event(event);
        return true;
      },
      pause: () => {
        const busy = () => (screen && screen.pendingChars > BUSY_CHARS ? screen.idle() : undefined);
        return pendingChars >= BATCH_CHARS ? drain().then(busy) : busy();
      },
    });
    if (screen) await screen.end();
  } finally {
    screen?.dispose(); // after end() a no-op; after a failure it frees the terminal
  }
  await drain();
}

/** The whole transcript as one string (refused beyond `maxChars`; use writeTranscript to stream). */
export async function transcriptText(path: string, maxChars = 256 * 1024 * 1024): Promise<string> {
  const parts: string[] = [];
  let total = 0;
  await writeTranscript(path, (text) => {
    total += text.length;
    if (total > maxChars) throw new Error(`the transcript is longer than ${maxChars} characters; stream it instead`);
    parts.push(text);
  });
  return parts.join('');
}
