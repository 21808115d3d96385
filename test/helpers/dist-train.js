// One process of test/dist-train.test.ts: node dist-train.js <lib> <json>, json = { rank, world,
// port, batchSize, steps, out }. Trains a micro model on 8 synthetic 64×64 images (no
// augmentation, one thread) for `steps` steps with per-sample noise, alone (world 1) or as one
// rank of a Gloo group on loopback; rank 0 writes every parameter (float32, in name order) to
// `out` and prints one JSON line: the reported losses (total and terms per step), and COCO stats of the final weights evaluated by the
// group (distributed) and by this process alone.
const fs = require('node:fs');
const [lib, json] = process.argv.slice(2);
const { AlignDetr, Trainer, datasets, evaluateModel } = require(lib);
const o = JSON.parse(json);

(async () => {
  const train = await datasets.synthetic({ numImages: 8, seed: 5, numClasses: 2, minObjects: 1, maxObjects: 3, width: 64, height: 64 });
  const val = await datasets.synthetic({ numImages: 5, seed: 6, numClasses: 2, minObjects: 1, maxObjects: 3, width: 64, height: 64 });
  const model = await AlignDetr.create({
    preset: 'tiny', categories: train.categories, seed: o.rank === 1 ? 99 : 7, // rank 1's own weights: the broadcast replaces them
    backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1, decoderLayers: 2, ffnDim: 64,
    numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 64, testMaxSize: 64,
  });
  const distributed = o.world > 1 ? { rank: o.rank, worldSize: o.world, masterAddr: '127.0.0.1', masterPort: o.port, timeoutMs: 30000 } : undefined;
  const trainer = new Trainer(model, { lr: 1e-3, seed: 42, sampleSeededNoise: true, ...(distributed ? { distributed } : {}) });
  const stop = new AbortController();
  const losses = [];
  const terms = [];
  await trainer.fit(train, {
    epochs: 10, batchSize: o.batchSize, augment: 'none', signal: stop.signal, prefetch: 0,
    onProgress: (e) => {
      if (e.type !== 'step') return;
      losses.push(e.loss);
      terms.push(e.losses);
      if (e.step >= o.steps) stop.abort();
    },
  });
  const result = { rank: trainer.rank, steps: trainer.stepCount, losses, terms };
  if (distributed) {
    result.evalGroup = (await trainer.evaluate(val, { batchSize: 2 })).stats;
    result.evalAlone = (await evaluateModel(model, val, { batchSize: 2 })).stats;
  }
  if (trainer.rank === 0) {
    const parts = model.parameterNames().map((n) => {
      const t = model.parameter(n);
      const a = Float32Array.from(t.toTypedArray());
      t.dispose();
      return Buffer.from(a.buffer);
    });
    fs.writeFileSync(o.out, Buffer.concat(parts));
  }
  console.log(JSON.stringify(result));
  process.exit(0);
})().catch((e) => {
  console.log(JSON.stringify({ fatal: `${e && e.name}: ${e && e.message}` }));
  process.exit(1);
});
