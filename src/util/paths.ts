// Where kubecast keeps its data when --data is not given: the folder chosen in Settings (named by
// a small pointer file, kept outside every data folder so it survives a move), else the
// platform's app-data folder.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The platform's app-data folder + /kubecast. */
export function platformDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kubecast');
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'kubecast');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'kubecast');
}

/** The pointer file: in the platform config folder (next to the default data folder on macOS and Windows). */
export function dataFolderPointerPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  // An override for tests and for people who keep configuration elsewhere.
  if (env.KUBECAST_CONFIG_DIR) return join(env.KUBECAST_CONFIG_DIR, 'data-folder.json');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kubecast-data-folder.json');
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'kubecast-data-folder.json');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'kubecast', 'data-folder.json');
}

/** The folder a pointer names, or undefined when there is none or it is unreadable. */
export function readDataFolderPointer(pointer: string): string | undefined {
  try {
    const value = JSON.parse(readFileSync(pointer, 'utf8')) as { dataDir?: unknown };
    return typeof value.dataDir === 'string' && isAbsolute(value.dataDir) ? value.dataDir : undefined;
  } catch {
    return undefined;
  }
}

export function writeDataFolderPointer(pointer: string, dataDir: string): void {
  mkdirSync(dirname(pointer), { recursive: true, mode: 0o700 });
  const temp = `${pointer}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ dataDir }, null, 2) + '\n', { mode: 0o600 });
  renameSync(temp, pointer);
}

export interface DataFolder {
  dataDir: string;
  /** Set when nothing fixed the folder (no --data, no KUBECAST_DATA): Settings may repoint it. */
  pointer?: string;
}

/** `--data DIR` first, then KUBECAST_DATA, then the pointer, then the platform folder. */
export function resolveDataFolder(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): DataFolder {
  if (flag !== undefined) return { dataDir: resolve(flag) };
  if (env.KUBECAST_DATA) return { dataDir: resolve(env.KUBECAST_DATA) };
  const pointer = dataFolderPointerPath(env, platform);
  return { dataDir: resolve(readDataFolderPointer(pointer) ?? platformDataDir(env, platform)), pointer };
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return resolveDataFolder(undefined, env, platform).dataDir;
}
