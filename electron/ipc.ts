// The only messages between main and the preload. Names in one place so neither side guesses.

export const CHANNELS = {
  /** main → page: a file chosen in File › Open Recording…, as { name, text }. */
  openRecording: 'kubecast:open-recording',
  /** main → page: a live-session notification was clicked; the session id. */
  focusSession: 'kubecast:focus-session',
  /** page → main (invoke): copy the kubectl command; answers true when copied. */
  copyKubectlCommand: 'kubecast:copy-kubectl-command',
} as const;
