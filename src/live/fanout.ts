// One IngestObserver for the recorder that feeds several (the live hub and the library index):
// each gets every call, in order. The recorder calls observers on its ingest path without a
// guard, so a throw is caught here: it must neither reach the upload nor keep the others from theirs.
import type { IngestedRecording, IngestObserver, IngestOutcome } from '../recorder/ingest';
import { createLogger, type Logger } from '../util/log';

let fallbackLogger: Logger | undefined;

export function fanOutObservers(...observers: Array<IngestObserver | undefined>): IngestObserver {
  const all = observers.filter((observer): observer is IngestObserver => observer !== undefined);
  // One report per observer: one that fails on every line would otherwise flood the log.
  const reported = new Set<IngestObserver>();
  const each = (call: (observer: IngestObserver) => void) => {
    for (const observer of all) {
      try {
        call(observer);
      } catch (err) {
        if (reported.has(observer)) continue;
        reported.add(observer);
        fallbackLogger ??= createLogger({ fields: { component: 'recorder' } });
        fallbackLogger.error('an ingest observer failed', { observer: observer.constructor.name, error: err instanceof Error ? err : String(err) });
      }
    }
  };
  return {
    started: (recording: IngestedRecording) => each((observer) => observer.started(recording)),
    lines: (id: string, lines: Buffer) => each((observer) => observer.lines(id, lines)),
    ended: (id: string, outcome: IngestOutcome) => each((observer) => observer.ended(id, outcome)),
  };
}
