// The decoupled (SD-DETR-style) decoder through the public API (docs/neighbour-methods.md §2.6 stage
// A): the config switch, its state-dict keys, the exact parameter delta of the "sd-detr" preset,
// and a checkpoint round trip. The equivalence, independence and mask tests (SD-T1..T3) need to
// write weights and are C++ tests: native/tests/test_decoupled_decoder.cpp.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Tensor, Trainer, datasets } from '../lib/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-decoupled-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const locKey = /(\.loc_cross_attn\.|\.loc_norms\.|\.loc_ffn\.|decoder\.norm_loc\.|tgt_embed_loc\.)/;

/** A deterministic RGB image (pseudo-random pixels). */
function image(width: number, height: number, seed: number): { data: Uint8Array; width: number; height: number; channels: 3 } {
  let state = seed;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    data[i] = state % 256;
  }
  return { data, width, height, channels: 3 };
}

test('decoder option: default dino, decoupled adds exactly the loc keys of every layer', async (t) => {
  const dino = await AlignDetr.create({ preset: 'tiny', numClasses: 3, seed: 1 });
  const sd = await AlignDetr.create({ preset: 'tiny', numClasses: 3, decoder: 'decoupled', seed: 1 });
  t.is(dino.config.decoder, 'dino');
  t.is(sd.config.decoder, 'decoupled');
  const dinoNames = dino.parameterNames();
  const sdNames = sd.parameterNames();
  t.deepEqual(dinoNames.filter((n) => locKey.test(n)), [], 'a DINO model has no loc keys');
  for (const n of dinoNames) t.true(sdNames.includes(n), `DINO key ${n} kept`);
  const added = sdNames.filter((n) => !dinoNames.includes(n)).sort();
  const expected: string[] = ['transformer.decoder.norm_loc.bias', 'transformer.decoder.norm_loc.weight', 'transformer.tgt_embed_loc.weight'];
  for (let i = 0; i < sd.config.decoderLayers; i++) {
    const pre = `transformer.decoder.layers.${i}.`;
    for (const m of ['sampling_offsets', 'attention_weights', 'value_proj', 'output_proj']) {
      expected.push(`${pre}loc_cross_attn.${m}.weight`, `${pre}loc_cross_attn.${m}.bias`);
    }
    for (const m of ['loc_norms.0', 'loc_norms.1', 'loc_ffn.layers.0.0', 'loc_ffn.layers.1']) expected.push(`${pre}${m}.weight`, `${pre}${m}.bias`);
  }
  t.deepEqual(added, expected.sort());
  t.deepEqual(sd.parameter('transformer.tgt_embed_loc.weight').shape, [sd.config.numQueries, sd.config.hiddenDim]);
  // Each loc module has the shape of the cls module it mirrors.
  t.deepEqual(sd.parameter('transformer.decoder.layers.1.loc_ffn.layers.0.0.weight').shape,
    sd.parameter('transformer.decoder.layers.1.ffns.0.layers.0.0.weight').shape);
  t.deepEqual(sd.parameter('transformer.decoder.layers.1.loc_cross_attn.sampling_offsets.bias').toTypedArray(),
    sd.parameter('transformer.decoder.layers.1.attentions.1.sampling_offsets.bias').toTypedArray(), 'the MSDA grid init');
  await t.throwsAsync(AlignDetr.create({ preset: 'tiny', numClasses: 3, decoder: 'split' as 'dino' }), { instanceOf: RangeError, message: /^decoder: / });
  dino.dispose();
  sd.dispose();
});

test('sd-detr preset: dino-r50-4scale + 6 × (MSDA + FFN + 2 LN) + norm_loc + tgt_embed_loc parameters', async (t) => {
  const dino = await AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 80 });
  const sd = await AlignDetr.create({ preset: 'sd-detr', numClasses: 80 });
  t.is(sd.config.decoder, 'decoupled');
  const c = sd.config;
  const d = c.hiddenDim;
  const hlp = c.numHeads * c.numLevels * c.numPoints;
  const msda = (d * 2 * hlp + 2 * hlp) + (d * hlp + hlp) + 2 * (d * d + d); // offsets, weights, value, output
  const ffn = d * c.ffnDim + c.ffnDim + c.ffnDim * d + d;
  const ln = 2 * d;
  const delta = c.decoderLayers * (msda + ffn + 2 * ln) + ln + c.numQueries * d;
  t.log(`dino-r50-4scale ${dino.numParameters()}, sd-detr ${sd.numParameters()}, delta ${sd.numParameters() - dino.numParameters()} (derived ${delta})`);
  t.is(msda + ffn + 2 * ln, 1_282_176, 'the per-layer delta of neighbour-methods.md §2.6');
  t.is(delta, 7_923_968);
  t.is(sd.numParameters() - dino.numParameters(), delta);
  t.is(sd.numParameters({ trainableOnly: true }) - dino.numParameters({ trainableOnly: true }), delta);
  dino.dispose();
  sd.dispose();
});

test('a decoupled tiny model round-trips through save / load: same config, weights and predictions', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3, decoder: 'decoupled', seed: 7 });
  const file = path.join(tmp, 'decoupled.adetr');
  await model.save(file);
  const loaded = await AlignDetr.load(file);
  t.deepEqual(loaded.config, model.config);
  t.is(loaded.config.decoder, 'decoupled');
  t.deepEqual(loaded.parameterNames(), model.parameterNames());
  for (const name of model.parameterNames().filter((n) => locKey.test(n))) {
    t.deepEqual(loaded.parameter(name).toTypedArray(), model.parameter(name).toTypedArray(), name);
  }
  const images = [image(200, 150, 3), image(160, 210, 4)];
  const a = await model.predict(images, { maxDetections: 20 });
  const b = await loaded.predict(images, { maxDetections: 20 });
  t.is(a.length, 2);
  t.true(a[0]!.length > 0);
  t.deepEqual(b, a);
  // The raw outputs as well: every decoder layer's logits and boxes.
  const data = new Float32Array(3 * 96 * 128).map((_, i) => Math.sin(i * 0.37));
  const x = Tensor.from(data, [1, 3, 96, 128]);
  const sizes = Tensor.from(new BigInt64Array([96n, 128n]), [1, 2]);
  const fa = await model.forward(x, sizes);
  const fb = await loaded.forward(x, sizes);
  t.is(fa.layers.length, model.config.decoderLayers);
  for (let l = 0; l < fa.layers.length; l++) {
    t.deepEqual(fb.layers[l]!.logits.toTypedArray(), fa.layers[l]!.logits.toTypedArray(), `layer ${l} logits`);
    t.deepEqual(fb.layers[l]!.boxes.toTypedArray(), fa.layers[l]!.boxes.toTypedArray(), `layer ${l} boxes`);
  }
  // A decoupled checkpoint does not load as something else: the file carries the decoder kind.
  const dinoModel = await AlignDetr.create({ preset: 'tiny', numClasses: 3, seed: 7 });
  t.notDeepEqual(dinoModel.parameterNames(), loaded.parameterNames());
  dinoModel.dispose();
  model.dispose();
  loaded.dispose();
});

test('a decoupled model trains with the Align recipe (mixed matching, prime weights, denoising): both streams and both query embeddings learn', async (t) => {
  const data = await datasets.synthetic({ numImages: 4, seed: 3, numClasses: 3, minObjects: 1, maxObjects: 3, width: 160, height: 128 });
  const micro = {
    preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
    decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
  };
  const model = await AlignDetr.create({ ...micro, decoder: 'decoupled', categories: data.categories, seed: 2 });
  const watched = [
    'transformer.tgt_embed.weight', 'transformer.tgt_embed_loc.weight', 'transformer.decoder.norm_loc.weight',
    'transformer.decoder.layers.1.loc_cross_attn.value_proj.weight', 'transformer.decoder.layers.1.loc_ffn.layers.1.weight',
    'transformer.decoder.layers.1.attentions.1.value_proj.weight', 'transformer.decoder.layers.1.attentions.0.attn.in_proj_weight',
  ];
  const before = new Map(watched.map((n) => [n, model.parameter(n).toTypedArray() as Float32Array]));
  // Not the model's default loss (sd-align, one-to-one): every other part of the recipe must work too.
  const trainer = new Trainer(model, { lr: 3e-4, seed: 1, loss: 'align', matching: 'mixed' });
  const result = await trainer.fit(data, { epochs: 1, batchSize: 2 });
  t.is(result.stopped, 'completed');
  t.is(result.steps, 2);
  for (const name of watched) {
    const after = model.parameter(name).toTypedArray() as Float32Array;
    t.true(after.some((v, i) => v !== before.get(name)![i]), `${name} was trained`);
    t.true(after.every(Number.isFinite), `${name} finite`);
  }
  model.dispose();
});
