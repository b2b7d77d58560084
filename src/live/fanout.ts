// One IngestObserver for the recorder that feeds several (the live hub and the library index):
// each gets every call, in order. The recorder calls observers on its ingest path without a
// guard, so a throw is caught here: it must neither reach the upload nor keep the others from theirs.
import type { IngestedRecording, IngestObserver, IngestOutcome } from '../recorder/ingest';
import { createLogger, type Logger } from '../util/log';

export function fanOutObservers(...observers: Array<IngestObserver | undefined>): IngestObserver {
  return loggedFanOut(createLogger({ fields: { component: 'recorder' } }), observers);
}

/** The same, reporting failures to the caller's logger (serve's, so they land with its other logs). */
export function loggedFanOut(logger: Logger, observers: Array<IngestObserver | undefined>): IngestObserver {
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
        logger.error('an ingest observer failed', { observer: observer.constructor.name, error: err instanceof Error ? err : String(err) });
      }
    }
  };
  return {
    started: (recording: IngestedRecording) => each((observer) => observer.started(recording)),
    lines: (id: string, lines: Buffer) => each((observer) => observer.lines(id, lines)),
    ended: (id: string, outcome: IngestOutcome) => each((observer) => observer.ended(id, outcome)),
  };
}
