// The error classes callers branch on (CheckpointError, NonFiniteLossError, DatasetError, all
// AlignDetrErrors with their fields), `using` / `await using` on models and trainers, a disposed
// trainer's methods, and AbortSignal on create, load, predict and evaluate: an aborted signal
// rejects with its reason before any work, an abort during native work rejects promptly.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AlignDetr, AlignDetrError, CheckpointError, CocoAnnotationError, DataLoader, DatasetError, ImageDecodeError,
  NonFiniteLossError, Trainer, VocAnnotationError, datasets, decodeImage,
} from '../lib/index';
import type { Dataset, RgbImage } from '../lib/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-errlife-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A very small model for the quick checks.
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};
// The tiny preset at a larger test size: one predict takes well over 100 ms on a CPU.
const slow = { preset: 'tiny' as const, numClasses: 3, testShortEdge: 640, testMaxSize: 960 };
const bigImage: RgbImage = { data: new Uint8Array(960 * 640 * 3).fill(90), width: 960, height: 640, channels: 3 };
const smallImage: RgbImage = { data: new Uint8Array(96 * 64 * 3).fill(120), width: 96, height: 64, channels: 3 };

async function smallSet(n: number, seed: number): Promise<Dataset> {
  return datasets.synthetic({ numImages: n, seed, numClasses: 3, minObjects: 1, maxObjects: 3, width: 160, height: 128 });
}

/** Aborts `controller` with `reason` after `ms`; resolves to the time of the abort. */
function abortAfter(controller: AbortController, reason: unknown, ms: number): Promise<number> {
  return new Promise((resolve) =>
    setTimeout(() => {
      const at = performance.now();
      controller.abort(reason);
      resolve(at);
    }, ms),
  );
}

/** Runs `work(signal)`, aborting after 10 ms: what it rejected with, and how long after the abort. */
async function abortMidway(work: (signal: AbortSignal) => Promise<unknown>): Promise<{ error: unknown; afterAbortMs: number }> {
  const controller = new AbortController();
  const started = work(controller.signal);
  const abortedAt = abortAfter(controller, new Error('stop now'), 10);
  let error: unknown;
  try {
    await started;
  } catch (e) {
    error = e;
  }
  return { error, afterAbortMs: performance.now() - (await abortedAt) };
}

test('a foreign or truncated checkpoint is a CheckpointError naming the file, not a TypeError', async (t) => {
  const foreign = path.join(tmp, 'foreign.adetr');
  fs.writeFileSync(foreign, 'certainly not a checkpoint');
  const err = await t.throwsAsync(AlignDetr.load(foreign), { instanceOf: CheckpointError });
  t.true(err instanceof AlignDetrError);
  t.false(err instanceof TypeError);
  t.is(err!.name, 'CheckpointError');
  t.is(err!.file, foreign);
  t.regex(err!.message, /foreign\.adetr is not an align-detr checkpoint \(truncated or foreign file\)$/);
  // A truncated one, and Trainer.resume of it, likewise.
  const model = await AlignDetr.create({ ...micro, numClasses: 2 });
  const whole = path.join(tmp, 'whole.adetr');
  await model.save(whole);
  const cut = path.join(tmp, 'cut.adetr');
  fs.writeFileSync(cut, fs.readFileSync(whole).subarray(0, 4096));
  const truncated = await t.throwsAsync(AlignDetr.load(cut), { instanceOf: CheckpointError });
  t.is(truncated!.file, cut);
  await t.throwsAsync(Trainer.resume(cut), { instanceOf: CheckpointError, message: /cut\.adetr is not an align-detr checkpoint/ });
  // A path that cannot be opened is still an argument error.
  await t.throwsAsync(AlignDetr.load(path.join(tmp, 'absent.adetr')), { instanceOf: TypeError, message: /cannot open/ });
  model.dispose();
});

test('a NaN loss is a NonFiniteLossError with step and term, from step() and fit()', async (t) => {
  const data = await smallSet(4, 9);
  const batch = await new DataLoader(data, { batchSize: 2, prefetch: 0 }).loadBatch([0, 1]);
  // An absurd learning rate makes the weights overflow after the first updates.
  const model = await AlignDetr.create({ ...micro, categories: data.categories, seed: 3 });
  using trainer = new Trainer(model, { lr: 1e6, clipMaxNorm: 0 });
  let error: unknown;
  for (let i = 0; i < 40 && error === undefined; i++) {
    try {
      await trainer.step(batch);
    } catch (e) {
      error = e;
    }
  }
  t.true(error instanceof NonFiniteLossError, `got ${String(error)}`);
  const err = error as NonFiniteLossError;
  t.true(err instanceof AlignDetrError);
  t.is(err.name, 'NonFiniteLossError');
  t.is(typeof err.step, 'number');
  t.is(err.step, trainer.stepCount, 'the step that failed did not count');
  t.regex(err.term, /^(loss_[a-z_0-9]+|gradient norm)$/);
  t.true(err.message.startsWith(`step ${err.step}: loss term '${err.term}' is `), err.message);
  t.regex(err.message, /is (NaN|infinite); training stopped before updating the weights$/);

  const fitter = new Trainer(await AlignDetr.create({ ...micro, categories: data.categories, seed: 3 }), { lr: 1e6, clipMaxNorm: 0 });
  const fitErr = await t.throwsAsync(fitter.fit(data, { epochs: 20, batchSize: 2, augment: 'none' }), { instanceOf: NonFiniteLossError });
  t.is(fitErr!.step, fitter.stepCount);
  t.regex(fitErr!.term, /^(loss_[a-z_0-9]+|gradient norm)$/);
  fitter.dispose();
});

test('bad dataset files are DatasetErrors naming the file, keeping their own classes and fields', async (t) => {
  const images = path.join(tmp, 'images');
  fs.mkdirSync(images, { recursive: true });
  const annotations = path.join(tmp, 'bad.json');
  fs.writeFileSync(annotations, '{ "images": [');
  const coco = await t.throwsAsync(datasets.coco({ annotations, images }), { instanceOf: CocoAnnotationError });
  t.true(coco instanceof DatasetError && coco instanceof AlignDetrError);
  t.is(coco!.name, 'CocoAnnotationError');
  t.is(coco!.file, annotations);
  t.regex(coco!.reason, /^not valid JSON/);

  const root = path.join(tmp, 'voc');
  for (const sub of ['Annotations', 'ImageSets/Main', 'JPEGImages']) fs.mkdirSync(path.join(root, sub), { recursive: true });
  fs.writeFileSync(path.join(root, 'ImageSets/Main/train.txt'), 'a\n');
  const xml = path.join(root, 'Annotations', 'a.xml');
  fs.writeFileSync(xml, '<annotation><size><width>4</width>');
  const voc = await t.throwsAsync(datasets.voc({ root, classes: ['cat'] }), { instanceOf: VocAnnotationError });
  t.true(voc instanceof DatasetError && voc instanceof AlignDetrError);
  t.is(voc!.name, 'VocAnnotationError');
  t.is(voc!.file, xml);

  const image = path.join(tmp, 'broken.jpg');
  fs.writeFileSync(image, 'not a jpeg');
  const decode = await t.throwsAsync(decodeImage(image, 'images[0]'), { instanceOf: ImageDecodeError });
  t.true(decode instanceof DatasetError && decode instanceof AlignDetrError);
  t.is(decode!.name, 'ImageDecodeError');
  t.is(decode!.file, image);
  t.is(decode!.argName, 'images[0]');
});

test('using / await using dispose models and trainers; await using waits for work in flight', async (t) => {
  let outer: AlignDetr;
  let trainer: Trainer;
  {
    using model = await AlignDetr.create({ ...micro, numClasses: 3 });
    outer = model;
    using tr = new Trainer(model, { lr: 1e-4 });
    trainer = tr;
    t.false(tr.disposed);
  }
  t.true(outer.disposed);
  t.true(trainer.disposed);

  const data = await smallSet(2, 4);
  const batch = await new DataLoader(data, { batchSize: 2, prefetch: 0 }).loadBatch([0, 1]);
  let predicted: Promise<unknown>;
  let stepped: Promise<unknown>;
  const order: string[] = [];
  const model2 = await AlignDetr.create({ ...micro, categories: data.categories });
  {
    await using tr = new Trainer(model2, { lr: 1e-4 });
    trainer = tr;
    stepped = tr.step(batch).then(() => order.push('step'));
  }
  order.push('trainer disposed');
  t.deepEqual(order, ['step', 'trainer disposed']);
  t.true(trainer.disposed);
  t.false(model2.disposed, 'disposing a trainer leaves the model usable');
  {
    await using model = model2;
    predicted = model.predict(smallImage).then(() => order.push('predict'));
  }
  order.push('model disposed');
  t.deepEqual(order, ['step', 'trainer disposed', 'predict', 'model disposed']);
  t.true(model2.disposed);
  await stepped;
  await predicted;
});

test('a disposed trainer refuses every method with a TypeError naming it', async (t) => {
  const data = await smallSet(2, 4);
  const batch = await new DataLoader(data, { batchSize: 2, prefetch: 0 }).loadBatch([0, 1]);
  const model = await AlignDetr.create({ ...micro, categories: data.categories });
  const trainer = new Trainer(model, { lr: 1e-4 });
  trainer.dispose();
  trainer.dispose();
  t.true(trainer.disposed);
  const disposed = (name: string) => ({ instanceOf: TypeError, message: new RegExp(`^trainer\\.${name}: trainer has been disposed$`) });
  await t.throwsAsync(trainer.step(batch), disposed('step'));
  await t.throwsAsync(trainer.evaluateLoss(batch), disposed('evaluateLoss'));
  await t.throwsAsync(trainer.evaluate(data), disposed('evaluate'));
  await t.throwsAsync(trainer.fit(data, { epochs: 1, batchSize: 1 }), disposed('fit'));
  await t.throwsAsync(trainer.saveCheckpoint(path.join(tmp, 'x.ckpt'), { epoch: 0, stepInEpoch: 0, history: [] }), disposed('saveCheckpoint'));
  t.throws(() => trainer.stepCount, disposed('stepCount'));
  t.false(fs.existsSync(path.join(tmp, 'x.ckpt')));
  // The model is still usable, and a new trainer on it works.
  t.is((await model.predict(smallImage)).length, 1);
  using again = new Trainer(model, { lr: 1e-4 });
  t.is((await again.step(batch)).step, 1);
  model.dispose();
});

test('signal options are checked; a live signal changes nothing', async (t) => {
  const notSignal = { instanceOf: TypeError, message: /^options\.signal: expected an AbortSignal$/ };
  await t.throwsAsync(AlignDetr.create({ ...micro, numClasses: 3, signal: {} as AbortSignal }), notSignal);
  await t.throwsAsync(AlignDetr.load(path.join(tmp, 'x.adetr'), { signal: 'abort' as never }), notSignal);
  await t.throwsAsync(AlignDetr.load(path.join(tmp, 'x.adetr'), { sginal: 1 } as never), { instanceOf: TypeError, message: /^options: unknown option 'sginal'/ });
  const live = new AbortController().signal;
  const model = await AlignDetr.create({ ...micro, numClasses: 3, signal: live });
  t.is(model.config.numClasses, 3);
  await t.throwsAsync(model.predict(smallImage, { signal: 1 as never }), notSignal);
  const dets = await model.predict(smallImage, { maxDetections: 5, signal: live });
  t.true(dets[0]!.length <= 5);
  // Other options are still checked by the native layer.
  await t.throwsAsync(model.predict(smallImage, { signal: live, scoreThreshold: 2 }), { instanceOf: RangeError, message: /^options.scoreThreshold: / });
  const file = path.join(tmp, 'live.adetr');
  await model.save(file);
  (await AlignDetr.load(file, { signal: live })).dispose();
  const data = await smallSet(2, 1);
  const trainer = new Trainer(model);
  await t.throwsAsync(trainer.evaluate(data, { signal: {} as AbortSignal }), notSignal);
  trainer.dispose();
  model.dispose();
});

test.serial('an aborted signal rejects with its reason before any work', async (t) => {
  const controller = new AbortController();
  const reason = new Error('already stopped');
  controller.abort(reason);
  const { signal } = controller;
  await t.throwsAsync(AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 3, signal }), { is: reason });
  // No file is opened: a missing path would otherwise be a TypeError.
  await t.throwsAsync(AlignDetr.load(path.join(tmp, 'missing.adetr'), { signal }), { is: reason });
  const model = await AlignDetr.create({ ...micro, numClasses: 3 });
  // No image is decoded: a missing file would otherwise be an ImageDecodeError.
  await t.throwsAsync(model.predict(path.join(tmp, 'missing.jpg'), { signal }), { is: reason });
  const data = await smallSet(2, 1);
  let loads = 0;
  const counting = Object.create(data, {
    get: { value: (i: number) => (loads++, data.get(i)) },
  }) as Dataset;
  const trainer = new Trainer(model);
  await t.throwsAsync(trainer.evaluate(counting, { signal }), { is: reason });
  t.is(loads, 0, 'no image was loaded');
  trainer.dispose();
  model.dispose();
});

test.serial('an abort during predict and evaluate rejects promptly with the reason', async (t) => {
  const model = await AlignDetr.create(slow);
  // How long one predict takes here, to show the abort did not wait for it.
  const t0 = performance.now();
  await model.predict(bigImage);
  const predictMs = performance.now() - t0;
  t.log(`one predict at 640x960: ${predictMs.toFixed(0)} ms`);
  t.true(predictMs > 100, `predict took ${predictMs} ms`);

  const p = await abortMidway((signal) => model.predict(bigImage, { signal }));
  t.true(p.error instanceof Error && p.error.message === 'stop now', String(p.error));
  t.true(p.afterAbortMs < Math.min(500, predictMs / 2), `rejected ${p.afterAbortMs} ms after the abort`);
  t.log(`predict rejected ${p.afterAbortMs.toFixed(1)} ms after the abort`);

  const data = await datasets.synthetic({ numImages: 4, seed: 2, numClasses: 3, minObjects: 1, maxObjects: 2, width: 400, height: 300 });
  const trainer = new Trainer(model);
  const e = await abortMidway((signal) => trainer.evaluate(data, { signal, batchSize: 2 }));
  t.true(e.error instanceof Error && e.error.message === 'stop now', String(e.error));
  t.true(e.afterAbortMs < Math.min(500, predictMs / 2), `rejected ${e.afterAbortMs} ms after the abort`);
  t.log(`evaluate rejected ${e.afterAbortMs.toFixed(1)} ms after the abort`);
  // The predicts still running finish before the trainer and the model go.
  await trainer[Symbol.asyncDispose]();
  await model[Symbol.asyncDispose]();
  t.true(model.disposed);
});

test.serial('an abort during create and load rejects promptly with the reason', async (t) => {
  // The R50 model: building or reading its 47M parameters takes well over 100 ms.
  const t0 = performance.now();
  const r50 = await AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 3, seed: 1 });
  const createMs = performance.now() - t0;
  const file = path.join(tmp, 'r50.adetr');
  await r50.save(file);
  r50.dispose();
  const t1 = performance.now();
  (await AlignDetr.load(file)).dispose();
  const loadMs = performance.now() - t1;
  t.log(`R50 create ${createMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms`);

  const c = await abortMidway((signal) => AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 3, signal }));
  t.true(c.error instanceof Error && c.error.message === 'stop now', String(c.error));
  t.true(c.afterAbortMs < Math.min(500, createMs / 2), `create rejected ${c.afterAbortMs} ms after the abort`);
  const l = await abortMidway((signal) => AlignDetr.load(file, { signal }));
  t.true(l.error instanceof Error && l.error.message === 'stop now', String(l.error));
  t.true(l.afterAbortMs < Math.min(500, loadMs / 2), `load rejected ${l.afterAbortMs} ms after the abort`);
  t.log(`create rejected ${c.afterAbortMs.toFixed(1)} ms, load ${l.afterAbortMs.toFixed(1)} ms after the abort`);
});
