// Cast files for library tests: written with the real CastWriter, placed where the recorder puts
// them, or pushed through the recorder's Ingest (the path uploads take) into a Library.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CastWriter, type CastHeader } from '../../src/cast';
import { Ingest, type IngestObserver } from '../../src/recorder/ingest';
import { recordingPath } from '../../src/store/paths';
import { RecordingStore } from '../../src/store/store';
import { newRecordingId } from '../../src/util/ids';

export type Ev = [time: number, code: 'o' | 'r' | 'x' | 'm' | 'i', data: string];

export interface CastSpec {
  id?: string;
  startedAt?: Date;
  user?: string;
  cluster?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  argv?: string[];
  tty?: boolean;
  cols?: number;
  rows?: number;
  events: Ev[];
}

export function castHeader(spec: CastSpec, id: string): CastHeader {
  const startedAt = spec.startedAt ?? new Date('2026-03-01T10:00:00Z');
  const argv = spec.argv ?? ['sh'];
  const tty = spec.tty ?? true;
  return {
    version: 2,
    width: tty ? (spec.cols ?? 80) : 0,
    height: tty ? (spec.rows ?? 24) : 0,
    timestamp: startedAt.getTime() / 1000,
    command: argv.join(' '),
    srcNode: '127.0.0.1',
    srcNodeID: '',
    srcNodeUser: spec.user ?? 'alice',
    env: null,
    sshUser: '',
    localUser: '',
    connectionID: '',
    kubernetes: { PodName: spec.pod ?? 'shell', Namespace: spec.namespace ?? 'default', Container: spec.container ?? 'main', SessionType: 'exec' },
    kubecast: {
      id,
      user: spec.user ?? 'alice',
      cluster: spec.cluster ?? 'local',
      protocol: 'websocket',
      tty,
      command: argv,
      startedAt: startedAt.toISOString(),
      kubectlVersion: 'v1.34.1',
      clientAddress: '127.0.0.1',
    },
  };
}

/** The cast text of a spec (header + events), as kubecast writes it. */
export function castText(spec: CastSpec, id = spec.id ?? newRecordingId()): string {
  const writer = new CastWriter(castHeader(spec, id));
  let text = writer.header();
  for (const [time, code, data] of spec.events) {
    if (code === 'o') text += writer.output(time, 'stdout', Buffer.from(data));
    else if (code === 'r') {
      const [cols, rows] = data.split('x').map(Number);
      text += writer.resize(time, cols, rows);
    } else if (code === 'x') text += writer.exit(time, data);
    else if (code === 'm') text += writer.marker(time, data);
    else text += writer.input(time, Buffer.from(data));
  }
  return text;
}

/** Writes a recording straight into DATA/recordings/YYYY/MM/DD/ID.cast (as if recorded earlier). */
export async function writeRecording(dataDir: string, spec: CastSpec): Promise<{ id: string; path: string; text: string }> {
  const id = spec.id ?? newRecordingId();
  const path = recordingPath(dataDir, id, spec.startedAt ?? new Date('2026-03-01T10:00:00Z'));
  await mkdir(dirname(path), { recursive: true });
  const text = castText(spec, id);
  await writeFile(path, text);
  return { id, path, text };
}

/**
 * Pushes a recording through the recorder's Ingest (as an upload would arrive), in chunks, with
 * `observer` watching. Returns the id; `end: false` leaves it in progress (the ingest is returned).
 */
export async function ingestRecording(
  dataDir: string,
  observer: IngestObserver,
  spec: CastSpec,
  options: { chunk?: number; end?: boolean } = {},
): Promise<{ id: string; ingest: Ingest; text: string }> {
  const store = new RecordingStore(dataDir);
  const id = spec.id ?? newRecordingId();
  const text = castText(spec, id);
  const ingest = Ingest.fresh(store, id, observer);
  const bytes = Buffer.from(text);
  const chunk = options.chunk ?? 1000;
  for (let i = 0; i < bytes.byteLength; i += chunk) {
    ingest.push(bytes.subarray(i, i + chunk));
    await new Promise((resolve) => setImmediate(resolve));
  }
  // The file is created asynchronously once the header line is in: wait until every line is stored.
  for (let i = 0; ingest.offset < bytes.byteLength && !ingest.error && i < 1000; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (options.end !== false) await ingest.finish();
  return { id, ingest, text };
}
