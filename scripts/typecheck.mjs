// Type-checks each layer with its own lib set: src/ never sees the DOM, renderer/ never sees Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const projects = ['tsconfig.json', 'test/tsconfig.json', 'electron/tsconfig.json', 'renderer/tsconfig.json'];
let failed = false;
for (const project of projects) {
  if (!existsSync(project)) continue;
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`typecheck failed: ${project}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
