// BCCD result and training speed (not a test): trains a preset on BCCD's train split for a fixed
// wall-clock budget, evaluates on the test split, and prints steps/s and the COCO stats.
//
//   npx tsc -p tsconfig.json && node dist/bench/train/bccd.js [--minutes 20] [--steps N] [--preset tiny] [--lr 4e-4] [--batch-size 2] [--out DIR]
//
// BCCD is read from ../shared/data/bccd (or $ALIGN_DETR_BCCD).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, buildInfo, datasets } from '../../lib/index';
import type { Preset } from '../../lib/index';
import { Trainer } from '../../lib/trainer';
import { arg, cpuSummary } from '../support';

async function main(): Promise<void> {
  const minutes = Number(arg('minutes', '20'));
  // --steps N: stop after N optimizer steps (a budget that does not depend on the machine's load).
  const maxSteps = Number(arg('steps', '0'));
  const preset = arg('preset', 'tiny') as Preset;
  const lr = Number(arg('lr', '4e-4'));
  const batchSize = Number(arg('batch-size', '2'));
  const out = path.resolve(arg('out', path.join(os.tmpdir(), 'adetr-bccd')));
  const root = process.env.ALIGN_DETR_BCCD ?? path.resolve(__dirname, '../../../../shared/data/bccd');
  const train = await datasets.voc({ root, split: 'train', filterEmpty: true });
  const test = await datasets.voc({ root, split: 'test' });
  const info = buildInfo();
  console.log(`machine: ${cpuSummary()}; libtorch ${info.libtorchVersion}, ${info.numThreads} threads`);
  console.log(`BCCD: ${train.length} train / ${test.length} test images; preset ${preset}; lr ${lr}; batch ${batchSize}; ${minutes} min`);
  const model = await AlignDetr.create({ preset, categories: train.categories });
  const trainer = new Trainer(model, { lr });
  const start = Date.now();
  let lastLog = 0;
  const stop = new AbortController();
  const history = await trainer.fit(train, {
    epochs: 1000,
    batchSize,
    maxMinutes: minutes,
    checkpointDir: out,
    signal: stop.signal,
    onProgress: (e) => {
      if (e.type === 'step' && maxSteps > 0 && e.step >= maxSteps) stop.abort();
      if (e.type === 'step' && Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        console.log(`step ${e.step} epoch ${e.epoch + 1} loss ${e.loss.toFixed(3)} ${(e.step / ((Date.now() - start) / 1000)).toFixed(2)} steps/s`);
      } else if (e.type === 'epoch') console.log(`epoch ${e.epoch + 1} mean loss ${e.loss.toFixed(3)}`);
    },
  });
  const trainSeconds = (Date.now() - start) / 1000;
  await model.save(path.join(out, 'model.adetr'));
  const evalStart = Date.now();
  const result = await trainer.evaluate(test);
  const evalSeconds = (Date.now() - evalStart) / 1000;
  const summary = {
    preset, minutes, steps: history.steps, epochs: history.epochs.length,
    stepsPerSecond: history.steps / trainSeconds, imagesPerSecond: (history.steps * batchSize) / trainSeconds,
    evalSeconds, AP: result.AP, AP50: result.AP50, AP75: result.AP75, stats: result.stats,
  };
  fs.writeFileSync(path.join(out, 'bccd-result.json'), JSON.stringify(summary, null, 2));
  console.log(`trained ${history.steps} steps (${history.epochs.length} epochs) in ${trainSeconds.toFixed(0)} s: ` +
    `${summary.stepsPerSecond.toFixed(3)} steps/s, ${summary.imagesPerSecond.toFixed(2)} images/s`);
  console.log(`BCCD test: AP ${result.AP.toFixed(4)}, AP50 ${result.AP50.toFixed(4)}, AP75 ${result.AP75.toFixed(4)} (eval ${evalSeconds.toFixed(0)} s)`);
  console.log(JSON.stringify(summary));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
