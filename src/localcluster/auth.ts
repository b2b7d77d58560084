// Who may talk to the local cluster: an optional bearer token, and loopback-only unless a token is set
// (its pods run commands as the OS user running kubecast, so an open port is a remote shell) and
// travels over TLS.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isLoopbackHost } from '../util/loopback';

/** Constant-time check of `Authorization: Bearer <token>`; always true when no token is configured. */
export function bearerAuthorized(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  if (!header) return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return false;
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const given = createHash('sha256').update(match[1].trim()).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

export { isLoopbackHost };

export class ListenPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenPolicyError';
  }
}

/**
 * Refuses a non-loopback address without a token (anyone reaching it could run commands as this
 * user), and a token over plain http there (it would cross the network in clear text).
 */
export function checkListenPolicy(host: string, token: string | undefined, tls = token !== undefined): void {
  if (isLoopbackHost(host)) return;
  if (token === undefined) {
    throw new ListenPolicyError(
      `refusing to listen on ${host} without a token: the local cluster runs commands as this OS user, so anyone who can reach it ` +
        'would get a shell. Listen on 127.0.0.1 (the default), or set a bearer token (--token FILE).',
    );
  }
  if (!tls) {
    throw new ListenPolicyError(`refusing to listen on ${host} over plain http with a token: the token would cross the network unencrypted. Use TLS or a loopback address.`);
  }
}

/** Reads a token file's contents: trimmed, non-empty, one line. */
export function parseTokenFile(text: string, source: string): string {
  const token = text.trim();
  if (token.length === 0) throw new Error(`${source}: the token file is empty`);
  if (/[\s]/.test(token)) throw new Error(`${source}: the token must be a single word (no spaces or line breaks)`);
  if (token.length > 4096) throw new Error(`${source}: the token is longer than 4096 characters`);
  return token;
}
