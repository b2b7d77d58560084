// Runs sandboxed before the page: exposes `window.kubecast` and nothing else. Listeners receive
// plain values, never the IpcRendererEvent (it would hand the page ipcRenderer itself).

import { contextBridge, ipcRenderer } from 'electron';
import type { KubecastBridge, OpenedRecording } from '../renderer/bridge';
import { CHANNELS } from './ipc';

function subscribe<T>(channel: string, accept: (value: unknown) => T | null, listener: (value: T) => void): () => void {
  const handler = (_event: unknown, value: unknown) => {
    const checked = accept(value);
    if (checked !== null) listener(checked);
  };
  ipcRenderer.on(channel, handler);
  return () => {
    ipcRenderer.removeListener(channel, handler);
  };
}

const asRecording = (value: unknown): OpenedRecording | null => {
  if (typeof value !== 'object' || value === null) return null;
  const { name, text } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof text === 'string' ? { name, text } : null;
};

const asSessionId = (value: unknown): string | null => (typeof value === 'string' && value.length <= 200 ? value : null);

const bridge: KubecastBridge = {
  platform: process.platform,
  onOpenRecording: (listener) => subscribe(CHANNELS.openRecording, asRecording, listener),
  onFocusSession: (listener) => subscribe(CHANNELS.focusSession, asSessionId, listener),
  copyKubectlCommand: async () => (await ipcRenderer.invoke(CHANNELS.copyKubectlCommand)) === true,
};

contextBridge.exposeInMainWorld('kubecast', bridge);
