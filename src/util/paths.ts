// Where kubecast keeps its data when --data is not given: the platform's app-data folder.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.KUBECAST_DATA) return env.KUBECAST_DATA;
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'kubecast');
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'kubecast');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'kubecast');
}
