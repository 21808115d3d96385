// The CMake build's libtorch resolution: with nothing to find, configuring fails with a
// message naming everything searched and the exact install command.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

test('configure without any libtorch names what was searched and how to install it', (t) => {
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-cfg-'));
  const env = { ...process.env };
  delete env.LIBTORCH;
  delete env.Torch_DIR;
  const r = spawnSync(
    'cmake',
    ['-S', root, '-B', buildDir, '-DALIGN_DETR_SKIP_PYTHON_TORCH=ON', '-DALIGN_DETR_SYSTEM_TORCH_DIRS=/nonexistent/cmake/Torch', '-DALIGN_DETR_BUILD_ADDON=OFF'],
    { env, encoding: 'utf8' },
  );
  fs.rmSync(buildDir, { recursive: true, force: true });
  t.not(r.status, 0);
  const out = (r.stdout + r.stderr).replace(/\s+/g, ' ');
  t.regex(out, /align-detr: libtorch was not found/);
  t.regex(out, /LIBTORCH and Torch_DIR \(both unset\)/);
  t.regex(out, /\/nonexistent\/cmake\/Torch/);
  t.regex(out, /apt-get install -y libtorch-dev libgloo-dev/);
});

test('LIBTORCH pointing at a folder without libtorch is rejected by name', (t) => {
  const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-cfg-'));
  const r = spawnSync('cmake', ['-S', root, '-B', buildDir, '-DALIGN_DETR_BUILD_ADDON=OFF'], {
    env: { ...process.env, LIBTORCH: '/nonexistent-libtorch' },
    encoding: 'utf8',
  });
  fs.rmSync(buildDir, { recursive: true, force: true });
  t.not(r.status, 0);
  t.regex((r.stdout + r.stderr).replace(/\s+/g, " "), /LIBTORCH=\/nonexistent-libtorch has no share\/cmake\/Torch\/TorchConfig.cmake/);
});
