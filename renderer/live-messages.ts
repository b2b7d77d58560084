// Messages of the live WebSocket (`GET /api/live/ID`): the subset the view uses, derived from the
// console API's shared types so the field names cannot drift. Every message is checked before use:
// what comes off a socket is data, not a promise.
import type {
  LiveEndMessage,
  LiveExitMessage,
  LiveMarkerMessage,
  LiveOutputMessage,
  LiveResizeMessage,
  LiveSnapshotMessage,
} from '../src/console/types';

export type SnapshotMessage = Omit<LiveSnapshotMessage, 'session' | 'tty'>;
export type OutputMessage = LiveOutputMessage;
export type ResizeMessage = LiveResizeMessage;
export type MarkerMessage = LiveMarkerMessage;
export type ExitMessage = LiveExitMessage;
export type EndMessage = LiveEndMessage;

export type LiveMessage = SnapshotMessage | OutputMessage | ResizeMessage | MarkerMessage | ExitMessage | EndMessage;

const MAX_DIMENSION = 10_000;

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isSize = (value: unknown): value is number => isNumber(value) && Number.isInteger(value) && value >= 1 && value <= MAX_DIMENSION;

/** The message in `text`, or null when it is not one of ours (unknown types are skipped, not fatal). */
export function parseLiveMessage(text: string): LiveMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const time = isNumber(m.time) ? m.time : 0;
  switch (m.type) {
    case 'snapshot':
      return isSize(m.cols) && isSize(m.rows) && typeof m.data === 'string'
        ? { type: 'snapshot', reason: m.reason === 'resync' ? 'resync' : 'join', cols: m.cols, rows: m.rows, time, data: m.data }
        : null;
    case 'output':
      return typeof m.data === 'string' ? { type: 'output', time, data: m.data } : null;
    case 'resize':
      return isSize(m.cols) && isSize(m.rows) ? { type: 'resize', time, cols: m.cols, rows: m.rows } : null;
    case 'marker':
      return { type: 'marker', time, label: typeof m.label === 'string' ? m.label : '' };
    case 'exit':
      return { type: 'exit', time, code: isNumber(m.code) ? m.code : null };
    case 'end':
      return {
        type: 'end',
        time,
        exitCode: isNumber(m.exitCode) ? m.exitCode : null,
        complete: m.complete === true,
        ...(typeof m.error === 'string' && m.error !== '' ? { error: m.error.slice(0, 500) } : {}),
      };
    default:
      return null;
  }
}
