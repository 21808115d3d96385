// node-gyp-build-test hook (package.json "prebuild.test"): checks that a prebuilt binary for
// this platform is present without dlopen-ing it, so a machine that has not installed libtorch
// yet is not pushed into a source build at install time.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dir = path.join(__dirname, '..', 'prebuilds', `${process.platform}-${process.arch}`);
const found = fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node'));
if (!found) {
  console.error(`align-detr: no prebuilt binary in ${dir}`);
  process.exit(1);
}
