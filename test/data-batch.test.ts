// Batching (normalisation, zero padding, mask, DETR targets) against hand-computed numbers, and
// the DataLoader: order, once-per-epoch coverage, prefetching, seeds, sharding, errors.
import test from 'ava';
import {
  collate, DataLoader, datasets, pixelNormalization, type BatchInput, type BatchTarget, type Dataset, type LoadedSample,
} from '../lib/data/index';

// The recipe's ImageNet statistics (0..255 scale), written out here as the independent answer.
const PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
const PIXEL_STD = [58.395, 57.12, 57.375] as const;

const input = (id: number, w: number, h: number, fill: (x: number, y: number, c: number) => number,
  boxes: number[] = [], labels: number[] = []): BatchInput => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[3 * (y * w + x) + c] = fill(x, y, c);
  return { id, image: { data, width: w, height: h }, boxes: new Float32Array(boxes), labels: new Int32Array(labels) };
};

test('collate: normalise with the §A.1 mean/std, zero-pad bottom-right, mask 1 = padding', (t) => {
  const a = input(10, 3, 2, (x, y, c) => 10 * x + y + 100 * c);
  const b = input(11, 2, 4, () => 255);
  const batch = collate([a, b]);
  t.deepEqual(batch.shape, [2, 3, 4, 3]);
  const at = (bi: number, c: number, y: number, x: number) => batch.images[((bi * 3 + c) * 4 + y) * 3 + x]!;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 3; x++) {
        const inA = y < 2 && x < 3, inB = y < 4 && x < 2;
        const expA = inA ? (10 * x + y + 100 * c - PIXEL_MEAN[c]!) / PIXEL_STD[c]! : 0;
        const expB = inB ? (255 - PIXEL_MEAN[c]!) / PIXEL_STD[c]! : 0;
        t.true(Math.abs(at(0, c, y, x) - expA) < 1e-5, `a c${c} y${y} x${x}`);
        t.true(Math.abs(at(1, c, y, x) - expB) < 1e-5, `b c${c} y${y} x${x}`);
        if (c === 0) {
          t.is(batch.mask[(0 * 4 + y) * 3 + x], inA ? 0 : 1);
          t.is(batch.mask[(1 * 4 + y) * 3 + x], inB ? 0 : 1);
        }
      }
    }
  }
  // Spot value: channel 0 of white is (255 - 123.675) / 58.395 = 2.2489...
  t.true(Math.abs(at(1, 0, 0, 0) - 2.248908) < 1e-5);
});

test('pixelNormalization: the ImageNet mean/std the native preprocessing uses', (t) => {
  t.deepEqual(pixelNormalization(), { mean: PIXEL_MEAN, std: PIXEL_STD });
});

test('collate: targets are cxcywh over the unpadded size, labels mapped to class indices', (t) => {
  const a = input(1, 100, 50, () => 0, [10, 5, 30, 45, 0, 0, 100, 50], [7, 3]);
  const b = input(2, 40, 80, () => 0);
  const batch = collate([a, b], { classIndex: new Map([[3, 0], [7, 1]]) });
  const [ta, tb] = batch.targets as [BatchTarget, BatchTarget];
  t.deepEqual(Array.from(ta.boxes), Array.from(new Float32Array([0.2, 0.5, 0.2, 0.8, 0.5, 0.5, 1, 1])));
  t.deepEqual(Array.from(ta.labels), [1, 0]);
  t.deepEqual(Array.from(ta.categoryIds), [7, 3]);
  t.deepEqual(Array.from(ta.boxesXyxy), [10, 5, 30, 45, 0, 0, 100, 50]);
  t.deepEqual(ta.size, [50, 100]);
  t.is(tb.boxes.length, 0);
  t.deepEqual(batch.shape, [2, 3, 80, 100]);
  t.throws(() => collate([input(3, 2, 2, () => 0, [0, 0, 1, 1], [5])], { classIndex: new Map() }),
    { instanceOf: RangeError, message: /category id 5/ });
  t.throws(() => collate([]), { instanceOf: RangeError, message: /^samples/ });
});

/** A dataset of n tiny images whose pixel value is the index; each get takes a random delay. */
function delayedDataset(n: number, log: { started: number[]; finished: number[] }, failAt = -1): Dataset {
  let seed = 1;
  const delay = () => ((seed = (seed * 48271) % 2147483647) % 15);
  return {
    name: 'delayed',
    categories: [{ id: 1, name: 'thing' }],
    length: n,
    warnings: { droppedBoxes: 0, clippedBoxes: 0, droppedImages: 0, details: [] },
    annotation(i: number) {
      return { id: i, name: `s${i}`, width: 2 + (i % 3), height: 2, boxes: new Float32Array([0, 0, 1, 1]), labels: new Int32Array([1]) };
    },
    async get(i: number): Promise<LoadedSample> {
      log.started.push(i);
      await new Promise((r) => setTimeout(r, delay()));
      if (i === failAt) throw new Error(`cannot decode image s${i}.jpg: broken`);
      log.finished.push(i);
      const a = this.annotation(i);
      return { ...a, image: { data: new Uint8Array(a.width * a.height * 3).fill(i), width: a.width, height: a.height, channels: 3 } };
    },
  };
}

const idsOf = (batch: { targets: { id: number }[] }) => batch.targets.map((t) => t.id);

test('DataLoader yields batches in order, every sample once per epoch, whatever finishes first', async (t) => {
  const log = { started: [] as number[], finished: [] as number[] };
  const ds = delayedDataset(23, log);
  const loader = new DataLoader(ds, { batchSize: 4, prefetch: 3 });
  t.is(loader.length, 6);
  const seen: number[] = [];
  for await (const batch of loader) {
    seen.push(...idsOf(batch));
    // The image pixel equals the index: the batch holds the right images in the right slots.
    batch.targets.forEach((tg, b) => {
      const v = (tg.id - PIXEL_MEAN[0]) / PIXEL_STD[0];
      t.true(Math.abs(batch.images[b * 3 * batch.shape[2] * batch.shape[3]]! - v) < 1e-5);
    });
  }
  t.deepEqual(seen, [...Array(23).keys()]);
  t.notDeepEqual(log.finished, [...Array(23).keys()], 'loads finished out of order, yet batches came in order');
  t.is(loader.epoch, 1);
  const dropLast = new DataLoader(ds, { batchSize: 4, dropLast: true });
  t.is(dropLast.length, 5);
  const sizes: number[] = [];
  for await (const batch of dropLast) sizes.push(batch.shape[0]);
  t.deepEqual(sizes, [4, 4, 4, 4, 4]);
});

test('DataLoader prefetches `prefetch` batches ahead of the one being consumed', async (t) => {
  const log = { started: [] as number[], finished: [] as number[] };
  const loader = new DataLoader(delayedDataset(40, log), { batchSize: 4, prefetch: 2 });
  const it = loader[Symbol.asyncIterator]();
  await it.next(); // batch 0 consumed; batches 1 and 2 must be loading
  t.deepEqual([...log.started].sort((a, b) => a - b), [...Array(12).keys()]);
  await new Promise((r) => setTimeout(r, 60)); // the "training step"
  t.is(log.finished.length, 12, 'batches 1 and 2 finished loading while the consumer was busy');
  await it.next();
  t.deepEqual([...log.started].sort((a, b) => a - b), [...Array(16).keys()], 'one more batch started');
  await it.return?.(undefined);
  const none = { started: [] as number[], finished: [] as number[] };
  const lazy = new DataLoader(delayedDataset(40, none), { batchSize: 4, prefetch: 0 })[Symbol.asyncIterator]();
  await lazy.next();
  t.is(none.started.length, 4, 'prefetch 0 loads on demand');
});

test('DataLoader shuffles per (seed, epoch): reproducible, different across epochs, a permutation', async (t) => {
  const ds = delayedDataset(30, { started: [], finished: [] });
  const orderOf = async (loader: DataLoader) => {
    const ids: number[] = [];
    for await (const b of loader) ids.push(...idsOf(b));
    return ids;
  };
  const a = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 5 });
  const b = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 5 });
  const a0 = await orderOf(a), b0 = await orderOf(b), a1 = await orderOf(a);
  t.deepEqual(a0, b0);
  t.notDeepEqual(a0, a1);
  t.notDeepEqual(a0, [...Array(30).keys()]);
  t.deepEqual([...a0].sort((x, y) => x - y), [...Array(30).keys()]);
  t.deepEqual([...a1].sort((x, y) => x - y), [...Array(30).keys()]);
  b.setEpoch(0);
  t.deepEqual(await orderOf(b), a0, 'setEpoch replays an epoch');
  // Sharding over 4 ranks: equal counts, together every sample (2 wrapped around to pad 30 -> 32).
  const shards = [0, 1, 2, 3].map((rank) => new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 5, rank, worldSize: 4 }).indices(0));
  t.true(shards.every((s) => s.length === 8));
  t.deepEqual([...new Set(shards.flat())].sort((x, y) => x - y), [...Array(30).keys()]);
});

test('DataLoader.batches: an epoch from a given batch on (a resumed fit), epoch counter untouched', async (t) => {
  const ds = delayedDataset(30, { started: [], finished: [] });
  const loader = new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 5 });
  const order1 = loader.indices(1);
  const ids: number[] = [];
  for await (const b of loader.batches({ epoch: 1, start: 2 })) ids.push(...idsOf(b));
  t.deepEqual(ids, order1.slice(14), 'batches 2.. of epoch 1: samples 14.. of its order');
  t.is(loader.epoch, 0);
  const none: number[] = [];
  for await (const b of loader.batches({ epoch: 1, start: loader.length })) none.push(...idsOf(b));
  t.deepEqual(none, []);
  await t.throwsAsync(async () => {
    for await (const b of loader.batches({ start: loader.length + 1 })) void b;
  }, { instanceOf: RangeError, message: /^start/ });
});

test('DataLoader: augmentation is seeded per sample; crowd boxes dropped; errors surface', async (t) => {
  const ds = await datasets.synthetic({ numImages: 12, seed: 3, width: 96, height: 64 });
  const { resizeShortestEdge } = await import('../lib/data/index');
  const augment = resizeShortestEdge({ shortEdge: [32, 48, 64, 80], maxSize: 200 });
  const run = async (prefetch: number) => {
    const out: string[] = [];
    for await (const b of new DataLoader(ds, { batchSize: 5, augment, seed: 9, prefetch })) {
      for (const tg of b.targets) out.push(`${tg.id}:${tg.size.join('x')}:${Array.from(tg.boxes).map((v) => v.toFixed(4)).join(',')}`);
    }
    return out;
  };
  const first = await run(0);
  t.deepEqual(await run(4), first, 'same result whatever the prefetch depth');
  t.true(new Set(first.map((s) => s.split(':')[1])).size > 1, 'sizes vary across samples');

  const crowd: Dataset = {
    ...delayedDataset(1, { started: [], finished: [] }),
    async get() {
      return {
        id: 0, name: 'c', width: 4, height: 4, boxes: new Float32Array([0, 0, 1, 1, 1, 1, 3, 3]), labels: new Int32Array([1, 1]),
        iscrowd: new Uint8Array([1, 0]), image: { data: new Uint8Array(48), width: 4, height: 4, channels: 3 },
      };
    },
  };
  const [cb] = await (async () => { const r = []; for await (const b of new DataLoader(crowd, { batchSize: 1 })) r.push(b); return r; })();
  t.deepEqual(Array.from(cb!.targets[0]!.boxesXyxy), [1, 1, 3, 3]);

  const failing = new DataLoader(delayedDataset(12, { started: [], finished: [] }, 6), { batchSize: 4, prefetch: 2 });
  const got: number[] = [];
  await t.throwsAsync(async () => {
    for await (const b of failing) got.push(...idsOf(b));
  }, { message: /cannot decode image s6\.jpg: broken/ });
  t.deepEqual(got, [0, 1, 2, 3], 'the batches before the broken one were delivered');
  t.throws(() => new DataLoader(ds, { batchSize: 0 }), { instanceOf: RangeError, message: /^batchSize/ });
  t.throws(() => new DataLoader(ds, {} as never), { instanceOf: TypeError, message: /^batchSize/ });
});
