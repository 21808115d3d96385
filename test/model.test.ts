// The DINO model through the public API: presets, forward shapes, padding invariance, predict
// on real images, save/load round trips, and PyTorch state dicts written by a committed script.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, CheckpointError, Tensor, decodeImage } from '../lib/index';

const fixtures = path.resolve(__dirname, '../../test/fixtures/model');
const bccd = process.env.ALIGN_DETR_BCCD ?? path.resolve(__dirname, '../../../shared/data/bccd');
const bccdImage = (n: number): string => path.join(bccd, 'BCCD', 'JPEGImages', `BloodImage_${String(n).padStart(5, '0')}.jpg`);
const expected = JSON.parse(fs.readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as {
  config: Record<string, number>;
  detrex: Record<string, { shape: number[]; sum: number }>;
  torchvision: Record<string, { shape: number[]; sum: number }>;
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-model-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const microConfig = { preset: 'tiny' as const, ...expected.config };

const sum = (t: Tensor): number => {
  let s = 0;
  for (const v of t.toTypedArray() as Float32Array) s += v;
  return s;
};

test('presets: parameter counts (R50 ≈ 47M as in the paper; tiny small)', async (t) => {
  const r50 = await AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 80 });
  const n = r50.numParameters();
  t.log(`dino-r50-4scale: ${n} parameters, ${r50.numParameters({ trainableOnly: true })} trainable`);
  t.true(n > 46e6 && n < 48.5e6);
  // Only the stem's 7×7 conv is frozen (freeze_at = 1); FrozenBN holds buffers, not parameters.
  t.is(n - r50.numParameters({ trainableOnly: true }), 64 * 3 * 7 * 7);
  t.is(r50.config.numQueries, 900);
  r50.dispose();
  const tiny = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  t.true(tiny.numParameters() < 5e6);
  t.deepEqual(tiny.categories.map((c) => c.id), [1, 2, 3]);
  tiny.dispose();
});

// weightsHash(AlignDetr, options): SHA-256 of every parameter of a new model (equal = bit-identical).
const seededWeights = path.resolve(__dirname, '../../test/helpers/seeded-weights.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { weightsHash } = require(seededWeights) as {
  weightsHash: (ctor: typeof AlignDetr, options: object) => Promise<string>;
};

// Serial, so it runs before the concurrent tests: the child is spawned first, while no other test
// of this process is inside OpenBLAS (its fork handler joins OpenBLAS's threads and can hang
// when a concurrent test is running a matrix product at the moment of the fork).
test.serial('create({ seed }): the same seed gives bit-identical weights in this and another process; another seed differs', async (t) => {
  const options = { ...microConfig, numClasses: 3, seed: 1234 };
  // A child process with one thread that makes an unseeded model first.
  const child = spawnSync(
    process.execPath, [seededWeights, path.resolve(__dirname, '../lib/index.js'), JSON.stringify(options), '1'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  t.is(child.status, 0, child.stderr);
  const a = await weightsHash(AlignDetr, options);
  const b = await weightsHash(AlignDetr, options);
  t.is(a, b, 'two creations in one process');
  t.is(child.stdout, a, 'a creation in another process');
  t.not(await weightsHash(AlignDetr, { ...options, seed: 1235 }), a, 'another seed');
  // Without a seed the weights come from the process-wide stream: two creations differ.
  const u1 = await weightsHash(AlignDetr, { ...options, seed: undefined });
  const u2 = await weightsHash(AlignDetr, { ...options, seed: undefined });
  t.not(u1, u2);
  t.not(u1, a);
  await t.throwsAsync(AlignDetr.create({ ...options, seed: -1 }), { instanceOf: RangeError, message: /^seed: / });
  await t.throwsAsync(AlignDetr.create({ ...options, seed: 1.5 }), { instanceOf: RangeError, message: /^seed: / });
  await t.throwsAsync(AlignDetr.create({ ...options, seed: '7' as never }), { instanceOf: TypeError, message: /^seed: / });
});

test('bad options are errors naming the option', async (t) => {
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny' }), { instanceOf: TypeError, message: /^numClasses: / });
  await t.throwsAsync(AlignDetr.create({ preset: 'huge' as never, numClasses: 3 }), { instanceOf: RangeError, message: /^preset: / });
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', numClasses: 0 }), { instanceOf: RangeError, message: /^numClasses: / });
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', numClasses: 3, numHeads: 5 }), { instanceOf: RangeError, message: /^numHeads: / });
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', numClasses: 2.5 }), { instanceOf: TypeError, message: /^config.numClasses: / });
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', numClasses: 3, bogus: 1 } as never), { instanceOf: TypeError, message: /unknown field 'bogus'/ });
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', categories: [{ id: 1, name: 'a' }, { id: 1, name: 'b' }] }), {
    instanceOf: RangeError,
    message: /^categories\[1\]: duplicate id 1/,
  });
});

/** A normalised random image batch: B images of the given sizes padded to the largest. */
function batchOf(sizes: [number, number][], seed: number, pad: [number, number] = [0, 0]): { images: Tensor; validSizes: Tensor; pixels: Float32Array[] } {
  const H = Math.max(...sizes.map((s) => s[0])) + pad[0];
  const W = Math.max(...sizes.map((s) => s[1])) + pad[1];
  let state = seed;
  const rand = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const data = new Float32Array(sizes.length * 3 * H * W);
  const pixels: Float32Array[] = [];
  sizes.forEach(([h, w], b) => {
    const own = new Float32Array(3 * h * w);
    for (let i = 0; i < own.length; i++) own[i] = rand();
    pixels.push(own);
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[((b * 3 + c) * H + y) * W + x] = own[(c * h + y) * w + x]!;
  });
  const vs = new BigInt64Array(sizes.flatMap(([h, w]) => [BigInt(h), BigInt(w)]));
  return { images: Tensor.from(data, [sizes.length, 3, H, W]), validSizes: Tensor.from(vs, [sizes.length, 2]), pixels };
}

test('forward: shapes of the level maps, memory and every layer', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3, numQueries: 40 });
  const { images, validSizes } = batchOf([[96, 128], [80, 100]], 7);
  const out = await model.forward(images, validSizes);
  const cfg = model.config;
  t.deepEqual(out.levelFeatures.map((f) => f.shape), [
    [2, cfg.hiddenDim, 12, 16],
    [2, cfg.hiddenDim, 6, 8],
    [2, cfg.hiddenDim, 3, 4],
    [2, cfg.hiddenDim, 2, 2],
  ]);
  t.deepEqual(out.memory.shape, [2, 12 * 16 + 6 * 8 + 3 * 4 + 2 * 2, cfg.hiddenDim]);
  t.is(out.layers.length, cfg.decoderLayers);
  for (const layer of [...out.layers, out.encoder]) {
    t.deepEqual(layer.logits.shape, [2, 40, 3]);
    t.deepEqual(layer.boxes.shape, [2, 40, 4]);
    const boxes = layer.boxes.toTypedArray() as Float32Array;
    t.true(boxes.every((v) => v >= 0 && v <= 1));
  }
  await t.throwsAsync(model.forward(validSizes, images), { instanceOf: TypeError, message: /^images: / });
  const tooBig = Tensor.from(new BigInt64Array([97n, 128n, 80n, 100n]), [2, 2]);
  await t.throwsAsync(model.forward(images, tooBig), { instanceOf: RangeError, message: /^validSizes: / });
  const tiny = batchOf([[16, 16]], 1);
  await t.throwsAsync(model.forward(tiny.images, tiny.validSizes), { instanceOf: RangeError, message: /^images: too small/ });
  model.dispose();
});

test('forward { profile }: stage timings within the call, same outputs, unknown options refused', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3, numQueries: 40, seed: 3 });
  const { images, validSizes } = batchOf([[96, 128]], 5);
  const plain = await model.forward(images, validSizes);
  t.is(plain.timings, undefined);
  const start = process.hrtime.bigint();
  const profiled = await model.forward(images, validSizes, { profile: true });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const timings = profiled.timings;
  if (timings === undefined) return t.fail('no timings');
  const stages = [timings.backboneMs, timings.neckMs, timings.encoderMs, timings.decoderMs, timings.postprocessMs];
  t.true(stages.every((ms) => Number.isFinite(ms) && ms >= 0), JSON.stringify(timings));
  t.true(timings.backboneMs > 0 && timings.encoderMs > 0 && timings.decoderMs > 0, JSON.stringify(timings));
  // The stages run one after another inside the call, so together they cannot exceed its wall time.
  t.true(stages.reduce((a, b) => a + b, 0) <= wallMs, `${JSON.stringify(timings)} vs ${wallMs} ms`);
  t.deepEqual(profiled.layers.at(-1)?.logits.toTypedArray(), plain.layers.at(-1)?.logits.toTypedArray());
  await t.throwsAsync(model.forward(images, validSizes, { profil: true } as never), { instanceOf: TypeError, message: /options: unknown option 'profil'/ });
  model.dispose();
});

test('padding an image does not change its predictions (masks honoured)', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3, numQueries: 40 });
  const alone = batchOf([[90, 117]], 11);
  const padded = batchOf([[90, 117]], 11, [38, 43]); // same pixels, zero padding right and bottom
  const batched = batchOf([[90, 117], [128, 150]], 11); // padded because of a larger neighbour
  const a = await model.forward(alone.images, alone.validSizes);
  const b = await model.forward(padded.images, padded.validSizes);
  const c = await model.forward(batched.images, batched.validSizes);
  const maxDiff = (x: Tensor, y: Tensor, n: number): number => {
    const xa = x.toTypedArray() as Float32Array;
    const ya = y.toTypedArray() as Float32Array;
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(xa[i]! - ya[i]!));
    return m;
  };
  const last = model.config.decoderLayers - 1;
  const n = 40 * 3;
  t.true(maxDiff(a.layers[last]!.logits, b.layers[last]!.logits, n) < 1e-3);
  t.true(maxDiff(a.layers[last]!.boxes, b.layers[last]!.boxes, 40 * 4) < 1e-4);
  t.true(maxDiff(a.layers[last]!.logits, c.layers[last]!.logits, n) < 1e-3, 'first image of a mixed batch');
  t.true(maxDiff(a.layers[last]!.boxes, c.layers[last]!.boxes, 40 * 4) < 1e-4);
  model.dispose();
});

test('predict on real BCCD images returns valid, sorted detections in original pixels', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', categories: [{ id: 1, name: 'Platelets' }, { id: 2, name: 'RBC' }, { id: 3, name: 'WBC' }] });
  const files = [bccdImage(0), bccdImage(1)];
  const decoded = await decodeImage(files[1]!);
  const results = await model.predict([files[0]!, decoded], { maxDetections: 50 });
  t.is(results.length, 2);
  for (const dets of results) {
    t.true(dets.length > 0 && dets.length <= 50);
    for (let i = 0; i < dets.length; i++) {
      const [x, y, w, h] = dets[i]!.bbox;
      t.true(x >= 0 && y >= 0 && w > 0 && h > 0, `box ${dets[i]!.bbox}`);
      t.true(x + w <= 640 + 1e-3 && y + h <= 480 + 1e-3, `box inside the 640×480 image: ${dets[i]!.bbox}`);
      t.true(dets[i]!.score >= 0 && dets[i]!.score <= 1);
      t.true([1, 2, 3].includes(dets[i]!.categoryId));
      if (i > 0) t.true(dets[i - 1]!.score >= dets[i]!.score);
    }
  }
  const thresholded = await model.predict(files[0]!, { scoreThreshold: 0.5 });
  t.true(thresholded[0]!.every((d) => d.score >= 0.5));
  await t.throwsAsync(model.predict([{ data: new Uint8Array(10), width: 4, height: 4, channels: 3 }]), {
    instanceOf: RangeError,
    message: /^images\[0\]\.data: length 10/,
  });
  await t.throwsAsync(model.predict(path.join(tmp, 'missing.jpg')), { message: /missing\.jpg/ });
  await t.throwsAsync(model.predict(files[0]!, { scoreThreshold: 2 }), { instanceOf: RangeError, message: /^options.scoreThreshold: / });
  model.dispose();
  await t.throwsAsync(model.predict(files[0]!), { instanceOf: TypeError, message: /disposed/ });
});

test('save / load round trip is bit-identical; truncated and foreign files are errors', async (t) => {
  const model = await AlignDetr.create({ ...microConfig, categories: [{ id: 5, name: 'a' }, { id: 9, name: 'b' }] });
  const file = path.join(tmp, 'micro.adetr');
  await model.save(file);
  t.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
  const loaded = await AlignDetr.load(file);
  t.deepEqual(loaded.config, model.config);
  t.deepEqual(loaded.categories, model.categories);
  const names = model.parameterNames();
  t.deepEqual(loaded.parameterNames(), names);
  for (const name of [...names, 'backbone.res2.0.conv1.norm.running_var']) {
    t.deepEqual(loaded.parameter(name).toTypedArray(), model.parameter(name).toTypedArray(), name);
  }
  // Truncated: every prefix of the file is rejected with an error naming it.
  const bytes = fs.readFileSync(file);
  const cut = path.join(tmp, 'cut.adetr');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await t.throwsAsync(AlignDetr.load(cut), { instanceOf: CheckpointError, message: /cut\.adetr is not an align-detr checkpoint/ });
  const foreign = path.join(tmp, 'foreign.bin');
  fs.writeFileSync(foreign, 'not a checkpoint');
  await t.throwsAsync(AlignDetr.load(foreign), { instanceOf: CheckpointError, message: /foreign\.bin/ });
  await t.throwsAsync(AlignDetr.load(path.join(tmp, 'nope.adetr')), { instanceOf: TypeError, message: /cannot open/ });
  // A PyTorch .pth is not an align-detr checkpoint either.
  await t.throwsAsync(AlignDetr.load(path.join(fixtures, 'detrex_micro.pth')), { instanceOf: CheckpointError, message: /not an align-detr checkpoint/ });
  // A failed save (the target is a folder) leaves no partial file behind.
  const dirTarget = path.join(tmp, 'a-folder');
  fs.mkdirSync(dirTarget);
  await t.throwsAsync(model.save(dirTarget));
  t.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes('.tmp')), []);
  // Saving over an existing checkpoint replaces it whole.
  await loaded.save(file);
  t.deepEqual((await AlignDetr.load(file)).parameter('label_enc.weight').toTypedArray(), model.parameter('label_enc.weight').toTypedArray());
});

test('loadCheckpoint maps every key of a detrex state dict written by PyTorch', async (t) => {
  const model = await AlignDetr.create(microConfig);
  const report = await model.loadCheckpoint(path.join(fixtures, 'detrex_micro.pth'));
  t.is(report.format, 'detrex');
  t.deepEqual(report.missingKeys, []);
  t.deepEqual(report.unexpectedKeys, []);
  t.deepEqual(report.mismatchedKeys, []);
  const modelKeys = new Set(model.parameterNames());
  for (const key of Object.keys(expected.detrex)) {
    t.true(report.loadedKeys.includes(key), `loaded ${key}`);
    if (modelKeys.has(key)) {
      const p = model.parameter(key);
      t.deepEqual(p.shape, expected.detrex[key]!.shape, key);
      t.true(Math.abs(sum(p) - expected.detrex[key]!.sum) < 1e-3 * (1 + Math.abs(expected.detrex[key]!.sum)), key);
    }
  }
  t.is(report.loadedKeys.length, Object.keys(expected.detrex).length);
});

test('loadCheckpoint reads a torchvision ResNet state dict into the backbone', async (t) => {
  const model = await AlignDetr.create(microConfig);
  const report = await model.loadCheckpoint(path.join(fixtures, 'torchvision_r18w8.pth'));
  t.is(report.format, 'torchvision-resnet');
  t.deepEqual(report.missingKeys, []);
  t.deepEqual(report.unexpectedKeys.sort(), ['fc.bias', 'fc.weight']);
  t.true(report.loadedKeys.every((k) => k.startsWith('backbone.')));
  t.is(model.parameter('backbone.stem.conv1.weight').shape.join(), '8,3,7,7');
  t.true(Math.abs(sum(model.parameter('backbone.res3.0.shortcut.weight')) - expected.torchvision['layer2.0.downsample.0.weight']!.sum) < 1e-3);
  t.true(Math.abs(sum(model.parameter('backbone.res5.1.conv2.norm.running_var')) - expected.torchvision['layer4.1.bn2.running_var']!.sum) < 1e-3);
  const notPth = path.join(tmp, 'garbage.pth');
  fs.writeFileSync(notPth, 'garbage');
  await t.throwsAsync(model.loadCheckpoint(notPth), { instanceOf: TypeError, message: /garbage\.pth is not a PyTorch state dict/ });
});

test('predict names the image when its aspect ratio is too extreme to resize', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  // tiny: short edge 320, long edge at most 512 → a 3000×1 image would be 512 × 0.17 pixels.
  const ok = { data: new Uint8Array(64 * 48 * 3).fill(100), width: 64, height: 48, channels: 3 as const };
  const thin = { data: new Uint8Array(3000 * 1 * 3).fill(100), width: 3000, height: 1, channels: 3 as const };
  await t.throwsAsync(model.predict([ok, thin]), { instanceOf: RangeError, message: /^images\[1\]: 3000×1 is too elongated for this model/ });
  model.dispose();
});
