// The recent events of one live session, numbered, bounded by size. Every viewer reads from it at
// its own position, so a slow viewer costs no copy of its own: when the log has moved past a
// viewer's position, that viewer is resynchronised from a snapshot instead.
import type { LiveEventMessage, LiveOutputMessage } from './messages';
import { OutputEvent } from './output';

/** A logged event: output (decoded on demand) or one of the small ones. */
export type LoggedEvent = OutputEvent | Exclude<LiveEventMessage, LiveOutputMessage>;

interface Entry {
  seq: number;
  event: LoggedEvent;
  size: number;
  /** Size of the log up to and including this entry (sizes the replay a viewer would need). */
  total: number;
}

/** A message for the viewers positioned at some seq, and the seq it brings them to. */
export interface Batch {
  /** Null when the events up to lastSeq carry nothing to send (outputs that turned out empty or malformed). */
  message: LiveEventMessage | null;
  /** JSON text, encoded once for every viewer that gets this batch. */
  json: Buffer;
  lastSeq: number;
}

/** Consecutive outputs merge into one message up to about this size (bytes of cast line, an upper bound of characters). */
export const MAX_OUTPUT_MESSAGE = 128 * 1024;
const EMPTY = Buffer.alloc(0);
/** What an entry costs besides its text. */
const ENTRY_COST = 64;

export class EventLog {
  // A queue: entries before `head` are evicted (cleared, so their text can be collected).
  private entries: Array<Entry | undefined> = [];
  private head = 0;
  private nextSeq = 1;
  private totalSize = 0;
  private heldSize = 0;
  // Viewers at the same position share one encoding; cleared whenever the log changes.
  private readonly batches = new Map<number, Batch>();

  constructor(private readonly capSize: number) {}

  /** Seq the next event gets. */
  get next(): number {
    return this.nextSeq;
  }

  /** Seq of the last event appended (0 before any). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Seq of the oldest event still held; lastSeq + 1 when none is. */
  get firstSeq(): number {
    return this.head < this.entries.length ? this.entry(this.head).seq : this.nextSeq;
  }

  /** Bytes (or characters) held. */
  get size(): number {
    return this.heldSize;
  }

  /** Appends an event; an OutputEvent must carry seq `next`. */
  append(event: LoggedEvent): number {
    const seq = this.nextSeq++;
    if (event instanceof OutputEvent && event.seq !== seq) throw new Error(`event log: output seq ${event.seq}, expected ${seq}`);
    const size = sizeOf(event);
    this.totalSize += size;
    this.heldSize += size;
    this.entries.push({ seq, event, size, total: this.totalSize });
    // An event larger than the whole log is dropped at once: whoever needed it resynchronises.
    while (this.head < this.entries.length && this.heldSize > this.capSize) {
      this.heldSize -= this.entry(this.head).size;
      this.entries[this.head] = undefined;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    this.batches.clear();
    return seq;
  }

  /** Whether a viewer that has seen everything up to `cursor` can continue from the log. */
  covers(cursor: number): boolean {
    return cursor + 1 >= this.firstSeq;
  }

  /** Size of the events after `cursor` (the replay a viewer at `cursor` would get). */
  sizeAfter(cursor: number): number {
    if (cursor >= this.lastSeq) return 0;
    if (!this.covers(cursor)) return Infinity;
    return cursor < this.firstSeq ? this.heldSize : this.totalSize - this.entry(this.indexOf(cursor)).total;
  }

  /** The next message for a viewer at `cursor`: consecutive outputs merged. Undefined when none or not covered. */
  batchAfter(cursor: number): Batch | undefined {
    if (cursor >= this.lastSeq || !this.covers(cursor)) return undefined;
    const cached = this.batches.get(cursor);
    if (cached) return cached;
    let index = this.indexOf(cursor + 1);
    const first = this.entry(index).event;
    let message: LiveEventMessage | null;
    if (first instanceof OutputEvent) {
      const parts: string[] = [first.text()];
      let size = first.size;
      let time = first.time;
      while (index + 1 < this.entries.length) {
        const next = this.entry(index + 1).event;
        if (!(next instanceof OutputEvent) || size + next.size > MAX_OUTPUT_MESSAGE) break;
        parts.push(next.text());
        size += next.size;
        time = next.time;
        index++;
      }
      const data = parts.length === 1 ? parts[0] : parts.join('');
      message = data === '' ? null : { type: 'output', time, data };
    } else {
      message = first;
    }
    const batch: Batch = { message, json: message ? Buffer.from(JSON.stringify(message)) : EMPTY, lastSeq: this.entry(index).seq };
    this.batches.set(cursor, batch);
    return batch;
  }

  private indexOf(seq: number): number {
    return this.head + (seq - this.entry(this.head).seq);
  }

  private entry(index: number): Entry {
    const entry = this.entries[index];
    if (!entry) throw new Error(`event log: no entry at ${index}`);
    return entry;
  }
}

function sizeOf(event: LoggedEvent): number {
  if (event instanceof OutputEvent) return event.size + ENTRY_COST;
  return event.type === 'marker' ? event.label.length + ENTRY_COST : ENTRY_COST;
}
