// A long recording's seek index, from the console API (GET /api/recordings/ID/index): what the
// replay needs to start asciinema-player on it ({ url, format: 'segmented' }: the player then
// fetches only the segment it plays or seeks to) and to draw the activity timeline without the
// cast. Small recordings have none and load whole (replay.ts).

import type { CastTheme } from '../src/cast/reader';
import { isRecord } from './api';

/**
 * Recordings at least this big are asked for an index: the server's default threshold (8 MiB).
 * Smaller ones are not asked at all, so opening them costs no extra request (and no 404 in the log).
 */
export const SEEK_INDEX_MIN_BYTES = 8 * 1024 * 1024;

export interface SeekIndex {
  /** The index URL the player loads (segment URLs are relative to it). */
  url: string;
  duration: number;
  cols: number;
  rows: number;
  theme?: CastTheme;
  segments: number;
  /** The recording's own markers, [seconds, label]. */
  markers: Array<[number, string]>;
  activity: { bucket: number; volume: number[] };
  outputChars: number;
  events: number;
  exitCode: number | null;
  truncated: boolean;
  castVersion: 2 | 3;
}

export type SeekLookup = { state: 'ready'; index: SeekIndex } | { state: 'building' } | { state: 'unavailable' };

const enc = encodeURIComponent;

/** The index URL; with a query the server adds its search hits as player markers. */
export function seekIndexUrl(id: string, query = ''): string {
  return `/api/recordings/${enc(id)}/index${query.trim() === '' ? '' : `?q=${enc(query)}`}`;
}

/** Asks for a recording's index: ready, being built (202), or unavailable (no index, or any error: the caller loads the cast). */
export async function fetchSeekIndex(id: string): Promise<SeekLookup> {
  let response: Response;
  try {
    response = await fetch(seekIndexUrl(id), { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    return { state: 'unavailable' };
  }
  if (response.status === 202) return { state: 'building' };
  if (!response.ok) return { state: 'unavailable' };
  try {
    const index = parseIndex(seekIndexUrl(id), (await response.json()) as unknown);
    return index ? { state: 'ready', index } : { state: 'unavailable' };
  } catch {
    return { state: 'unavailable' };
  }
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** The index when it has the shape the player and the timeline rely on, else null (then the cast loads whole). */
function parseIndex(url: string, value: unknown): SeekIndex | null {
  if (!isRecord(value) || value.version !== 1 || !finite(value.duration) || !isRecord(value.term) || !Array.isArray(value.segments)) return null;
  const { cols, rows } = value.term;
  if (!finite(cols) || !finite(rows) || cols < 1 || rows < 1 || value.segments.length === 0) return null;
  const k = isRecord(value.kubecast) ? value.kubecast : {};
  const activity = isRecord(k.activity) ? k.activity : {};
  const markers = Array.isArray(k.markers)
    ? k.markers.flatMap((m): Array<[number, string]> => (Array.isArray(m) && finite(m[0]) && typeof m[1] === 'string' ? [[m[0], m[1]]] : []))
    : [];
  const theme = isRecord(value.term.theme) ? (value.term.theme as CastTheme) : undefined;
  return {
    url,
    duration: value.duration,
    cols,
    rows,
    theme,
    segments: value.segments.length,
    markers,
    activity: {
      bucket: finite(activity.bucket) && activity.bucket > 0 ? activity.bucket : Math.max(value.duration, 1),
      volume: Array.isArray(activity.volume) ? activity.volume.map((v) => (finite(v) ? v : 0)) : [],
    },
    outputChars: finite(k.outputChars) ? k.outputChars : 0,
    events: finite(k.events) ? k.events : 0,
    exitCode: finite(k.exitCode) ? k.exitCode : null,
    truncated: k.truncated === true,
    castVersion: k.castVersion === 3 ? 3 : 2,
  };
}

/** Output volume per bar for the activity timeline: the index's buckets spread over `count` bars of `duration` seconds. */
export function seekActivity(index: SeekIndex, count: number): Float64Array {
  const out = new Float64Array(Math.max(1, count));
  const { bucket, volume } = index.activity;
  const span = index.duration;
  for (let i = 0; i < volume.length; i++) {
    if (volume[i] <= 0) continue;
    const middle = (i + 0.5) * bucket;
    const bar = span > 0 ? Math.floor((middle / span) * out.length) : 0;
    out[Math.min(out.length - 1, Math.max(0, bar))] += volume[i];
  }
  return out;
}
