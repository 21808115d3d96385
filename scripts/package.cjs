#!/usr/bin/env node
// `npm run package`: builds every package this machine can build and leaves the tarballs in packed/.
//
//   @align-detr/libtorch-linux-x64  libc10, libtorch_cpu, libtorch and libgomp of PyTorch's CPU
//                                   libtorch 2.x (at release: PyTorch's published CPU build; here
//                                   the same binaries, from the CPU `torch` wheel);
//   @align-detr/linux-x64           the addon built against it (RPATH $ORIGIN-relative, package mode)
//                                   and the first-stage loader;
//   @align-detr/linux-x64-cuda      only where the libtorch given is a CUDA build (a GPU machine):
//                                   the addon alone, its libtorch found at load;
//   align-detr                      the main package, listing the platform packages as exact-version
//                                   optionalDependencies (os/cpu/libc select the one npm installs).
//
// libtorch: LIBTORCH (a libtorch root, or a torch package folder), else python3's torch.
// Options: --no-build (reuse build-pkg/), --out DIR (default packed/).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const outDir = path.resolve(opt('--out') ?? path.join(root, 'packed'));
const buildDir = path.join(root, 'build-pkg');
const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const version = main.version;
const platform = `${process.platform}-${process.arch}`;
if (platform !== 'linux-x64') {
  console.error(`align-detr package: platform packages are built for linux-x64 only (this is ${platform})`);
  process.exit(1);
}

function fail(message) {
  console.error(`align-detr package: ${message}`);
  process.exit(1);
}

// ---- libtorch ------------------------------------------------------------------------------
function resolveLibtorch() {
  let dir = process.env.LIBTORCH;
  if (!dir) {
    const r = spawnSync('python3', ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], { encoding: 'utf8' });
    if (r.status !== 0) {
      fail('no libtorch 2.x: set LIBTORCH to a libtorch root (PyTorch\'s published CPU build), or make python3 import torch ' +
           '(e.g. python3 -m venv .venv && .venv/bin/pip install torch, then LIBTORCH=$(.venv/bin/python -c "import torch, os; print(os.path.dirname(torch.__file__))")).');
    }
    dir = r.stdout.trim();
  }
  dir = path.resolve(dir);
  const lib = path.join(dir, 'lib');
  for (const f of ['libc10.so', 'libtorch_cpu.so', 'libtorch.so']) {
    if (!fs.existsSync(path.join(lib, f))) fail(`${dir} is not a libtorch 2.x root: no lib/${f}`);
  }
  // The one reader of libtorch versions (lib/loader/libtorch.ts, built into dist/ first).
  const { versionOf } = require(path.join(root, 'dist', 'lib', 'loader', 'libtorch.js'));
  const v = versionOf(dir);
  if (!v.version || !/^2\./.test(v.version)) fail(`${dir}: expected libtorch 2.x, found ${v.full ?? 'an unknown version'}`);
  const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
  return { dir, lib, version: v.version, full: v.full, cuda, cudaVersion: cuda ? v.cuda : undefined };
}

// ---- build -----------------------------------------------------------------------------------
function build(libtorch) {
  if (args.includes('--no-build') && fs.existsSync(path.join(buildDir, 'Release', 'align_detr.node'))) return;
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  execFileSync(process.execPath, [cmakeJs, 'compile', '-O', 'build-pkg', '--CDALIGN_DETR_RPATH_MODE=package'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, LIBTORCH: libtorch.dir, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? '2' },
  });
}

// ---- staging ---------------------------------------------------------------------------------
const common = { version, license: main.license, os: ['linux'], cpu: ['x64'], libc: ['glibc'], preferUnplugged: true };

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function copyLib(from, toDir) {
  const target = path.join(toDir, path.basename(from));
  fs.copyFileSync(fs.realpathSync(from), target);
  fs.chmodSync(target, 0o755);
}

function stageLibtorch(stage, libtorch) {
  const dir = path.join(stage, 'libtorch-linux-x64');
  fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
  // The addon needs libc10, libtorch_cpu and libtorch; libtorch_cpu needs the libgomp it was built with.
  const libraries = ['libc10.so', 'libtorch_cpu.so', 'libtorch.so'];
  for (const f of [...libraries, 'libgomp.so.1']) copyLib(path.join(libtorch.lib, f), path.join(dir, 'lib'));
  writeJson(path.join(dir, 'package.json'), {
    name: '@align-detr/libtorch-linux-x64',
    description: `PyTorch's libtorch ${libtorch.version} (CPU, cxx11 ABI) shared libraries for align-detr`,
    ...common,
    main: 'index.js',
    files: ['index.js', 'lib/', 'LICENSE-libtorch.txt'],
    libtorch: { version: libtorch.version, build: libtorch.full },
  });
  fs.writeFileSync(path.join(dir, 'index.js'),
    "'use strict';\nconst path = require('node:path');\nconst pkg = require('./package.json');\n" +
    'module.exports = {\n  libDir: path.join(__dirname, \'lib\'),\n  packageVersion: pkg.version,\n' +
    '  version: pkg.libtorch.version,\n' +
    `  libraries: ${JSON.stringify(libraries)},\n};\n`);
  const license = ['LICENSE', 'LICENSE.txt'].map((f) => path.join(libtorch.dir, '..', `torch-${libtorch.full}.dist-info`, f)).find(fs.existsSync)
    ?? [path.join(libtorch.dir, 'LICENSE'), path.join(libtorch.dir, '..', 'LICENSE')].find(fs.existsSync);
  fs.writeFileSync(path.join(dir, 'LICENSE-libtorch.txt'), license ? fs.readFileSync(license) : 'PyTorch is BSD-3-Clause licensed: https://github.com/pytorch/pytorch/blob/main/LICENSE\n');
  return dir;
}

function stageAddon(stage, libtorch, variant) {
  const name = variant === 'cuda' ? 'linux-x64-cuda' : 'linux-x64';
  const dir = path.join(stage, name);
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  for (const f of ['align_detr.node', 'align_detr_preload.node']) {
    const target = path.join(dir, 'bin', f);
    fs.copyFileSync(path.join(buildDir, 'Release', f), target);
    spawnSync('strip', ['--strip-unneeded', target]);
  }
  const libtorchInfo = { version: libtorch.version, ...(variant === 'cuda' ? { cuda: libtorch.cudaVersion } : { package: '@align-detr/libtorch-linux-x64' }) };
  writeJson(path.join(dir, 'package.json'), {
    name: `@align-detr/${name}`,
    description: `align-detr's native addon for linux-x64 (${variant === 'cuda' ? `CUDA ${libtorch.cudaVersion}` : 'CPU'}, libtorch ${libtorch.version})`,
    ...common,
    main: 'index.js',
    files: ['index.js', 'bin/'],
    ...(variant === 'cpu' ? { dependencies: { '@align-detr/libtorch-linux-x64': version } } : {}),
    libtorch: libtorchInfo,
  });
  fs.writeFileSync(path.join(dir, 'index.js'),
    "'use strict';\nconst path = require('node:path');\nconst pkg = require('./package.json');\n" +
    `module.exports = { binsDir: path.join(__dirname, 'bin'), packageVersion: pkg.version, variant: '${variant}', libtorch: pkg.libtorch };\n`);
  return dir;
}

function stageMain(stage, optional) {
  const dir = path.join(stage, 'align-detr');
  const listed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }))[0].files;
  for (const { path: rel } of listed) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(root, rel), path.join(dir, rel));
  }
  const manifest = { ...main, optionalDependencies: { ...(main.optionalDependencies ?? {}), ...optional } };
  writeJson(path.join(dir, 'package.json'), manifest);
  return dir;
}

function pack(dir) {
  const out = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', outDir], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 }))[0];
  return { name: out.name, file: path.join(outDir, out.filename), packedBytes: out.size, unpackedBytes: out.unpackedSize, files: out.entryCount };
}

function main_() {
  if (!fs.existsSync(path.join(root, 'dist', 'lib', 'index.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: root, stdio: 'inherit' });
  const libtorch = resolveLibtorch();
  console.log(`align-detr package: libtorch ${libtorch.full} from ${libtorch.dir}${libtorch.cuda ? ' (CUDA)' : ''}`);
  build(libtorch);
  fs.rmSync(path.join(outDir, 'stage'), { recursive: true, force: true });
  const stage = path.join(outDir, 'stage');
  fs.mkdirSync(stage, { recursive: true });
  const dirs = [];
  const optional = {};
  if (libtorch.cuda) {
    dirs.push(stageAddon(stage, libtorch, 'cuda'));
    optional['@align-detr/linux-x64-cuda'] = version;
  } else {
    dirs.push(stageLibtorch(stage, libtorch), stageAddon(stage, libtorch, 'cpu'));
    optional['@align-detr/linux-x64'] = version;
    optional['@align-detr/libtorch-linux-x64'] = version;
  }
  if (process.env.ALIGN_DETR_PACKAGE_LIST_CUDA === '1') optional['@align-detr/linux-x64-cuda'] = version;
  dirs.push(stageMain(stage, optional));
  const results = dirs.map(pack);
  writeJson(path.join(outDir, 'sizes.json'), results.map(({ file, ...r }) => ({ ...r, tarball: path.basename(file) })));
  const mb = (n) => `${(n / 1048576).toFixed(1)} MiB`;
  for (const r of results) console.log(`${r.name}: ${path.relative(root, r.file)} packed ${mb(r.packedBytes)}, unpacked ${mb(r.unpackedBytes)}, ${r.files} files`);
}

main_();
