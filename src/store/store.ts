// Recordings on disk. Issue "library" adds the index; this layer only creates, finds and reopens
// cast files.
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isRecordingId, newRecordingId } from '../util/ids';
import { CastFile, syncDirectory } from './cast-file';
import { recordingPath, recordingsDir } from './paths';

export interface OpenRecording {
  id: string;
  path: string;
  file: CastFile;
}

export class RecordingStore {
  private readonly known = new Map<string, string>();

  constructor(readonly dataDir: string) {}

  /** A new, empty recording; `id` is a server-made UUID (a fresh one when omitted). */
  async create(startedAt = new Date(), id = newRecordingId()): Promise<OpenRecording> {
    const path = recordingPath(this.dataDir, id, startedAt);
    const firstCreated = await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    const file = await CastFile.create(path);
    // Folders made just now (a new day, month, year) are entries in their parents: synced too, up
    // to the parent of the first one, before the file's first ack.
    if (firstCreated !== undefined) {
      const stop = dirname(resolve(firstCreated));
      for (let dir = dirname(resolve(path)); dir !== stop && dir !== dirname(dir); dir = dirname(dir)) await syncDirectory(dirname(dir));
    }
    this.known.set(id, path);
    return { id, path, file };
  }

  /** Reopens an existing recording to append to it (resumed upload). */
  async reopen(id: string): Promise<OpenRecording | undefined> {
    const path = await this.locate(id);
    if (!path) return undefined;
    return { id, path, file: await CastFile.reopen(path) };
  }

  /** The file of a recording, or undefined. `id` must be a UUID; nothing else reaches the disk. */
  async locate(id: string): Promise<string | undefined> {
    if (!isRecordingId(id)) return undefined;
    const cached = this.known.get(id);
    if (cached) return cached;
    const root = recordingsDir(this.dataDir);
    for (const year of await listDirs(root)) {
      for (const month of await listDirs(join(root, year))) {
        for (const day of await listDirs(join(root, year, month))) {
          const names = await readdir(join(root, year, month, day)).catch(() => [] as string[]);
          if (names.includes(`${id}.cast`)) {
            const path = join(root, year, month, day, `${id}.cast`);
            this.known.set(id, path);
            return path;
          }
        }
      }
    }
    return undefined;
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && /^\d{2,4}$/.test(e.name)).map((e) => e.name).sort();
  } catch {
    return [];
  }
}
