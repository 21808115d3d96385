#!/usr/bin/env node
// Called by binding.gyp's action: runs the cmake-js build in build-cmake/ (cmake-js must not
// use build/, where node-gyp keeps its own Makefile) and copies the addon to node-gyp's
// product folder (build/Release), where prebuildify and node-gyp-build look for it.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const productDir = path.resolve(process.argv[2] || path.join(root, 'build', 'Release'));
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
execFileSync(process.execPath, [cmakeJs, 'compile', '-O', 'build-cmake'], { cwd: root, stdio: 'inherit' });
fs.mkdirSync(productDir, { recursive: true });
fs.copyFileSync(path.join(root, 'build-cmake', 'Release', 'align_detr.node'), path.join(productDir, 'align_detr.node'));
