// Where the console finds the built renderer, from each place the core runs bundled or from source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRendererDir } from '../../src/serve/serve';

test('the renderer is found next to dist/cli.js, above dist/electron/main.js and from src/serve under tsx', () => {
  const root = mkdtempSync(join(tmpdir(), 'kubecast-renderer-'));
  try {
    const renderer = join(root, 'dist', 'renderer');
    mkdirSync(renderer, { recursive: true });
    mkdirSync(join(root, 'dist', 'electron'));
    mkdirSync(join(root, 'src', 'serve'), { recursive: true });
    writeFileSync(join(renderer, 'index.html'), '<!doctype html>');
    // The renderer/ sources beside dist/ are never served in place of the build.
    mkdirSync(join(root, 'renderer'));
    writeFileSync(join(root, 'renderer', 'index.html'), '<!doctype html><script src="main.ts">');
    assert.equal(defaultRendererDir(join(root, 'dist')), renderer);
    assert.equal(defaultRendererDir(join(root, 'dist', 'electron')), renderer);
    assert.equal(defaultRendererDir(join(root, 'src', 'serve')), renderer);
    // Nothing built: the first candidate, where the console then serves its placeholder page.
    rmSync(join(renderer, 'index.html'));
    assert.equal(defaultRendererDir(join(root, 'dist', 'electron')), join(root, 'dist', 'electron', 'renderer'));
    assert.equal(defaultRendererDir(join(root, 'dist')), renderer, 'dist/cli.js: not the sources one level up');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
