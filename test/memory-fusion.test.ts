// Stable-DINO's dense memory fusion as a model option (docs/neighbour-methods.md §1): the config
// field and the preset, parameter counts, Stable-DINO's state-dict keys loaded by name, and the
// checkpoint round trip. The closed form, the initialisation and the wiring are tested in C++
// (native/tests/test_memory_fusion.cpp).
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Trainer, datasets } from '../lib/index';
import { writeStateDict } from './helpers/pth-writer';
import { rng } from './helpers/support';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-fusion-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const micro = {
  preset: 'tiny' as const, numClasses: 3, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 2,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};
const FUSION_KEYS = ['0.weight', '0.bias', '1.weight', '1.bias'].map((k) => `transformer.encoder.fusion_layer.${k}`) as [string, string, string, string];

test('memoryFusion: the config field, its parameters and their count', async (t) => {
  const plain = await AlignDetr.create({ ...micro, seed: 1 });
  const fused = await AlignDetr.create({ ...micro, seed: 1, memoryFusion: 'dense' });
  t.is(plain.config.memoryFusion, 'none');
  t.is(fused.config.memoryFusion, 'dense');
  t.is(fused.config.decoder, 'dino');
  for (const key of FUSION_KEYS) {
    t.true(fused.parameterNames().includes(key), key);
    t.false(plain.parameterNames().includes(key), key);
  }
  // Linear(3·32 → 32) + LayerNorm(32): 2 encoder layers and the encoder input are fused.
  t.is(fused.numParameters() - plain.numParameters(), 32 * 96 + 32 + 2 * 32);
  t.deepEqual(fused.parameter(FUSION_KEYS[0]!).shape, [32, 96]);
  t.deepEqual(Array.from(fused.parameter(FUSION_KEYS[1]!).toTypedArray() as Float32Array), new Array(32).fill(0));
  plain.dispose();
  fused.dispose();
});

test('the stable-dino preset is dino-r50-4scale with dense fusion', async (t) => {
  const dino = await AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 80 });
  const stable = await AlignDetr.create({ preset: 'stable-dino', numClasses: 80 });
  const { memoryFusion, ...rest } = stable.config;
  const { memoryFusion: dinoFusion, ...dinoRest } = dino.config;
  t.is(memoryFusion, 'dense');
  t.is(dinoFusion, 'none');
  t.deepEqual(rest, dinoRest);
  // Stable-DINO's fusion layer: Linear(1792 → 256) + LayerNorm(256) (docs/neighbour-methods.md §1.4).
  t.is(stable.numParameters() - dino.numParameters(), 459_520);
  dino.dispose();
  stable.dispose();
});

test('memoryFusion: bad values name the field and the choices', async (t) => {
  await t.throwsAsync(AlignDetr.create({ ...micro, memoryFusion: 'Dense' as never }), {
    instanceOf: RangeError,
    message: "memoryFusion: expected 'none' or 'dense', got 'Dense'",
  });
  await t.throwsAsync(AlignDetr.create({ ...micro, memoryFusion: 1 as never }), {
    instanceOf: TypeError,
    message: "memoryFusion: expected 'none' or 'dense'",
  });
  await t.throwsAsync(AlignDetr.create({ ...micro, preset: 'stable_dino' as never }), {
    instanceOf: RangeError,
    message: /^preset: unknown preset 'stable_dino'; expected .*'stable-dino'/,
  });
});

test("Stable-DINO's fusion weights load by name from a detrex state dict; a wrong shape is reported", async (t) => {
  const model = await AlignDetr.create({ ...micro, memoryFusion: 'dense' });
  const random = rng(7);
  const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => random() - 0.5);
  const file = writeStateDict(path.join(tmp, 'stable-dino.pth'), {
    [FUSION_KEYS[0]]: { data: values(32 * 96), shape: [32, 96] },
    [FUSION_KEYS[1]]: { data: values(32), shape: [32] },
    [FUSION_KEYS[2]]: { data: values(32), shape: [32] },
    [FUSION_KEYS[3]]: { data: values(32), shape: [32] },
    'class_embed.0.bias': { data: values(3), shape: [3] },
  });
  const report = await model.loadCheckpoint(file);
  t.is(report.format, 'detrex');
  for (const key of FUSION_KEYS) t.true(report.loadedKeys.includes(key), key);
  t.deepEqual(report.mismatchedKeys, []);
  t.deepEqual(report.unexpectedKeys, []);
  const again = rng(7);  // the same stream: the first tensor written
  const expected = Float32Array.from({ length: 32 * 96 }, () => again() - 0.5);
  t.deepEqual(model.parameter(FUSION_KEYS[0]!).toTypedArray(), expected);

  // Simple fusion's shape ([d, 2d]) under the dense key: a mismatch, nothing loaded for it.
  const wrong = writeStateDict(path.join(tmp, 'wrong-shape.pth'), { [FUSION_KEYS[0]]: { data: values(32 * 64), shape: [32, 64] } });
  const before = model.parameter(FUSION_KEYS[0]!).toTypedArray();
  const r2 = await model.loadCheckpoint(wrong);
  t.deepEqual(r2.mismatchedKeys, [FUSION_KEYS[0]]);
  t.deepEqual(model.parameter(FUSION_KEYS[0]!).toTypedArray(), before);

  // A model without fusion sees them as unexpected keys.
  const plain = await AlignDetr.create(micro);
  const r3 = await plain.loadCheckpoint(file);
  t.deepEqual([...r3.unexpectedKeys].sort(), [...FUSION_KEYS].sort());
  model.dispose();
  plain.dispose();
});

test('a dense-fusion model round-trips through save and load', async (t) => {
  const model = await AlignDetr.create({ ...micro, memoryFusion: 'dense', seed: 3 });
  const file = path.join(tmp, 'fused.adetr');
  await model.save(file);
  const loaded = await AlignDetr.load(file);
  t.deepEqual(loaded.config, model.config);
  t.deepEqual(loaded.parameter(FUSION_KEYS[0]!).toTypedArray(), model.parameter(FUSION_KEYS[0]!).toTypedArray());
  const image = { data: Uint8Array.from({ length: 96 * 128 * 3 }, (_, i) => (i * 31) % 256), width: 128, height: 96, channels: 3 as const };
  t.deepEqual(await loaded.predict(image, { maxDetections: 10 }), await model.predict(image, { maxDetections: 10 }));
  model.dispose();
  loaded.dispose();
});

test('a dense-fusion model trains with the Align recipe too (mixed matching, prime weights, denoising)', async (t) => {
  const data = await datasets.synthetic({ numImages: 4, seed: 3, numClasses: 3, minObjects: 1, maxObjects: 3, width: 160, height: 128 });
  const model = await AlignDetr.create({ ...micro, memoryFusion: 'dense', categories: data.categories, seed: 2 });
  const before = model.parameter(FUSION_KEYS[0]!).toTypedArray() as Float32Array;
  const trainer = new Trainer(model, { lr: 3e-4, seed: 1, loss: 'align', matching: 'mixed' });
  const result = await trainer.fit(data, { epochs: 1, batchSize: 2 });
  t.is(result.steps, 2);
  const after = model.parameter(FUSION_KEYS[0]!).toTypedArray() as Float32Array;
  t.true(after.some((v, i) => v !== before[i]), 'the fusion layer was trained');
  t.true(after.every(Number.isFinite));
  model.dispose();
});
