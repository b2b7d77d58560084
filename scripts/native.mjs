// Native addons (better-sqlite3, node-pty) are compiled for one runtime at a time: Node for the CLI
// and the tests, Electron (a different Node ABI) for the desktop app. This switches them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const NATIVE_PACKAGES = ['better-sqlite3', 'node-pty'];
const MARKER = 'build/.kubecast-runtime';

function marker(pkg) {
  const file = join('node_modules', pkg, MARKER);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : 'node';
}

function nodeGyp() {
  // npm ships node-gyp; prefer it over a download.
  const fromNpm = process.env.npm_execpath ? join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js') : '';
  return existsSync(fromNpm) ? [process.execPath, fromNpm] : ['npx', '--yes', 'node-gyp'];
}

/** Rebuilds the addons for Electron `version` unless they already are. */
export function ensureElectronNative(version) {
  const [cmd, ...pre] = nodeGyp();
  for (const pkg of NATIVE_PACKAGES) {
    const want = `electron-${version}`;
    if (marker(pkg) === want) continue;
    console.log(`kubecast: building ${pkg} for Electron ${version} (once; \`npm rebuild\` restores the Node build)`);
    const result = spawnSync(cmd, [...pre, 'rebuild', '--release', `--target=${version}`, '--runtime=electron', '--dist-url=https://electronjs.org/headers'], {
      cwd: join('node_modules', pkg),
      stdio: 'inherit',
    });
    if (result.status !== 0) throw new Error(`could not build ${pkg} for Electron ${version}`);
    writeFileSync(join('node_modules', pkg, MARKER), want + '\n');
  }
}

/** Makes sure the addons load in this Node (after a desktop-app run switched them to Electron). */
export function ensureNodeNative() {
  const probe = spawnSync(process.execPath, ['-e', NATIVE_PACKAGES.map((p) => `require(${JSON.stringify(p)})`).join(';')], { stdio: 'ignore' });
  if (probe.status === 0 && NATIVE_PACKAGES.every((pkg) => marker(pkg) === 'node')) return;
  console.log('kubecast: rebuilding native addons for Node');
  const result = spawnSync('npm', ['rebuild', ...NATIVE_PACKAGES], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm rebuild of the native addons failed');
  for (const pkg of NATIVE_PACKAGES) {
    const file = join('node_modules', pkg, MARKER);
    if (existsSync(file)) writeFileSync(file, 'node\n');
  }
}
