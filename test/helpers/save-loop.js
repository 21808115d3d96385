// A child process for test/save-kill.test.ts: saves two tiny models (seeds 1 and 2) in turn to the
// same path, and training checkpoints of them to another path in the same folder, for ever; the
// parent kills it with SIGKILL. Prints one line per event, synchronously (stdout is a pipe):
//   ready <pid>            models made, about to save
//   begin <kind> <n>       a save starts (kind: model | checkpoint | fit)
//   saved <kind> <n> <A|B> a save completed (the file under the final name is that model's)
//   node save-loop.js <dist/lib/index.js> <dir> [fit]
// With `fit`, the checkpoint is written by Trainer.fit's checkpointDir (after every epoch).
'use strict';
const path = require('node:path');
const [lib, dir, mode] = process.argv.slice(2);
const { AlignDetr, Trainer, datasets } = require(lib);

const say = (line) => process.stdout.write(`${line}\n`);

(async () => {
  const a = await AlignDetr.create({ preset: 'tiny', numClasses: 2, seed: 1 });
  const b = await AlignDetr.create({ preset: 'tiny', numClasses: 2, seed: 2 });
  const models = [['A', a, new Trainer(a, { lr: 1e-4 })], ['B', b, new Trainer(b, { lr: 1e-4 })]];
  const modelFile = path.join(dir, 'model.adetr');
  const checkpointFile = path.join(dir, 'last.adetr');
  say(`ready ${process.pid}`);
  if (mode === 'fit') {
    // Checkpoints from fit: one tiny image per epoch, a checkpoint after each (lr 0: the weights stay A's).
    const data = await datasets.synthetic({ numImages: 1, seed: 1, numClasses: 2, minObjects: 1, maxObjects: 1, width: 96, height: 96 });
    const trainer = new Trainer(a, { lr: 0, backboneLr: 0, weightDecay: 0 });
    let n = 0;
    await trainer.fit(data, {
      epochs: 1_000_000, batchSize: 1, augment: 'none', checkpointDir: dir,
      onProgress: (e) => {
        if (e.type === 'epoch') say(`begin fit ${++n}`);
        if (e.type === 'checkpoint') say(`saved fit ${n} A`);
      },
    });
    return;
  }
  for (let n = 1; ; n++) {
    const [name, model, trainer] = models[n % 2];
    say(`begin model ${n}`);
    await model.save(modelFile);
    say(`saved model ${n} ${name}`);
    say(`begin checkpoint ${n}`);
    await trainer.saveCheckpoint(checkpointFile, { epoch: n, stepInEpoch: 0, history: [] });
    say(`saved checkpoint ${n} ${name}`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
