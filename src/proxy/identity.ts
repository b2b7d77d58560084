// Who is behind a request: the proxy user (from the token they presented) and their kubectl.
import type { IncomingMessage } from 'node:http';
import { userInfo } from 'node:os';
import { sameSecret } from '../util/secret';

export interface ProxyAuth {
  /** token → user. serve and proxy give one entry: DATA/kubeconfig's token, owned by the OS user running kubecast. */
  tokens: Array<{ token: string; user: string }>;
}

/** The OS user running kubecast: who owns the token serve writes into DATA/kubeconfig. */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

/** The user whose bearer token the request carries, or undefined (constant-time per token). */
export function authenticate(req: IncomingMessage, auth: ProxyAuth): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;
  let user: string | undefined;
  for (const entry of auth.tokens) {
    // Compare against every entry so timing does not reveal which one matched.
    if (sameSecret(match[1], entry.token) && user === undefined) user = entry.user;
  }
  return user;
}

/** "kubectl.1.27/v1.27.16 (linux/amd64) kubernetes/abc" → "v1.27.16". */
export function kubectlVersion(userAgent: string | undefined): string | undefined {
  if (!userAgent || !/kubectl/i.test(userAgent)) return undefined;
  return /\/(v\d+\.\d+\.\d+[\w.+-]*)/.exec(userAgent)?.[1];
}

export function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
