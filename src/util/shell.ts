// Commands shown to a person to paste into a terminal: paths get POSIX shell quoting, because
// the default data folder on macOS ("Application Support") has a space in it.

/** `text` as one shell word: unchanged when it is only safe characters, else in single quotes. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The first command a new user runs: a shell in the local cluster through the recording proxy. */
export function kubectlExecCommand(kubeconfigPath: string): string {
  return `kubectl --kubeconfig ${shellQuote(kubeconfigPath)} exec -it shell -- sh`;
}
