// Runs inside a worker_threads Worker: starts one kind of native async work (workerData.kind),
// tells the parent, and keeps it in flight so the parent can terminate the worker mid-work.
const { parentPort, workerData } = require('node:worker_threads');
const lib = require(workerData.lib);
const { AlignDetr, Trainer, Tensor, datasets, ops } = lib;

const micro = {
  preset: 'tiny', backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1, decoderLayers: 2,
  ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192, numClasses: 3,
};

async function start(kind) {
  if (kind === 'create') return [AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 3 })];
  if (kind === 'lsa') {
    const n = 300;
    const cost = new Float64Array(n * n).map((_, i) => Math.sin(i * 0.7));
    return Array.from({ length: 8 }, () => ops.linearSumAssignmentBatchAsync([Tensor.from(cost, [n, n])]));
  }
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  if (kind === 'predict') {
    const image = { data: new Uint8Array(480 * 640 * 3).fill(90), width: 640, height: 480, channels: 3 };
    return Array.from({ length: 4 }, () => model.predict(image));
  }
  if (kind === 'save') return Array.from({ length: 4 }, (_, i) => model.save(`${workerData.dir}/busy-${i}.adetr`));
  if (kind === 'fit') {
    const data = await datasets.synthetic({ numImages: 8, seed: 1, numClasses: 3, minObjects: 1, maxObjects: 2, width: 96, height: 96 });
    const small = await AlignDetr.create({ ...micro, categories: data.categories });
    return [new Trainer(small, { lr: 1e-4 }).fit(data, { epochs: 50, batchSize: 2, augment: 'none' })];
  }
  throw new Error(`unknown kind ${kind}`);
}

start(workerData.kind).then((pending) => {
  for (const p of pending) p.catch(() => {});
  parentPort.postMessage('started');
});
