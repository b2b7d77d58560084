// Tokens kept in the data folder, so a restart does not invalidate DATA/kubeconfig.
import { readFile, writeFile } from 'node:fs/promises';
import { newToken } from '../util/secret';

/** Reads the token in `path`, creating it (mode 0600) when missing or empty. */
export async function persistentToken(path: string): Promise<string> {
  const existing = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (existing.length >= 32) return existing;
  const token = newToken();
  await writeFile(path, token + '\n', { mode: 0o600 });
  return token;
}
