// A recording prepared for replay: parsed once (v1/v2/v3, by the same reader the core uses), the
// events the player needs, the exit status, and the mapping between recording time and player
// time when pauses are compressed (idle time limit).

import { CastParseError, parseCast, type CastHeaderInfo, type CastVersion } from '../src/cast/reader';

/** [seconds, code, data] as asciinema-player takes them. */
export type PlayerEvent = [number, string, string];

export interface CastModel {
  version: CastVersion;
  header: CastHeaderInfo;
  /** Output, resize and marker events in recording time. Input and exit events are left out. */
  events: PlayerEvent[];
  /** Markers written in the recording (`m` events), recording time. */
  markers: Array<[number, string]>;
  duration: number;
  exitCode: number | null;
  truncated: boolean;
  outputChars: number;
  eventCount: number;
}

export { CastParseError };

/** Throws CastParseError (naming the failing line) for anything that is not an asciicast recording. */
export function loadCast(text: string): CastModel {
  const parsed = parseCast(text);
  const events: PlayerEvent[] = [];
  const markers: Array<[number, string]> = [];
  let exitCode: number | null = null;
  let outputChars = 0;
  for (const e of parsed.events) {
    switch (e.code) {
      case 'o':
        outputChars += e.data.length;
        events.push([e.time, 'o', e.data]);
        break;
      case 'r':
        events.push([e.time, 'r', e.data]);
        break;
      case 'm':
        markers.push([e.time, e.data]);
        events.push([e.time, 'm', e.data]);
        break;
      case 'x': {
        const code = Number.parseInt(e.data, 10);
        if (Number.isFinite(code)) exitCode = code;
        break;
      }
      default:
        // 'i' (input) is only recorded on request and may hold secrets; the player would only show it as an overlay.
        break;
    }
  }
  return {
    version: parsed.version,
    header: parsed.header,
    events,
    markers,
    duration: Math.max(parsed.duration, events.length > 0 ? events[events.length - 1][0] : 0),
    exitCode,
    truncated: parsed.truncated,
    outputChars,
    eventCount: parsed.events.length,
  };
}

/**
 * Recording time ↔ player time when every pause longer than `limit` seconds is shortened to
 * `limit`, exactly as asciinema-player's idle-time limiter does over the events it is given.
 */
export class TimeMap {
  /** Recording times of the events. */
  private readonly rec: Float64Array;
  /** Player times of the same events. */
  private readonly play: Float64Array;
  readonly limit: number;
  readonly playerDuration: number;
  readonly recordingDuration: number;

  constructor(events: readonly PlayerEvent[], limit: number | null, recordingDuration: number) {
    this.limit = limit !== null && limit > 0 ? limit : Infinity;
    this.rec = new Float64Array(events.length);
    this.play = new Float64Array(events.length);
    let previous = 0;
    let shift = 0;
    events.forEach(([time], i) => {
      const gap = time - previous;
      if (gap > this.limit) shift += gap - this.limit;
      previous = time;
      this.rec[i] = time;
      this.play[i] = time - shift;
    });
    this.recordingDuration = Math.max(recordingDuration, events.length > 0 ? this.rec[events.length - 1] : 0);
    this.playerDuration = this.toPlayer(this.recordingDuration);
  }

  /** Player time of the i-th event given to the constructor (no search: for loops over every event). */
  eventTime(i: number): number {
    return this.play[i];
  }

  toPlayer(t: number): number {
    const i = lastAtOrBefore(this.rec, t);
    if (i < 0) return Math.min(t, this.limit);
    return this.play[i] + Math.min(t - this.rec[i], this.limit);
  }

  toRecording(p: number): number {
    const i = lastAtOrBefore(this.play, p);
    if (i < 0) return p;
    return this.rec[i] + (p - this.play[i]);
  }
}

/** Index of the last element ≤ value in a sorted array, or -1. */
function lastAtOrBefore(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Output volume (characters) per bucket of player time, for the activity timeline. `map` must be built from `events`. */
export function activityBuckets(events: readonly PlayerEvent[], map: TimeMap, buckets: number): Float64Array {
  const out = new Float64Array(Math.max(1, buckets));
  const span = map.playerDuration;
  if (span <= 0) {
    for (const [, code, data] of events) if (code === 'o') out[0] += data.length;
    return out;
  }
  const scale = out.length / span;
  for (let i = 0; i < events.length; i++) {
    const [, code, data] = events[i];
    if (code !== 'o') continue;
    out[Math.min(out.length - 1, Math.floor(map.eventTime(i) * scale))] += data.length;
  }
  return out;
}
