// `npm start`: build, make the native addons Electron's, launch the desktop app.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ensureElectronNative } from './native.mjs';

const version = JSON.parse(readFileSync('node_modules/electron/package.json', 'utf8')).version;
ensureElectronNative(version);
// Electron 42+ downloads its binary on first launch (no postinstall).
const child = spawn(process.platform === 'win32' ? 'node_modules\\.bin\\electron.cmd' : 'node_modules/.bin/electron', ['.', ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
