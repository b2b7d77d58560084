// Where recordings live on disk. Paths are built only from server-made UUIDs and dates, never from
// request data.
import { join } from 'node:path';
import { isRecordingId } from '../util/ids';

export function recordingsDir(dataDir: string): string {
  return join(dataDir, 'recordings');
}

/** DATA/recordings/YYYY/MM/DD/ID.cast for a recording started at `startedAt` (UTC date). */
export function recordingPath(dataDir: string, id: string, startedAt: Date): string {
  if (!isRecordingId(id)) throw new Error(`not a recording id: ${JSON.stringify(id)}`);
  const y = String(startedAt.getUTCFullYear());
  const m = String(startedAt.getUTCMonth() + 1).padStart(2, '0');
  const d = String(startedAt.getUTCDate()).padStart(2, '0');
  return join(recordingsDir(dataDir), y, m, d, `${id}.cast`);
}
