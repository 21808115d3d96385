// The package's two entries: `import 'align-detr'` (dist/esm/index.mjs, written by
// scripts/build-esm.cjs) and `require('align-detr')` (dist/lib/index.js). The ES module must
// export every name of the CommonJS one, as the very same objects, and work. Run in a child
// process from the checkout, which resolves 'align-detr' to itself through package.json's
// `exports`.
import test from 'ava';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '../..');

test('import and require give the same exports, and the ES module works', (t) => {
  const script = `
    import * as esm from 'align-detr';
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)('align-detr');
    const names = Object.keys(cjs).filter((n) => n !== '__esModule').sort();
    const missing = names.filter((n) => !(n in esm));
    const different = names.filter((n) => n in esm && esm[n] !== cjs[n]);
    const extra = Object.keys(esm).filter((n) => !(n in cjs));
    const t = esm.Tensor.from(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const sameClass = t instanceof cjs.Tensor;
    const values = Array.from(t.toTypedArray());
    console.log(JSON.stringify({ names: names.length, missing, different, extra, sameClass, values,
      esmFile: import.meta.resolve('align-detr'), cjsFile: createRequire(import.meta.url).resolve('align-detr') }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  t.true((out.names as number) > 40, `${out.names} names`);
  t.deepEqual(out.missing, []);
  t.deepEqual(out.different, []);
  t.deepEqual(out.extra, []);
  t.true(out.sameClass as boolean, 'one Tensor class for both entries');
  t.deepEqual(out.values, [1, 2, 3, 4]);
  t.regex(String(out.esmFile), /\/dist\/esm\/index\.mjs$/);
  t.regex(String(out.cjsFile), /\/dist\/lib\/index\.js$/);
});
