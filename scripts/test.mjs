// Runs the test suites with node:test through tsx. `node scripts/test.mjs [unit|integration|e2e ...]`.
// Type-checking and lint run first, so `npm test` is the whole gate CI applies.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNodeNative } from './native.mjs';

const requested = process.argv.slice(2);
const suites = requested.length > 0 ? requested : ['unit', 'integration', 'e2e'];
const runChecks = requested.length === 0;

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// A desktop-app run may have left the native addons built for Electron.
ensureNodeNative();

if (runChecks) {
  run(process.execPath, ['scripts/typecheck.mjs']);
  run(process.execPath, ['node_modules/eslint/bin/eslint.js', '.']);
}

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

for (const suite of suites) {
  const files = collect(join('test', suite)).sort();
  if (files.length === 0) continue;
  console.log(`\n# ${suite}: ${files.length} files`);
  run(process.execPath, [
    '--import', 'tsx',
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${suite === 'unit' ? 2 : 1}`,
    '--test-timeout=300000',
    ...files,
  ]);
}
