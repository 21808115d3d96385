#!/usr/bin/env node
// Builds the prebuilt binary for this platform: prebuildify runs `node-gyp rebuild`, which
// binding.gyp turns into the CMake build, and stores the result as
// prebuilds/<platform>-<arch>/node.napi.node (the name @electron/rebuild recognises, so Electron
// apps never try to rebuild the package). libtorch is never copied into prebuilds/.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const prebuildify = require.resolve('prebuildify/bin.js');
execFileSync(process.execPath, [prebuildify, '--napi', '--strip', '--name', 'node.napi'], { cwd: root, stdio: 'inherit' });
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
for (const file of fs.readdirSync(dir)) {
  if (!file.endsWith('.node')) {
    fs.rmSync(path.join(dir, file));
    console.log(`removed ${file} from ${dir}: shared libraries are not shipped in prebuilds`);
  }
}
console.log(`prebuilt: ${fs.readdirSync(dir).map((f) => path.join(dir, f)).join(', ')}`);
