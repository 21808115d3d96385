// The seeds' comparison table at small scale (not a test): the same BCCD run (train split, E
// epochs, batch 2, the same model and trainer seeds) for each recipe, evaluated on the test
// split. Recipes: Align-DETR ('align'), DINO's focal loss ('focal'), Stable-DINO (dense memory
// fusion + its loss and position-modulated cost) and SD-DETR (the decoupled decoder + its task
// alignment loss), all on the tiny preset so a CPU can run them.
//
//   npx tsc -p tsconfig.json && node dist/bench/train/compare.js [--epochs 12] [--recipes align,focal,stable-dino,sd-detr] [--out DIR]
//
// Each finished recipe is appended to DIR/compare.jsonl, so a long run can be read as it goes;
// the table at the end is Markdown for the README. BCCD is read from ../shared/data/bccd (or
// $ALIGN_DETR_BCCD).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, buildInfo, datasets } from '../../lib/index';
import type { CreateOptions, LossKind } from '../../lib/index';
import { Trainer } from '../../lib/trainer';
import { arg, cpuSummary } from '../support';

interface Recipe {
  model: Partial<CreateOptions>;
  loss: LossKind;
}

const RECIPES: Record<string, Recipe> = {
  align: { model: {}, loss: 'align' },
  focal: { model: {}, loss: 'focal' },
  'stable-dino': { model: { memoryFusion: 'dense' }, loss: 'stable-dino' },
  'sd-detr': { model: { decoder: 'decoupled' }, loss: 'sd-align' },
};

async function main(): Promise<void> {
  const epochs = Number(arg('epochs', '12'));
  const names = arg('recipes', Object.keys(RECIPES).join(',')).split(',');
  for (const n of names) if (!RECIPES[n]) throw new RangeError(`--recipes: unknown recipe '${n}' (${Object.keys(RECIPES).join(', ')})`);
  const out = path.resolve(arg('out', path.join(os.tmpdir(), 'adetr-compare')));
  fs.mkdirSync(out, { recursive: true });
  const root = process.env.ALIGN_DETR_BCCD ?? path.resolve(__dirname, '../../../../shared/data/bccd');
  const train = await datasets.voc({ root, split: 'train', filterEmpty: true });
  const test = await datasets.voc({ root, split: 'test' });
  const info = buildInfo();
  console.log(`machine: ${cpuSummary()}; libtorch ${info.libtorchVersion}, ${info.numThreads} threads`);
  console.log(`BCCD: ${train.length} train / ${test.length} test images; tiny preset, ${epochs} epochs, batch 2, lr 4e-4, seed 1`);
  const rows: string[] = [];
  for (const name of names) {
    const recipe = RECIPES[name]!;
    const model = await AlignDetr.create({ preset: 'tiny', categories: train.categories, seed: 1, ...recipe.model });
    const trainer = new Trainer(model, { lr: 4e-4, loss: recipe.loss, seed: 1 });
    const start = Date.now();
    const history = await trainer.fit(train, { epochs, batchSize: 2 });
    const minutes = (Date.now() - start) / 60_000;
    const r = await trainer.evaluate(test);
    const row = { recipe: name, loss: recipe.loss, ...recipe.model, epochs, steps: history.steps, minutes, AP: r.AP, AP50: r.AP50, AP75: r.AP75 };
    fs.appendFileSync(path.join(out, 'compare.jsonl'), `${JSON.stringify(row)}\n`);
    console.log(JSON.stringify(row));
    rows.push(`| ${name} | ${recipe.loss} | ${r.AP.toFixed(3)} | ${r.AP50.toFixed(3)} | ${r.AP75.toFixed(3)} | ${history.steps} | ${minutes.toFixed(1)} |`);
    model.dispose();
  }
  console.log('\n| recipe | loss | AP | AP50 | AP75 | steps | minutes |\n|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
