// `kubecast play ID|FILE`: replays a recording in this terminal with its timing, like
// `asciinema play`. Keys (when stdin is a terminal): space pauses, q or Ctrl-C stops. Output goes
// through PlaybackFilter (no terminal queries or dangerous sequences reach the terminal) and the
// terminal's modes are restored at the end. When stdout is not a terminal the output is simply
// written at the chosen speed.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CastLineParser, parseCast, type CastEvent } from '../cast';
import { CliError, parseCommand, type Command } from './command';
import { dataDirFrom, dataHelp, dataOption, resolveRecording, writeOut } from './library-cli';
import { PlaybackFilter } from './play-filter';

const spec = {
  name: 'play',
  usage: 'kubecast play ID|FILE [--speed X] [--idle-limit S] [--data DIR]',
  description: 'Play a recording in this terminal. Space pauses and resumes, q or Ctrl-C stops.',
  options: { speed: { type: 'string' }, 'idle-limit': { type: 'string' }, ...dataOption },
  help: [
    '--speed X           playback speed factor (default 1; 2 = twice as fast)',
    '--idle-limit S      shorten pauses longer than S seconds to S (default: the recording\'s idle_time_limit)',
    dataHelp,
  ],
  allowPositionals: true,
} as const;

/** v1 documents are parsed whole; bigger ones are refused. */
const MAX_V1_BYTES = 64 * 1024 * 1024;

export const play: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const speed = positiveNumber(parsed.values.speed, '--speed') ?? 1;
  const idleOption = positiveNumber(parsed.values['idle-limit'], '--idle-limit');
  if (parsed.positionals.length !== 1) throw new CliError(`play: expected one recording id or file\nUsage: ${spec.usage}`);
  const { path } = await resolveRecording(parsed.positionals[0], dataDirFrom(parsed.values.data));

  const tty = process.stdout.isTTY === true;
  const filter = new PlaybackFilter();
  const control = new Controls();
  try {
    const { events, header } = await openEvents(path);
    const idleLimit = idleOption ?? header.idleTimeLimit;
    const { columns, rows } = process.stdout;
    if (tty && columns > 0 && rows > 0 && header.cols && header.rows && (header.cols > columns || header.rows > rows)) {
      process.stderr.write(`kubecast: the recording is ${header.cols}x${header.rows}, this terminal is ${columns}x${rows}\n`);
    }
    control.start();
    let previous = 0;
    let virtual = 0; // seconds of (idle-limited) recording time played
    for await (const event of events) {
      if (control.stopped) break;
      let gap = event.time - previous;
      previous = event.time;
      if (idleLimit !== undefined && gap > idleLimit) gap = idleLimit;
      virtual += gap;
      await control.waitUntil(virtual / speed);
      if (control.stopped) break;
      if (event.code === 'o') {
        const text = tty ? filter.write(event.data) : event.data;
        if (text && !(await writeOut(text))) break;
      }
      // Resizes are not applied to this terminal (a player must not resize the viewer's window).
    }
  } finally {
    control.stop();
    if (tty) await writeOut(filter.restore() + '\r\n');
  }
  return 0;
};

function positiveNumber(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`play: ${name} must be a positive number, got "${value}"`);
  return n;
}

interface Opened {
  header: { cols?: number; rows?: number; idleTimeLimit?: number };
  events: AsyncIterable<CastEvent>;
}

/** The events of a cast file, streamed (v2/v3) or parsed whole (v1). */
async function openEvents(path: string): Promise<Opened> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  const parser = new CastLineParser();
  let first: string | undefined;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    if (next.value.trim() === '') continue;
    first = next.value;
    break;
  }
  if (first === undefined) throw new CliError('play: the file is empty', 1);
  let isV1 = false;
  try {
    parser.line(first);
  } catch {
    isV1 = true; // v1 is one JSON document (maybe pretty-printed): parse it whole
  }
  if (isV1) {
    lines.close();
    if ((await stat(path)).size > MAX_V1_BYTES) throw new CliError('play: asciicast v1 file too large to play', 1);
    let cast;
    try {
      cast = parseCast(await readFile(path, 'utf8'));
    } catch (err) {
      throw new CliError(`play: not an asciicast file: ${err instanceof Error ? err.message : String(err)}`, 1);
    }
    const events = cast.events;
    return {
      header: cast.header,
      events: (async function* () {
        yield* events;
      })(),
    };
  }
  const header = parser.header ?? {};
  return {
    header,
    events: (async function* () {
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          let event: CastEvent | null = null;
          try {
            event = parser.line(next.value);
          } catch {
            continue; // a malformed line is skipped
          }
          if (event) yield event;
        }
      } finally {
        lines.close();
      }
    })(),
  };
}

/** Timing, pause and stop: keys from a terminal's stdin, SIGINT otherwise. */
class Controls {
  stopped = false;
  private origin = 0;
  private pausedAt: number | undefined;
  private wake: (() => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private raw = false;
  private readonly onKey = (key: Buffer) => {
    const k = key.toString('latin1');
    if (k === '\x03' || k === 'q') this.interrupt();
    else if (k === ' ') this.togglePause();
  };
  private readonly onSigint = () => this.interrupt();

  start(): void {
    this.origin = performance.now();
    process.on('SIGINT', this.onSigint);
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      this.raw = true;
      process.stdin.on('data', this.onKey);
      process.stdin.resume();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    process.off('SIGINT', this.onSigint);
    if (this.raw) {
      process.stdin.off('data', this.onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
      this.raw = false;
    }
  }

  /** Resolves when `seconds` of playback time have passed (pauses excluded), or on stop. */
  async waitUntil(seconds: number): Promise<void> {
    while (!this.stopped) {
      if (this.pausedAt !== undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const wait = this.origin + seconds * 1000 - performance.now();
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, Math.min(wait, 60_000));
      });
    }
  }

  private togglePause(): void {
    if (this.pausedAt === undefined) {
      this.pausedAt = performance.now();
      if (this.timer) clearTimeout(this.timer);
    } else {
      this.origin += performance.now() - this.pausedAt;
      this.pausedAt = undefined;
    }
    this.wake?.();
  }

  private interrupt(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }
}
