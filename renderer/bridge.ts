// What the Electron preload exposes as `window.kubecast` (electron/preload.ts implements it).
// The renderer feature-detects it: in a plain browser it is absent and the UI works without it.
// Kept free of imports so both sides can share the declaration.

export interface OpenedRecording {
  name: string;
  text: string;
}

export interface KubecastBridge {
  /** process.platform of the desktop app. */
  readonly platform: string;
  /** File › Open Recording… chosen in the menu; main has read and size-checked the file. Returns an unsubscribe function. */
  onOpenRecording(listener: (file: OpenedRecording) => void): () => void;
  /** A notification about a new live session was clicked: show that session. */
  onFocusSession(listener: (sessionId: string) => void): () => void;
  /** Puts the kubectl command for the data folder's kubeconfig on the clipboard (main knows it; no text crosses over). */
  copyKubectlCommand(): Promise<boolean>;
}

export function desktopBridge(): KubecastBridge | undefined {
  const candidate = (globalThis as { kubecast?: unknown }).kubecast;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const bridge = candidate as Partial<KubecastBridge>;
  return typeof bridge.onOpenRecording === 'function' && typeof bridge.onFocusSession === 'function' ? (bridge as KubecastBridge) : undefined;
}
