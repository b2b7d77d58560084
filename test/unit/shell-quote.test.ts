// Commands shown to be pasted into a terminal must survive a real shell word-for-word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { kubectlExecCommand, shellQuote } from '../../src/util/shell';

test('shellQuote: every word comes back unchanged through sh', () => {
  const words = ['/home/a/kubeconfig', '/Users/a/Library/Application Support/kubecast/kubeconfig', "it's", 'a"b', '$HOME', '`id`', 'x;y', '', ' lead', 'tab\there', 'new\nline', '*'];
  for (const word of words) {
    const out = spawnSync('sh', ['-c', `printf %s ${shellQuote(word)}`], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, word, `quoted as ${shellQuote(word)}`);
  }
  assert.equal(shellQuote('/data/kubeconfig'), '/data/kubeconfig', 'plain paths stay readable');
});

test('kubectlExecCommand quotes a data folder with spaces as one argument', () => {
  const path = '/Users/a/Library/Application Support/kubecast/kubeconfig';
  assert.equal(kubectlExecCommand(path), "kubectl --kubeconfig '/Users/a/Library/Application Support/kubecast/kubeconfig' exec -it shell -- sh");
  const argv = spawnSync('sh', ['-c', `set -- ${kubectlExecCommand(path)}; for a; do printf '%s\\n' "$a"; done`], { encoding: 'utf8' });
  assert.deepEqual(argv.stdout.trimEnd().split('\n'), ['kubectl', '--kubeconfig', path, 'exec', '-it', 'shell', '--', 'sh']);
});
