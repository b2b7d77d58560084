// Bearer tokens: generation and constant-time comparison.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh URL-safe token with 256 bits of entropy. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two secrets of any length (hashing first equalises the lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
