// Empty states that teach: the exact kubectl command that makes a first recorded session.

import type { ConsoleStatus } from './api';
import { desktopBridge } from './bridge';
import { h, icon, toast } from './dom';

const FALLBACK_COMMAND = 'kubectl --kubeconfig DATA/kubeconfig exec -it shell -- sh';

export function kubectlCommand(status: ConsoleStatus | null): string {
  return status?.kubectlCommand || FALLBACK_COMMAND;
}

/** Copies through the desktop app when there is one (main knows the command), else the Clipboard API. */
export async function copyCommand(text: string, fallbackTarget: HTMLElement): Promise<void> {
  const bridge = desktopBridge();
  try {
    if (bridge ? await bridge.copyKubectlCommand() : (await navigator.clipboard.writeText(text), true)) {
      toast('Command copied.');
      return;
    }
  } catch {
    // Clipboard API unavailable or denied: select the text so Ctrl+C works.
  }
  const range = document.createRange();
  range.selectNodeContents(fallbackTarget);
  const selection = getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
  toast('Selected: press Ctrl+C (⌘C) to copy.');
}

export function commandBlock(command: string): HTMLElement {
  const code = h('code', { class: 'mono command-text', text: command });
  return h(
    'div',
    { class: 'command-block' },
    code,
    h('button', { class: 'copy', attrs: { 'aria-label': 'Copy the kubectl command' }, on: { click: () => void copyCommand(command, code) } }, icon('copy'), 'Copy'),
  );
}

export function howToRecord(status: ConsoleStatus | null, compact = false): HTMLElement {
  const command = kubectlCommand(status);
  return h(
    'div',
    { class: compact ? 'howto compact' : 'howto' },
    h(compact ? 'p' : 'h2', { class: compact ? 'howto-title' : '', text: compact ? 'No recordings yet.' : 'Start a recorded session' }),
    h('p', { text: 'Sessions that go through kubecast are recorded and appear here while they run. In a terminal, run:' }),
    commandBlock(command),
    compact
      ? null
      : h(
          'p',
          { class: 'muted' },
          status?.kubeconfigPath ? `${status.kubeconfigPath} points kubectl at kubecast’s recording proxy` : 'The kubeconfig in the data folder points kubectl at kubecast’s recording proxy',
          status ? ` (upstream: ${status.upstream.kind === 'local' ? 'the built-in local cluster' : status.upstream.name || status.upstream.url || 'your cluster'}).` : '.',
          ' Any kubectl command works with it: exec, attach, cp.',
        ),
    !compact && status?.localCluster && status.upstream.kind === 'local'
      ? h('p', { class: 'muted', text: '“shell” is a pod of the built-in local cluster: its commands run as your user on this machine.' })
      : null,
  );
}
