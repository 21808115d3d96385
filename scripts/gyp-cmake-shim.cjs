#!/usr/bin/env node
// Called by binding.gyp's action: runs the cmake-js build in build-cmake/ (cmake-js must not
// use build/, where node-gyp keeps its own Makefile) and copies the addon and the first-stage
// loader to node-gyp's product folder (build/Release), where the loader looks for them.
// This is the source-build fallback of `npm install` on machines with no platform package, so
// a missing tool is reported in one paragraph with the command that installs it.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const productDir = path.resolve(process.argv[2] || path.join(root, 'build', 'Release'));

const missing = [];
if (spawnSync('cmake', ['--version']).status !== 0) missing.push('cmake (≥ 3.22)');
if (spawnSync(process.env.CXX || 'c++', ['--version']).status !== 0) missing.push('a C++17 compiler (g++ or clang++)');
if (missing.length > 0) {
  console.error(
    `\nalign-detr: cannot build from source: ${missing.join(' and ')} not found. No prebuilt binary matches this ` +
      `machine (${process.platform}-${process.arch}), so install builds the addon against a libtorch. Install the tools ` +
      '(Debian/Ubuntu: `sudo apt-get install -y cmake g++`), provide a libtorch (LIBTORCH=/path/to/libtorch, ' +
      "python3's torch, or `sudo apt-get install -y libtorch-dev libgloo-dev`), then run `npm rebuild align-detr`.\n",
  );
  process.exit(1);
}
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('\nalign-detr: cannot build from source: the cmake-js package is missing (reinstall align-detr).\n');
  process.exit(1);
}
try {
  execFileSync(process.execPath, [cmakeJs, 'compile', '-O', 'build-cmake'], { cwd: root, stdio: 'inherit' });
} catch {
  console.error(
    '\nalign-detr: the source build failed (the CMake output above says why; a missing libtorch is the usual cause: ' +
      "set LIBTORCH=/path/to/libtorch, install python3's torch, or `sudo apt-get install -y libtorch-dev libgloo-dev`, " +
      'then run `npm rebuild align-detr`).\n',
  );
  process.exit(1);
}
fs.mkdirSync(productDir, { recursive: true });
for (const f of ['align_detr.node', 'align_detr_preload.node']) {
  fs.copyFileSync(path.join(root, 'build-cmake', 'Release', f), path.join(productDir, f));
}
