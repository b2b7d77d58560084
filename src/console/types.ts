// Shapes of the console API beyond Session/Recording: declarations only, so the renderer can share them.

export type UpstreamKindName = 'local' | 'context' | 'url';

export interface ConsoleStatus {
  upstream: { kind: UpstreamKindName; name: string; url?: string };
  policy: 'fail-closed' | 'fail-open';
  recordStdin: boolean;
  recorders: string[];
  retainDays: number | null;
  dataDir: string;
  kubeconfigPath: string;
  /** The command a person runs first, e.g. `kubectl --kubeconfig /data/kubeconfig exec -it shell -- sh`. */
  kubectlCommand: string;
  /** The upstream is the built-in local cluster (whose pods are local processes). */
  localCluster: boolean;
  live: number;
  version: string;
}

export interface ConsoleSettings {
  /** local | context:NAME | current | URL */
  upstream: string;
  /** Remote recorders; empty = the embedded one. */
  recorders: string[];
  policy: 'fail-closed' | 'fail-open';
  recordStdin: boolean;
  retainDays: number | null;
  dataDir: string;
}

export interface SettingsResult {
  applied: boolean;
  restartRequired: boolean;
  /** What could not be applied, for the settings panel. */
  error?: string;
}

export interface ContextInfo {
  name: string;
  cluster: string;
  user: string;
  server: string;
}

// The live WebSocket's messages and the Session shape, for the renderer (which depends on the
// console API only, so it takes them from here).
export type {
  LiveSession,
  LiveMessage,
  LiveSnapshotMessage,
  LiveOutputMessage,
  LiveResizeMessage,
  LiveMarkerMessage,
  LiveExitMessage,
  LiveEndMessage,
} from '../live/messages';
