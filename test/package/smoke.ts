// The installed-package smoke test (run by test/package/run.sh inside a mount namespace where the
// system libtorch, the compilers and cmake are hidden), compiled twice: to CommonJS and to ESM.
// Creates the tiny preset, trains a few steps on BCCD, predicts, saves, loads, predicts again,
// and checks that the process runs on the bundled libtorch. Prints one JSON line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Trainer, buildInfo, datasets } from 'align-detr';
import type { Dataset } from 'align-detr';

function fail(message: string): never {
  console.error(`smoke: ${message}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const bccd = process.env.BCCD_ROOT ?? fail('BCCD_ROOT is not set');
  const expectLibDir = process.env.EXPECT_LIBTORCH_DIR ?? fail('EXPECT_LIBTORCH_DIR is not set');
  const info = buildInfo();
  if (!info.libtorchPath.startsWith(fs.realpathSync(expectLibDir) + path.sep)) {
    fail(`libtorch loaded from ${info.libtorchPath}, expected under ${expectLibDir}`);
  }
  if (!/^2\./.test(info.libtorchVersion)) fail(`libtorch ${info.libtorchVersion}, expected 2.x`);
  const all = await datasets.voc({ root: bccd, split: 'train' });
  // Four images are enough to see the loss move.
  const subset: Dataset = { name: all.name, categories: all.categories, warnings: all.warnings, length: 4,
    annotation: (i) => all.annotation(i), get: (i) => all.get(i) };
  const model = await AlignDetr.create({ preset: 'tiny', categories: [...all.categories], seed: 7 } as Parameters<typeof AlignDetr.create>[0]);
  const trainer = new Trainer(model, { lr: 4e-4 });
  const history = await trainer.fit(subset, { epochs: 2, batchSize: 2, augment: 'none' });
  const losses = history.epochs.map((e) => e.loss);
  if (history.steps !== 4) fail(`trained ${history.steps} steps, expected 4`);
  if (!losses.every(Number.isFinite)) fail(`non-finite losses ${losses}`);
  const image = path.join(bccd, 'BCCD', 'JPEGImages', 'BloodImage_00000.jpg');
  const [before] = await model.predict(image, { scoreThreshold: 0 });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-smoke-')), 'm.adetr');
  await model.save(file);
  const loaded = await AlignDetr.load(file);
  const [after] = await loaded.predict(image, { scoreThreshold: 0 });
  if (before.length === 0 || JSON.stringify(before.slice(0, 10)) !== JSON.stringify(after.slice(0, 10))) {
    fail('predictions of the loaded model differ from the saved one');
  }
  console.log(JSON.stringify({ ok: true, libtorchPath: info.libtorchPath, libtorchVersion: info.libtorchVersion, losses, detections: before.length }));
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
