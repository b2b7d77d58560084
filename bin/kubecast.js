#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('kubecast: dist/cli.js is missing; run `npm run build` (npm ci does it for you).\n');
  process.exit(1);
}
require(cli);
