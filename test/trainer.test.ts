// Training: abort + resume is bit-identical to an uninterrupted run, a non-finite loss stops
// with an error naming the step and the term (keeping the last good checkpoint), option errors,
// and a handful of images is overfit until every box is found at IoU > 0.7.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, DataLoader, Trainer, datasets } from '../lib/index';

import type { Dataset } from '../lib/index';
import { overfitHandful } from './helpers/overfit';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-train-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
// A very small model so these runs take seconds.
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

async function smallSet(n: number, seed: number): Promise<Dataset> {
  return datasets.synthetic({ numImages: n, seed, numClasses: 3, minObjects: 1, maxObjects: 3, width: 160, height: 128 });
}

function weights(model: AlignDetr): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const name of model.parameterNames()) out.set(name, model.parameter(name).toTypedArray() as Float32Array);
  return out;
}

test.serial('abort then resume gives the same weights as an uninterrupted run', async (t) => {
  const data = await smallSet(8, 5);
  const init = path.join(tmp, 'init.adetr');
  await (await AlignDetr.create({ ...micro, categories: data.categories })).save(init);
  const fit = { epochs: 2, batchSize: 2, augment: 'recipe' as const };

  const uninterrupted = new Trainer(await AlignDetr.load(init), { seed: 7, lr: 3e-4 });
  const whole = await uninterrupted.fit(data, fit);
  t.is(whole.stopped, 'completed');
  t.is(whole.steps, 8);

  const dir = path.join(tmp, 'resume');
  const interrupted = new Trainer(await AlignDetr.load(init), { seed: 7, lr: 3e-4 });
  const controller = new AbortController();
  const part = await interrupted.fit(data, {
    ...fit,
    checkpointDir: dir,
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === 'step' && e.step === 5) controller.abort(); // mid-epoch 2
    },
  });
  t.is(part.stopped, 'aborted');
  t.is(part.steps, 5);
  t.true(fs.existsSync(path.join(dir, 'last.adetr')));
  const resumed = await Trainer.resume(path.join(dir, 'last.adetr'));
  t.is(resumed.stepCount, 5);
  const rest = await resumed.fit(data, { ...fit, checkpointDir: dir });
  t.is(rest.stopped, 'completed');
  t.is(rest.steps, 8);
  t.is(rest.epochs.length, 2);

  const a = weights(uninterrupted.model);
  const b = weights(resumed.model);
  let maxDiff = 0;
  let changed = 0;
  const start = weights(await AlignDetr.load(init));
  for (const [name, v] of a) {
    const w = b.get(name)!;
    const s = start.get(name)!;
    for (let i = 0; i < v.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(v[i]! - w[i]!));
      if (v[i] !== s[i]) changed++;
    }
  }
  t.true(changed > 1000, 'training changed the weights');
  t.is(maxDiff, 0, 'bit-identical weights after abort + resume');
});

test.serial('a non-finite loss stops with the step and the term named; the last checkpoint is kept', async (t) => {
  const data = await smallSet(6, 9);
  const dir = path.join(tmp, 'nan');
  // An absurd learning rate makes the weights overflow after the first updates.
  const trainer = new Trainer(await AlignDetr.create({ ...micro, categories: data.categories }), { lr: 1e6, clipMaxNorm: 0 });
  const err = await t.throwsAsync(trainer.fit(data, { epochs: 10, batchSize: 2, augment: 'none', checkpointDir: dir }));
  t.regex(err!.message, /^step \d+: loss term '(loss_[a-z_0-9]+|gradient norm)' is (NaN|infinite)/);
  // The last good checkpoint (end of the last complete epoch) still loads.
  if (fs.existsSync(path.join(dir, 'last.adetr'))) {
    const resumed = await Trainer.resume(path.join(dir, 'last.adetr'));
    t.true(resumed.stepCount >= 0);
  }
});

test("loss 'sd-align' (SD-DETR's task alignment loss) trains a step with every term finite", async (t) => {
  const data = await smallSet(2, 4);
  const batch = await new DataLoader(data, { batchSize: 2, prefetch: 0 }).loadBatch([0, 1]);
  const make = async () => AlignDetr.create({ ...micro, categories: data.categories, seed: 5 });
  const model = await make();
  const before = weights(model);
  const trainer = new Trainer(model, { loss: 'sd-align', lr: 1e-3, seed: 2 });
  const report = await trainer.step(batch);
  t.is(report.step, 1);
  t.true(Number.isFinite(report.loss) && report.loss > 0, `loss ${report.loss}`);
  t.true(Object.values(report.losses).every(Number.isFinite), 'every term finite');
  t.true(report.losses.loss_class! > 0 && report.losses.loss_class_enc! > 0 && report.losses.loss_class_dn! > 0);
  // The same terms as the recipe's loss: encoder, every decoder layer, every denoising layer.
  const recipe = await new Trainer(await make(), { loss: 'align', lr: 1e-3, seed: 2 }).step(batch);
  t.deepEqual(Object.keys(report.losses).sort(), Object.keys(recipe.losses).sort());
  t.notDeepEqual(report.losses.loss_class, recipe.losses.loss_class, 'a different classification loss');
  let changed = 0;
  for (const [name, v] of weights(model)) {
    const w = before.get(name)!;
    for (let i = 0; i < v.length; i++) if (v[i] !== w[i]) changed++;
  }
  t.true(changed > 1000, 'the step changed the weights');
});

test('bad trainer and fit options are errors naming the option', async (t) => {
  const data = await smallSet(2, 1);
  const model = await AlignDetr.create({ ...micro, categories: data.categories });
  t.throws(() => new Trainer(model, { loss: 'bogus' as never }), { instanceOf: RangeError, message: /^loss: unknown loss 'bogus'/ });
  t.throws(() => new Trainer(model, { lr: -1 }), { instanceOf: RangeError, message: /^options.lr: / });
  t.throws(() => new Trainer(model, { matching: 'many' as never }), { instanceOf: RangeError, message: /^options.matching: / });
  t.throws(() => new Trainer({} as never), { instanceOf: TypeError, message: /^model: / });
  const trainer = new Trainer(model);
  await t.throwsAsync(trainer.fit(data, { epochs: 0, batchSize: 1 }), { instanceOf: RangeError, message: /^epochs: / });
  await t.throwsAsync(trainer.fit(data, { epochs: 1, batchSize: 1.5 }), { instanceOf: RangeError, message: /^batchSize: / });
  await t.throwsAsync(Trainer.resume(path.join(tmp, 'missing.adetr')), { instanceOf: TypeError, message: /cannot open/ });
});

test.serial('overfits a handful of images: every box found at IoU > 0.7 with its class', async (t) => {
  await overfitHandful(t);
});
