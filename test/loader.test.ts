// The binary chooser and the CUDA-libtorch resolution, without installing anything: platform
// packages and libtorch roots are built as folders here (broken on purpose where the test says).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findAddonPackage, findLibtorchPackage } from '../lib/loader/packages';
import { checkCudaLibtorch, findCudaLibtorch } from '../lib/loader/libtorch';
import { installLibtorch } from '../lib/cli/install-libtorch';
import { describeCandidates } from '../lib/native';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-loader-'));

function fakePackage(base: string, name: string, version: string, index: string, files: Record<string, Buffer | string>): string {
  const dir = path.join(base, 'node_modules', ...name.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), index);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const addonIndex = (variant: string) =>
  `const path = require('node:path'); module.exports = { binsDir: path.join(__dirname, 'bin'), packageVersion: require('./package.json').version, variant: '${variant}', libtorch: { version: '2.13.0', cuda: '12.8' } };`;

function fakeLibtorch(root: string, opts: { cuda: boolean; version: string }): string {
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  const libs = ['libc10.so', 'libtorch_cpu.so', 'libtorch.so', ...(opts.cuda ? ['libc10_cuda.so', 'libtorch_cuda.so'] : [])];
  for (const l of libs) fs.writeFileSync(path.join(root, 'lib', l), 'not really a library');
  fs.writeFileSync(path.join(root, 'build-version'), `${opts.version}${opts.cuda ? '+cu128' : '+cpu'}\n`);
  return root;
}

test('a platform package of another version is refused, naming both versions', (t) => {
  const base = path.join(tmp, 'version');
  fakePackage(base, '@align-detr/linux-x64', '9.9.9', addonIndex('cpu'), { 'bin/align_detr.node': Buffer.alloc(8192), 'bin/align_detr_preload.node': 'x' });
  const found = findAddonPackage('cpu', [base], '0.1.0');
  t.regex(found.problem ?? '', /version 9\.9\.9 does not match align-detr 0\.1\.0/);
});

test('a partial or corrupt platform package is refused, naming the file', (t) => {
  const base = path.join(tmp, 'partial');
  fakePackage(base, '@align-detr/linux-x64', '0.1.0', addonIndex('cpu'), { 'bin/align_detr_preload.node': 'x' });
  t.regex(findAddonPackage('cpu', [base], '0.1.0').problem ?? '', /bin\/align_detr\.node is missing/);
  fs.writeFileSync(path.join(base, 'node_modules/@align-detr/linux-x64/bin/align_detr.node'), 'short');
  t.regex(findAddonPackage('cpu', [base], '0.1.0').problem ?? '', /align_detr\.node is truncated \(5 bytes/);
  fakePackage(base, '@align-detr/libtorch-linux-x64', '0.1.0',
    "module.exports = { libDir: require('node:path').join(__dirname, 'lib'), packageVersion: '0.1.0', version: '2.13.0', libraries: ['libc10.so', 'libtorch_cpu.so'] };",
    { 'lib/libc10.so': 'x' });
  t.regex(findLibtorchPackage([base], '0.1.0').problem ?? '', /lib\/libtorch_cpu\.so is missing/);
  fakePackage(base, '@align-detr/linux-x64-cuda', '0.1.0', 'throw new Error("boom")', {});
  t.regex(findAddonPackage('cuda', [base], '0.1.0').problem ?? '', /index\.js fails to load \(boom\)/);
  t.is(findAddonPackage('cuda', [path.join(tmp, 'nothing')], '0.1.0').problem, 'not installed');
});

test('a CUDA libtorch must have the CUDA libraries and the version the addon was built against', (t) => {
  const cpu = fakeLibtorch(path.join(tmp, 'lt-cpu'), { cuda: false, version: '2.13.0' });
  t.regex(checkCudaLibtorch(cpu, '2.13.0') ?? '', /is not a CUDA libtorch \(no lib\/libc10_cuda\.so\)/);
  const old = fakeLibtorch(path.join(tmp, 'lt-old'), { cuda: true, version: '2.7.1' });
  t.regex(checkCudaLibtorch(old, '2.13.0') ?? '', /is libtorch 2\.7\.1; the CUDA addon needs 2\.13\.x/);
  const good = fakeLibtorch(path.join(tmp, 'lt-good'), { cuda: true, version: '2.13.1' });
  t.is(checkCudaLibtorch(good, '2.13.0'), undefined);
});

test.serial('CUDA libtorch resolution: ALIGN_DETR_LIBTORCH first, each miss recorded', (t) => {
  fakeLibtorch(path.join(tmp, 'res-old'), { cuda: true, version: '2.7.1' });
  fakeLibtorch(path.join(tmp, 'res-good'), { cuda: true, version: '2.13.1' });
  const saved = { ...process.env };
  try {
    process.env.ALIGN_DETR_LIBTORCH = path.join(tmp, 'res-old');
    process.env.LIBTORCH = path.join(tmp, 'res-good');
    process.env.XDG_CACHE_HOME = path.join(tmp, 'empty-cache');
    const r = findCudaLibtorch('2.13.0');
    t.is(r.found?.root, path.join(tmp, 'res-good'));
    t.is(r.found?.source, `LIBTORCH=${path.join(tmp, 'res-good')}`);
    t.regex(r.tried[0]!, /^ALIGN_DETR_LIBTORCH=.*res-old: .*is libtorch 2\.7\.1/);
  } finally {
    process.env = saved;
  }
});

test.serial('install-libtorch: a downloaded zip is checksum-verified, unpacked, checked and found in the cache', async (t) => {
  const src = fakeLibtorch(path.join(tmp, 'zipsrc', 'libtorch'), { cuda: true, version: '2.13.0' });
  const zip = path.join(tmp, 'libtorch-cu128.zip');
  const z = spawnSync('python3', ['-m', 'zipfile', '-c', zip, src], { encoding: 'utf8' });
  if (z.status !== 0) return t.pass('python3 zipfile unavailable: skipped');
  const sha = createHash('sha256').update(fs.readFileSync(zip)).digest('hex');
  const saved = { ...process.env };
  process.env.XDG_CACHE_HOME = path.join(tmp, 'cache');
  const log: string[] = [];
  try {
    await t.throwsAsync(installLibtorch({ cuda: '12.8', zip, sha256: '0'.repeat(64), log: (l) => log.push(l) }), { message: /checksum mismatch for .*libtorch-cu128\.zip/ });
    await t.throwsAsync(installLibtorch({ cuda: '12.8', zip, log: (l) => log.push(l) }), { message: /no checksum is known .* pass --sha256/ });
    await t.throwsAsync(installLibtorch({ cuda: '11.1', zip, sha256: sha }), { instanceOf: RangeError, message: /^--cuda: expected one of/ });
    await t.throwsAsync(installLibtorch({ cuda: '12.8', version: '2.7.0', zip, sha256: sha, log: (l) => log.push(l) }), { message: /does not hold a CUDA libtorch 2\.7\.0: .*is libtorch 2\.13\.0/ });
    const root = await installLibtorch({ cuda: '12.8', zip, sha256: sha, log: (l) => log.push(l) });
    t.true(fs.existsSync(path.join(root, 'lib', 'libtorch_cuda.so')));
    delete process.env.ALIGN_DETR_LIBTORCH;
    delete process.env.LIBTORCH;
    const r = findCudaLibtorch('2.13.0', '12.8');
    t.is(r.found?.root, root);
    t.regex(r.found?.source ?? '', /^cache /);
    // Nothing half-unpacked is left beside it.
    t.deepEqual(fs.readdirSync(path.dirname(root)), ['libtorch']);
  } finally {
    process.env = saved;
  }
});

test.serial('ALIGN_DETR_VARIANT accepts only cpu or cuda', (t) => {
  const saved = process.env.ALIGN_DETR_VARIANT;
  process.env.ALIGN_DETR_VARIANT = 'metal';
  try {
    t.throws(() => describeCandidates(), { message: /ALIGN_DETR_VARIANT must be 'cpu' or 'cuda', got 'metal'/ });
  } finally {
    if (saved === undefined) delete process.env.ALIGN_DETR_VARIANT;
    else process.env.ALIGN_DETR_VARIANT = saved;
  }
});
