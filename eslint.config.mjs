// Lint rules plus the layering of DESIGN.md, checked: imports may only point down the data path.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, patterns, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }] },
});

const nodeIo = ['node:http', 'node:http2', 'node:https', 'node:net', 'node:fs', 'node:fs/promises', 'node:child_process', 'http', 'https', 'net', 'fs'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js', 'eslint.config.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The core never touches Electron or the UI.
  layer(['src/**/*.ts'], ['electron', '**/renderer/**', '**/electron/**'], 'src/ is plain Node: no electron, no renderer code'),
  // Pure layers: no sockets, no disk, no processes; they are driven by bytes and callbacks.
  layer(
    ['src/protocol/**/*.ts', 'src/tap/**/*.ts', 'src/cast/**/*.ts'],
    [...nodeIo, 'electron', '**/proxy/**', '**/recorder/**', '**/store/**', '**/live/**', '**/console/**', '**/localcluster/**', '**/commands/**'],
    'protocol/, tap/ and cast/ are pure: no I/O and nothing above them on the data path',
  ),
  // A later entry replaces the rule for its files, so the bottom layer repeats the pure-layer list.
  layer(
    ['src/protocol/**/*.ts'],
    [...nodeIo, 'electron', '**/tap/**', '**/cast/**', '**/proxy/**', '**/recorder/**', '**/store/**', '**/live/**', '**/console/**', '**/localcluster/**', '**/commands/**'],
    'protocol/ is the bottom layer: bytes in, frames out',
  ),
  // The renderer talks to the console API only; it may share type declarations with src/console.
  layer(['renderer/**/*.ts'], ['electron', 'node:*', '**/src/proxy/**', '**/src/recorder/**', '**/src/store/**', '**/src/live/**', '**/src/localcluster/**', '**/src/tap/**'], 'renderer/ depends only on the console API'),
);
