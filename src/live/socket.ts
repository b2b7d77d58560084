// The live view over a WebSocket (`GET /api/live/ID`): one JSON text frame per message, in the
// order the hub gives them, with the socket's bufferedAmount as the viewer's backlog, so a viewer
// that stops reading is stopped and later resynchronised by the hub instead of buffering here.
// Viewers send nothing; whatever they send is ignored (the server's maxPayload bounds it).
import { WebSocket } from 'ws';
import { silentLogger, type Logger } from '../util/log';
import { LiveViewerLimitError, type LiveHub } from './hub';
import { LIVE_CLOSE_BUSY, LIVE_CLOSE_NOT_FOUND, LIVE_CLOSE_STALLED } from './messages';

/** A socket closed with a code is terminated if its peer has not completed the close by then. */
const CLOSE_GRACE_MS = 5000;

/**
 * Serves live session `id` on `ws`. Returns false (after closing the socket with 4404, or 1013 when
 * the hub is at its viewer limit) when it cannot.
 */
export function serveLiveSocket(hub: LiveHub, ws: WebSocket, id: string, options: { logger?: Logger } = {}): boolean {
  const log = options.logger ?? silentLogger;
  ws.on('error', (err) => {
    log.debug('live: viewer socket error', { session: id, error: err.message });
    ws.terminate();
  });
  ws.on('message', () => {});
  const close = (code: number, reason: string) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  };
  let unsubscribe: (() => void) | undefined;
  try {
    unsubscribe = hub.subscribe(id, {
      send(message, json) {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(json, { binary: false });
        if (message.type === 'end') close(1000, 'session ended');
      },
      bufferedAmount: () => ws.bufferedAmount,
      drop(reason) {
        if (reason === 'stalled') close(LIVE_CLOSE_STALLED, 'viewer too slow');
        else if (reason === 'closing') close(1001, 'server closing');
        else ws.terminate();
      },
    });
  } catch (err) {
    if (!(err instanceof LiveViewerLimitError)) throw err;
    close(LIVE_CLOSE_BUSY, 'too many viewers');
    return false;
  }
  if (!unsubscribe) {
    close(LIVE_CLOSE_NOT_FOUND, 'no such live session');
    return false;
  }
  const done = unsubscribe;
  ws.on('close', () => done());
  // The end may already have been sent (a session that had ended): the socket is closing then.
  if (ws.readyState !== WebSocket.OPEN) done();
  return true;
}
