// Builds everything that runs outside tsx: the CLI (Node), the Electron main/preload and the renderer bundle.
// Runs on `npm ci` (prepare) so `npx kubecast` works straight after install.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

const watchless = {
  logLevel: 'warning',
  sourcemap: true,
  legalComments: 'none',
  define: { KUBECAST_VERSION: JSON.stringify(pkg.version) },
};

const node = {
  ...watchless,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Native addons and their JS wrappers stay in node_modules; everything of ours is bundled.
  packages: 'external',
};

// The search worker is its own entry: worker threads load a file.
await build({ ...node, entryPoints: { cli: 'src/cli.ts', 'search-worker': 'src/store/search-worker.ts' }, outdir: 'dist' });

if (existsSync('electron/main.ts')) {
  await build({ ...node, entryPoints: { main: 'electron/main.ts' }, outdir: 'dist/electron', external: ['electron'] });
  // A sandboxed preload cannot require npm packages: bundle it whole, only 'electron' stays external.
  await build({ ...watchless, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    entryPoints: { preload: 'electron/preload.ts' }, outdir: 'dist/electron', external: ['electron'] });
}

if (existsSync('renderer/main.ts')) {
  rmSync('dist/renderer', { recursive: true, force: true });
  mkdirSync('dist/renderer', { recursive: true });
  await build({
    ...watchless,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    minify: true,
    entryPoints: { app: 'renderer/main.ts' },
    outdir: 'dist/renderer',
    loader: { '.woff2': 'file', '.svg': 'file', '.png': 'file' },
  });
  for (const file of ['index.html', 'icon.svg']) {
    if (existsSync(`renderer/${file}`)) cpSync(`renderer/${file}`, `dist/renderer/${file}`);
  }
}
