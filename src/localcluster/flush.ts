// Waiting for queued output to reach the client before a session's connection is closed.
// A kubelet's writes block until the kernel takes them; ours queue in the socket. Ending the
// connection on a timer would throw away output a slow reader (`kubectl exec … | less`) has not
// read yet, so the close waits for the queue to empty — or for the client to stop reading at all.

/** A client that reads nothing for this long has gone away as far as a session is concerned. */
export const STALLED_CLIENT_MS = 60_000;
const POLL_MS = 50;

export interface Outbox {
  /** Bytes queued and not yet handed to the kernel. */
  pending(): number;
  /** The connection is gone; nothing can be delivered any more. */
  gone(): boolean;
}

/**
 * Calls `then(false)` once nothing is pending (at once when nothing is), or `then(true)` when the
 * queue has not shrunk for `stallMs`.
 */
export function whenFlushed(outbox: Outbox, then: (stalled: boolean) => void, stallMs = STALLED_CLIENT_MS): void {
  if (outbox.gone() || outbox.pending() === 0) {
    then(false);
    return;
  }
  let last = outbox.pending();
  let lastProgress = Date.now();
  const timer = setInterval(() => {
    const pending = outbox.gone() ? 0 : outbox.pending();
    if (pending === 0) {
      clearInterval(timer);
      then(false);
    } else if (pending !== last) {
      last = pending;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress >= stallMs) {
      clearInterval(timer);
      then(true);
    }
  }, POLL_MS);
  // Shutdown does not wait for a slow reader: stopping the local cluster destroys its sockets.
  timer.unref();
}
