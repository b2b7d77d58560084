// Settings changed from the console, kept in DATA/settings.json and used at the next start where
// the command line leaves them open.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConsoleSettings } from '../console/types';

const FILE = 'settings.json';

export async function loadSettings(dataDir: string): Promise<Partial<ConsoleSettings>> {
  let text: string;
  try {
    text = await readFile(join(dataDir, FILE), 'utf8');
  } catch {
    return {};
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const out: Partial<ConsoleSettings> = {};
    if (typeof value.upstream === 'string') out.upstream = value.upstream;
    if (Array.isArray(value.recorders) && value.recorders.every((r) => typeof r === 'string')) out.recorders = value.recorders as string[];
    if (value.policy === 'fail-closed' || value.policy === 'fail-open') out.policy = value.policy;
    if (typeof value.recordStdin === 'boolean') out.recordStdin = value.recordStdin;
    if (value.retainDays === null || (typeof value.retainDays === 'number' && value.retainDays > 0)) out.retainDays = value.retainDays as number | null;
    if (typeof value.dataDir === 'string') out.dataDir = value.dataDir;
    return out;
  } catch {
    return {};
  }
}

export async function saveSettings(dataDir: string, settings: ConsoleSettings): Promise<void> {
  const path = join(dataDir, FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
  await rename(temp, path);
}
