// Fuzz child for test/fuzz.test.ts (train): Trainer construction options, fit options, step /
// evaluateLoss batches and options, evaluate, saveCheckpoint, Trainer.resume (also of damaged
// checkpoints).
//   node fuzz-train.js <dist/lib/index.js> <progress.json> <workdir>
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { fc, S, Trap, confine, damagePlan, fuzzed, allOf, main, writeDamaged } = require('./fuzz-common');

const MICRO = {
  preset: 'tiny', backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1, decoderLayers: 2,
  ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 64, testMaxSize: 96, numClasses: 2,
};

const trainerOptionsPlan = fc.record({
  lr: fc.double({ min: 0, max: 1e-3, noNaN: true }), backboneLr: fc.double({ min: 0, max: 1e-4, noNaN: true }),
  weightDecay: fc.double({ min: 0, max: 1e-3, noNaN: true }), clipMaxNorm: fc.double({ min: 0, max: 1, noNaN: true }),
  milestones: fc.array(fc.nat({ max: 10 }), { maxLength: 2 }), gamma: fc.double({ min: 0, max: 1, noNaN: true }),
  warmupSteps: fc.nat({ max: 3 }), warmupFactor: fc.double({ min: 0, max: 1, noNaN: true }),
  loss: fc.constantFrom('align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino'), matching: fc.constantFrom('mixed', 'one-to-one'),
  k: fc.integer({ min: 1, max: 3 }), tau: fc.double({ min: 0.1, max: 3, noNaN: true }), seed: fc.nat({ max: 1000 }), fusedLoss: fc.boolean(),
}, { requiredKeys: [] });

/** A collated batch of B images of H×W with normalised cxcywh boxes (what collate() returns). */
const batchPlan = fc
  .record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 16, max: 40 }), W: fc.integer({ min: 16, max: 40 }), n: fc.integer({ min: 0, max: 3 }), fill: fc.double({ min: -2, max: 2, noNaN: true }) })
  .map(({ B, H, W, n, fill }) => ({
    images: S('ta', { type: 'f32', values: { n: B * 3 * H * W, fill }, backing: 'plain' }),
    mask: S('ta', { type: 'u8', values: { n: B * H * W, fill: 0 }, backing: 'plain' }),
    shape: [B, 3, H, W],
    targets: Array.from({ length: B }, (_, b) => ({
      id: b,
      boxes: S('ta', { type: 'f32', values: Array.from({ length: n }, (_, k) => [0.3 + 0.1 * k, 0.5, 0.2, 0.3]).flat(), backing: 'plain' }),
      boxesXyxy: S('ta', { type: 'f32', values: { n: 4 * n, fill: 1 }, backing: 'plain' }),
      labels: S('ta', { type: 'i32', values: Array.from({ length: n }, (_, k) => k % 2), backing: 'plain' }),
      categoryIds: S('ta', { type: 'i32', values: Array.from({ length: n }, (_, k) => 1 + (k % 2)), backing: 'plain' }),
      size: [H, W],
      originalSize: [H, W],
    })),
  }));

const fitPlan = fc.record({
  epochs: fc.integer({ min: 1, max: 2 }), batchSize: fc.integer({ min: 1, max: 2 }), augment: fc.constantFrom('none', 'recipe'),
  prefetch: fc.nat({ max: 2 }), evalBatchSize: fc.integer({ min: 1, max: 2 }), maxMinutes: fc.double({ min: 0.001, max: 1, noNaN: true }),
  withVal: fc.boolean(), withCheckpoint: fc.boolean(), withProgress: fc.boolean(),
}, { requiredKeys: ['epochs', 'batchSize', 'augment'] }).map(({ withVal, withCheckpoint, withProgress, ...o }) => {
  if (withVal) o.valSet = S('dataset');
  if (withCheckpoint) o.checkpointDir = S('checkpointDir');
  if (withProgress) o.onProgress = S('progressFn');
  o.runInfo = { note: 'fuzz' };
  return [S('dataset'), o];
});

const trainSpecials = fc.constantFrom(S('dataset'), S('model'), S('progressFn'), S('abortedSignal'));

main(async (ctx) => {
  const { AlignDetr, Trainer, datasets } = ctx.lib;
  const work = ctx.workDir;
  const data = await datasets.synthetic({ numImages: 2, seed: 1, numClasses: 2, minObjects: 1, maxObjects: 2, width: 64, height: 64 });
  const base = await AlignDetr.create({ ...MICRO, categories: data.categories, seed: 3 });
  const savedModel = path.join(work, 'base.adetr');
  await base.save(savedModel);
  const trainer = new Trainer(base, { lr: 1e-5 });
  const checkpoint = path.join(work, 'train.adetr');
  await trainer.saveCheckpoint(checkpoint, { epoch: 0, stepInEpoch: 0, history: [] });
  const checkpointBytes = fs.readFileSync(checkpoint);
  let dirNo = 0;
  // A dataset that gives out a few samples and then fails: any fit ends, however many epochs it was asked for.
  const limited = (budget) => {
    let left = budget;
    const d = Object.create(data);
    d.get = (i) => {
      if (left-- <= 0) return Promise.reject(new Trap('dataset budget used up'));
      return data.get(i);
    };
    return d;
  };
  ctx.extra = (tag) => {
    if (tag === 'dataset') return limited(6);
    if (tag === 'model') return base;
    if (tag === 'checkpointDir') return path.join(work, `ckpt-${dirNo++}`);
    if (tag === 'progressFn') return () => {};
    if (tag === 'abortedSignal') return AbortSignal.abort();
    throw new Error(`unknown special ${tag}`);
  };

  return [
    {
      name: 'new Trainer',
      plan: fuzzed(fc.tuple(fc.constant(S('model')), trainerOptionsPlan), trainSpecials),
      runs: 900,
      budgetMs: 4_000,
      call: ([model, options]) => new Trainer(model, options).dispose(),
    },
    {
      name: 'trainer.step',
      plan: fuzzed(fc.tuple(batchPlan), trainSpecials),
      runs: 150,
      budgetMs: 4_000,
      call: async ([batch]) => {
        const m = await AlignDetr.load(savedModel);
        const t = new Trainer(m, { lr: 1e-5 });
        try {
          await t.step(batch);
        } finally {
          t.dispose();
          m.dispose();
        }
      },
    },
    {
      name: 'trainer.evaluateLoss',
      plan: fuzzed(fc.tuple(batchPlan, fc.record({ returnMatching: fc.boolean(), denoising: fc.constant(true), seed: fc.nat({ max: 100 }) }, { requiredKeys: [] })), trainSpecials),
      runs: 180,
      budgetMs: 4_000,
      call: (args) => trainer.evaluateLoss(...args),
    },
    {
      name: 'trainer.fit',
      plan: fuzzed(fitPlan, trainSpecials),
      runs: 90,
      budgetMs: 4_000,
      timeoutMs: 40_000,
      call: async ([dataset, options]) => {
        // A checkpoint folder given as a plain string is kept inside the work folder.
        const d = options && typeof options === 'object' && !ArrayBuffer.isView(options) ? Object.getOwnPropertyDescriptor(options, 'checkpointDir') : undefined;
        if (d && 'value' in d && typeof d.value === 'string') options.checkpointDir = confine(work, d.value);
        const m = await AlignDetr.load(savedModel);
        const t = new Trainer(m, { lr: 1e-5 });
        try {
          await t.fit(dataset, options);
        } finally {
          t.dispose();
          m.dispose();
        }
      },
    },
    {
      name: 'trainer.evaluate',
      plan: fuzzed(fc.tuple(fc.constant(S('dataset')), fc.record({ batchSize: fc.integer({ min: 1, max: 2 }) }, { requiredKeys: [] })), trainSpecials),
      runs: 120,
      budgetMs: 4_000,
      call: (args) => trainer.evaluate(...args),
    },
    {
      name: 'trainer.saveCheckpoint',
      plan: fuzzed(fc.tuple(fc.constantFrom('a.adetr', 'b=c\n.adetr'), fc.record({ epoch: fc.nat({ max: 3 }), stepInEpoch: fc.nat({ max: 3 }), history: fc.constant([]), runInfo: fc.constant({ a: 1 }) }, { requiredKeys: ['epoch', 'stepInEpoch', 'history'] })), trainSpecials),
      runs: 120,
      budgetMs: 4_000,
      call: async ([p, progress]) => {
        const file = confine(work, p);
        await trainer.saveCheckpoint(file, progress);
      },
    },
    {
      name: 'Trainer.resume',
      plan: fuzzed(fc.tuple(fc.constant(checkpoint), trainerOptionsPlan), trainSpecials),
      runs: 120,
      budgetMs: 4_000,
      call: async ([p, options]) => {
        const t = await Trainer.resume(p, options);
        t.dispose();
        t.model.dispose();
      },
    },
    {
      // Optimizer state has no checksum yet (README): damage anywhere must still be an Error, never a crash.
      name: 'Trainer.resume of a damaged checkpoint',
      plan: damagePlan(checkpointBytes.length),
      runs: 180,
      budgetMs: 4_000,
      call: async ([damage]) => {
        const file = writeDamaged(checkpointBytes, damage, path.join(work, `damaged-${dirNo++}.adetr`));
        try {
          const t = await Trainer.resume(file);
          t.dispose();
          t.model.dispose();
        } finally {
          fs.rmSync(file, { force: true });
        }
      },
    },
    {
      // Degenerate batches: no image, images without boxes, boxes of zero size.
      name: 'step and evaluateLoss with degenerate batches',
      scenario: async (_ctx, progress) => {
        const batch = (B, H, W, boxes) => ({
          images: new Float32Array(B * 3 * H * W).fill(0.1), mask: new Uint8Array(B * H * W), shape: [B, 3, H, W],
          targets: Array.from({ length: B }, (_, id) => ({
            id, boxes: Float32Array.from(boxes), boxesXyxy: new Float32Array(boxes.length), labels: new Int32Array(boxes.length / 4),
            categoryIds: new Int32Array(boxes.length / 4).fill(1), size: [H, W], originalSize: [H, W],
          })),
        });
        const cases = {
          'no image': batch(0, 16, 16, []), 'no boxes': batch(1, 16, 16, []), '1x1 image': batch(1, 1, 1, [0.5, 0.5, 1, 1]),
          'zero-size box': batch(1, 16, 16, [0.5, 0.5, 0, 0]), 'box outside': batch(1, 16, 16, [5, 5, 2, 2]),
          'negative box': batch(1, 16, 16, [0.5, 0.5, -1, -1]), 'huge box': batch(1, 16, 16, [0.5, 0.5, 1e30, 1e30]),
        };
        const checks = [];
        for (const [label, b] of Object.entries(cases)) {
          checks.push([`evaluateLoss(${label})`, () => { progress(`evaluateLoss ${label}`); return trainer.evaluateLoss(b, { returnMatching: true }); }, 'any']);
          checks.push([`step(${label})`, async () => {
            progress(`step ${label}`);
            const m = await AlignDetr.load(savedModel);
            const t = new Trainer(m, { lr: 1e-5 });
            try {
              await t.step(b);
            } finally {
              t.dispose();
              m.dispose();
            }
          }, 'any']);
        }
        await allOf(checks);
      },
    },
    {
      // Known issue: options that must be integers, and option keys the trainer does not know, are refused.
      name: 'new Trainer refuses fractional / out-of-range / unknown options',
      scenario: async () => {
        const checks = [];
        const bad = {
          k: [1.5, 0, 17, 2 ** 53], warmupSteps: [2.5, -1, 2 ** 53 + 2], seed: [0.5, -1, 2 ** 53, 2 ** 64],
          milestones: [[1.5], [-1], [2 ** 53], 5, ['3']], lr: [-1, NaN, Infinity, '1e-4'], tau: [0, -1, NaN],
          gamma: [-0.1, 2], weightDecay: [-1], clipMaxNorm: [-1, NaN], warmupFactor: [2], loss: ['nope', 5], matching: ['many', 1],
          fusedLoss: ['yes', 1],
          learningRate: [1e-4], epochs: [3], 'lr=1': [1], 'k\n': [2], '': [1],
        };
        for (const [key, values] of Object.entries(bad)) {
          for (const v of values) {
            checks.push([`new Trainer(model, { ${JSON.stringify(key)}: ${JSON.stringify(v)} })`, () => new Trainer(base, { [key]: v }).dispose(), 'argError']);
          }
        }
        await allOf(checks);
      },
    },
    {
      name: 'fit refuses fractional and out-of-range numeric options',
      scenario: async () => {
        const checks = [];
        const bad = { epochs: [1.5, 0, -1, NaN, '1'], batchSize: [0.5, 0, 2 ** 53 + 2], prefetch: [1.5, -1], evalBatchSize: [0.5, 0, -1], maxMinutes: [0, -1, NaN] };
        for (const [key, values] of Object.entries(bad)) {
          for (const v of values) {
            checks.push([`fit({ ${key}: ${v} })`, async () => {
              const m = await AlignDetr.load(savedModel);
              const t = new Trainer(m, { lr: 1e-5 });
              try {
                await t.fit(limited(6), { epochs: 1, batchSize: 1, augment: 'none', valSet: limited(6), [key]: v });
              } finally {
                t.dispose();
                m.dispose();
              }
            }, 'argError']);
          }
        }
        await allOf(checks);
      },
    },
  ];
});
