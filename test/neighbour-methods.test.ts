// The neighbouring systems as whole recipes (docs/neighbour-methods.md): each model option trains
// with the loss its preset implies, and overfits a handful of images like the Align-DETR recipe
// (test/trainer.test.ts) does.
import test from 'ava';
import { AlignDetr, defaultLoss, Trainer } from '../lib/index';
import { overfitHandful } from './helpers/overfit';

test('each preset trains with its own recipe by default; an explicit loss wins', async (t) => {
  t.is(defaultLoss({ memoryFusion: 'none', decoder: 'dino' }), 'align');
  t.is(defaultLoss({ memoryFusion: 'dense', decoder: 'dino' }), 'stable-dino');
  t.is(defaultLoss({ memoryFusion: 'none', decoder: 'decoupled' }), 'sd-align');
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3, memoryFusion: 'dense' });
  t.is(new Trainer(model).options.loss, 'stable-dino');
  t.is(new Trainer(model, { loss: 'focal' }).options.loss, 'focal');
  model.dispose();
});

test.serial('stable-dino recipe (dense memory fusion, its loss and cost) overfits a handful of images', async (t) => {
  const trainer = await overfitHandful(t, { memoryFusion: 'dense' });
  t.is(trainer.options.loss, 'stable-dino');
});

test.serial('sd-detr recipe (decoupled decoder, task alignment loss) overfits a handful of images', async (t) => {
  const trainer = await overfitHandful(t, { decoder: 'decoupled' });
  t.is(trainer.options.loss, 'sd-align');
});
