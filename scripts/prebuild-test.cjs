// The install script's check (package.json "install": "node-gyp-build", whose test hook is
// "prebuild.test"): exits 0 when a binary is at hand, so nothing is built; otherwise 1, and
// node-gyp-build builds from source (`node-gyp rebuild` → binding.gyp's shim → cmake-js).
// A binary is at hand when: this is a development checkout (it builds with `npm run build`);
// ALIGN_DETR_ADDON names one; the platform package for this machine is installed with its files;
// or prebuilds/<platform>-<arch>/ holds one. Nothing is dlopened here (libtorch is loaded at run time).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tag = `${process.platform}-${process.arch}`;
const reasons = [];

function platformPackageReady() {
  for (const name of [`@align-detr/${tag}`, `@align-detr/${tag}-cuda`]) {
    let dir;
    try {
      dir = path.dirname(require.resolve(`${name}/package.json`, { paths: [root] }));
    } catch {
      reasons.push(`${name} is not installed`);
      continue;
    }
    if (fs.existsSync(path.join(dir, 'bin', 'align_detr.node'))) return true;
    reasons.push(`${name} has no bin/align_detr.node`);
  }
  return false;
}

function prebuildReady() {
  const dir = path.join(root, 'prebuilds', tag);
  if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node'))) return true;
  reasons.push(`no ${path.join('prebuilds', tag)}`);
  return false;
}

const devCheckout = fs.existsSync(path.join(root, 'tsconfig.json')) && fs.existsSync(path.join(root, 'test'));
if (devCheckout || process.env.ALIGN_DETR_ADDON || platformPackageReady() || prebuildReady()) process.exit(0);
console.error(`align-detr: no prebuilt binary for ${tag} (${reasons.join('; ')}): building from source.`);
process.exit(1);
