// Fuzz child for test/fuzz.test.ts (model): AlignDetr.create options, model.predict / forward / save /
// parameter / numParameters / loadCheckpoint, AlignDetr.load (also of damaged files), and every
// method of the native handle classes called with a `this` of another class.
//   node fuzz-model.js <dist/lib/index.js> <progress.json> <workdir>
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { CheckFailure, fc, S, confine, damagePlan, fuzzed, allOf, main, writeDamaged } = require('./fuzz-common');

// A model small enough to create in well under a second (the tiny preset, narrowed).
const MICRO = {
  preset: 'tiny', backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1, decoderLayers: 2,
  ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 64, testMaxSize: 96, numClasses: 2,
};
const SIZE_FIELDS = [
  'numClasses', 'backboneDepth', 'backboneWidth', 'freezeAt', 'hiddenDim', 'numHeads', 'numLevels', 'numPoints',
  'encoderLayers', 'decoderLayers', 'ffnDim', 'numQueries', 'neckGroups', 'dnNumber', 'testShortEdge', 'testMaxSize', 'selectTopK',
];

const modelSpecials = fc.constantFrom(S('model'), S('modelHandle'), S('trainerHandle'), S('savedPath'), S('dataset'));

const createPlan = fc
  .record({
    numClasses: fc.integer({ min: 1, max: 3 }),
    seed: fc.option(fc.nat({ max: 1000 }), { nil: undefined }),
    categories: fc.option(fc.constant([{ id: 7, name: 'a' }, { id: 9, name: 'b' }]), { nil: undefined }),
    padInvariant: fc.option(fc.boolean(), { nil: undefined }),
    numQueries: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
  })
  .map(({ numClasses, seed, categories, padInvariant, numQueries }) => {
    const o = { ...MICRO, numClasses: categories ? 2 : numClasses };
    if (seed !== undefined) o.seed = seed;
    if (categories) o.categories = categories;
    if (padInvariant !== undefined) o.padInvariant = padInvariant;
    if (numQueries !== undefined) o.numQueries = numQueries;
    return [o];
  });

const imagePlan = fc
  .record({ w: fc.integer({ min: 1, max: 24 }), h: fc.integer({ min: 1, max: 24 }), fill: fc.integer({ min: 0, max: 255 }) })
  .map(({ w, h, fill }) => ({ data: S('ta', { type: 'u8', values: Array.from({ length: w * h * 3 }, (_, i) => (fill + i) % 256), backing: 'plain' }), width: w, height: h, channels: 3 }));

const predictPlan = fc.tuple(
  fc.oneof(imagePlan, fc.array(fc.oneof(imagePlan, fc.constant(S('imagePath'))), { minLength: 1, maxLength: 2 })),
  fc.record({ scoreThreshold: fc.double({ min: 0, max: 1, noNaN: true }), maxDetections: fc.integer({ min: 1, max: 50 }) }, { requiredKeys: [] }),
);

const forwardPlan = fc
  .record({ B: fc.integer({ min: 1, max: 2 }), H: fc.integer({ min: 8, max: 40 }), W: fc.integer({ min: 8, max: 40 }), profile: fc.option(fc.boolean(), { nil: undefined }) })
  .map(({ B, H, W, profile }) => [
    S('tensor', { type: 'f32', shape: [B, 3, H, W], fill: 0.1 }),
    S('tensorFrom', { data: S('ta', { type: 'i64', values: Array.from({ length: B }, () => [H, W]).flat(), backing: 'plain' }), shape: [B, 2] }),
    profile === undefined ? {} : { profile },
  ]);

main(async (ctx) => {
  const { AlignDetr, Trainer, datasets } = ctx.lib;
  const work = ctx.workDir;
  fs.mkdirSync(path.join(work, 'out'), { recursive: true });
  const model = await AlignDetr.create({ ...MICRO, seed: 1 });
  const saved = path.join(work, 'saved.adetr');
  await model.save(saved);
  const savedBytes = fs.readFileSync(saved);
  const imagePath = path.join(work, 'image.png');
  await require('sharp')(Buffer.alloc(20 * 16 * 3, 120), { raw: { width: 20, height: 16, channels: 3 } }).png().toFile(imagePath);
  const addon = ctx.addon();
  // The native handles (internal: through the compiled model module, whichever way it exposes them).
  const modelModule = require(path.join(path.dirname(ctx.libPath), 'model.js'));
  const handleOf = (m) => (modelModule.modelInternals ? modelModule.modelInternals.handleOf(m) : m._handle);
  const modelHandle = handleOf(model);
  const trainerHandle = addon.createTrainer(modelHandle, {});
  const data = await datasets.synthetic({ numImages: 2, seed: 1, numClasses: 2, minObjects: 1, maxObjects: 2, width: 64, height: 64 });
  ctx.extra = (tag) => {
    if (tag === 'model') return model;
    if (tag === 'modelHandle') return modelHandle;
    if (tag === 'trainerHandle') return trainerHandle;
    if (tag === 'savedPath') return saved;
    if (tag === 'imagePath') return imagePath;
    if (tag === 'dataset') return data;
    throw new Error(`unknown special ${tag}`);
  };
  const names = model.parameterNames();
  let fileNo = 0;

  const foreignThis = (cls, instance) => {
    const proto = Object.getPrototypeOf(instance);
    const members = Object.getOwnPropertyNames(proto).filter((k) => k !== 'constructor');
    const others = {
      tensorHandle: () => addon.TensorHandle.fromTypedArray(new Float32Array(4), [2, 2]),
      modelHandle: () => modelHandle,
      trainerHandle: () => trainerHandle,
      plainObject: () => ({}),
      unwrappedSameClass: () => Object.create(proto),
      nullThis: () => null,
      fn: () => function f() {},
    };
    return {
      name: `${cls} methods with a foreign this`,
      scenario: async (_ctx, progress) => {
        const checks = [];
        for (const member of members) {
          const d = Object.getOwnPropertyDescriptor(proto, member);
          for (const [kind, make] of Object.entries(others)) {
            if (kind === `${cls[0].toLowerCase()}${cls.slice(1)}`) continue; // its own class: not foreign
            const args = [path.join(work, 'out', `foreign-${member}.adetr`), '{}'];
            checks.push([`${cls}.${member} with this = ${kind}`, async () => {
              progress(`${cls}.${member} this=${kind}`);
              const self = make();
              if (d.get) return d.get.call(self);
              if (typeof d.value === 'function') return d.value.apply(self, args);
              return undefined;
            }, 'any']);
          }
        }
        await allOf(checks);
      },
    };
  };

  return [
    {
      name: 'AlignDetr.create',
      plan: fuzzed(createPlan, modelSpecials),
      runs: 180,
      budgetMs: 5_000,
      timeoutMs: 60_000,
      call: async ([options]) => {
        const m = await AlignDetr.create(options);
        m.dispose();
      },
    },
    {
      name: 'model.predict',
      plan: fuzzed(predictPlan, modelSpecials),
      runs: 360,
      budgetMs: 5_000,
      call: (args) => model.predict(...args),
    },
    {
      name: 'model.forward',
      plan: fuzzed(forwardPlan, modelSpecials),
      runs: 180,
      budgetMs: 5_000,
      call: async (args) => {
        const out = await model.forward(...args);
        out.memory.toTypedArray();
      },
    },
    {
      name: 'model.parameter / numParameters / parameterNames / config',
      plan: fuzzed(fc.tuple(fc.constantFrom(...names.slice(0, 40), 'no.such.weight', ''), fc.record({ trainableOnly: fc.boolean() }, { requiredKeys: [] })), modelSpecials),
      runs: 600,
      budgetMs: 5_000,
      call: ([name, options]) => {
        model.parameter(name).toTypedArray();
        model.numParameters(options);
        model.parameterNames(name);
        void [model.config, model.categories, model.disposed];
      },
    },
    {
      name: 'model.save',
      plan: fuzzed(fc.tuple(fc.constantFrom('a.adetr', 'sub/b.adetr', 'c=d\n.adetr', 'deep/er/e.adetr')), modelSpecials),
      runs: 120,
      budgetMs: 5_000,
      call: async ([p]) => {
        await model.save(confine(work, p));
      },
    },
    {
      name: 'AlignDetr.load / model.loadCheckpoint',
      plan: fuzzed(fc.tuple(fc.constantFrom(S('savedPath'), 'missing.adetr', 'image.png', '.', 'out')), modelSpecials),
      runs: 180,
      budgetMs: 5_000,
      call: async ([p]) => {
        const file = typeof p === 'string' && !path.isAbsolute(p) ? path.join(work, p) : p;
        try {
          (await AlignDetr.load(file)).dispose();
        } finally {
          await model.loadCheckpoint(file).catch((e) => {
            if (!(e instanceof Error)) throw e;
          });
        }
      },
    },
    {
      // A saved model with bytes flipped or cut: a CheckpointError / TypeError, never a crash or a wrong model.
      name: 'AlignDetr.load of a damaged file',
      plan: damagePlan(savedBytes.length),
      runs: 240,
      budgetMs: 5_000,
      call: async ([damage]) => {
        const file = writeDamaged(savedBytes, damage, path.join(work, `damaged-${fileNo++}.adetr`));
        try {
          const m = await AlignDetr.load(file);
          // Loaded: only right if no byte that matters changed (e.g. flips that cancel out).
          const a = m.parameter(names[0]).toTypedArray();
          const b = model.parameter(names[0]).toTypedArray();
          if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) throw new CheckFailure('a damaged file loaded as a different model');
          m.dispose();
        } finally {
          fs.rmSync(file, { force: true });
        }
      },
    },
    {
      // Known issue: sizes of 2^53 and above, negative or fractional sizes, and non-finite numbers are
      // RangeErrors naming the field, for every size field of the config.
      name: 'AlignDetr.create refuses out-of-range config sizes',
      scenario: async (_ctx, progress) => {
        const checks = [];
        for (const field of SIZE_FIELDS) {
          for (const v of [2 ** 53, 2 ** 53 + 2, 2 ** 63, 1e300, Infinity, NaN, -1, 0.5, 2 ** 32 + 1]) {
            checks.push([`create({ ${field}: ${v} })`, async () => {
              progress(`create ${field}=${v}`);
              const m = await AlignDetr.create({ ...MICRO, [field]: v });
              m.dispose();
            }, 'argError']);
          }
        }
        for (const v of [2 ** 53, 2 ** 53 + 2, -1, 0.5, NaN]) {
          checks.push([`create({ seed: ${v} })`, () => AlignDetr.create({ ...MICRO, seed: v }).then((m) => m.dispose()), 'argError']);
        }
        await allOf(checks);
      },
    },
    {
      // Known issue: override keys are fields of the config, not lines of a config text.
      name: 'AlignDetr.create refuses keys with = / newline / NUL and unknown keys',
      scenario: async (_ctx, progress) => {
        const checks = [];
        for (const key of ['hiddenDim=64\nnumQueries', 'numQueries=5\nhiddenDim', 'a=b', 'x\ny', 'hiddenDim\0', '', '=', 'hiddenDimm', 'numClasses\n', ' hiddenDim']) {
          checks.push([`create({ ${JSON.stringify(key)}: 3 })`, async () => {
            progress(`create key ${JSON.stringify(key)}`);
            const m = await AlignDetr.create({ ...MICRO, [key]: 3 });
            const cfg = m.config;
            m.dispose();
            if (cfg.hiddenDim !== MICRO.hiddenDim || cfg.numQueries !== MICRO.numQueries) throw new CheckFailure(`the key changed the config: ${JSON.stringify(cfg)}`);
          }, 'argError']);
        }
        for (const preset of ['tiny\nhiddenDim=64', 'tiny=', 'no-such-preset', '']) {
          checks.push([`create({ preset: ${JSON.stringify(preset)} })`, () => AlignDetr.create({ ...MICRO, preset }).then((m) => m.dispose()), 'argError']);
        }
        await allOf(checks);
      },
    },
    {
      // Known issue: SAB-backed pixels are accepted and give the detections of the same pixels in a plain array.
      name: 'model.predict accepts SharedArrayBuffer-backed pixels',
      scenario: async () => {
        const w = 20, h = 16;
        const plain = new Uint8Array(w * h * 3).map((_, i) => (i * 7) % 256);
        const shared = new Uint8Array(new SharedArrayBuffer(plain.length));
        shared.set(plain);
        const [a] = await model.predict({ data: plain, width: w, height: h, channels: 3 }, { maxDetections: 5 });
        await allOf([[`predict(SAB pixels)`, async () => {
          const [b] = await model.predict({ data: shared, width: w, height: h, channels: 3 }, { maxDetections: 5 });
          if (JSON.stringify(a) !== JSON.stringify(b)) throw new CheckFailure('different detections');
        }, 'accept']]);
      },
    },
    {
      // Degenerate sizes: an empty batch, 1-pixel images, extreme aspect ratios.
      name: 'forward and predict with degenerate sizes',
      scenario: async (_ctx, progress) => {
        const { Tensor } = ctx.lib;
        const forward = (B, H, W, h = H, w = W) => async () => {
          progress(`forward [${B}, 3, ${H}, ${W}] valid ${h}x${w}`);
          const images = Tensor.from(new Float32Array(B * 3 * H * W).fill(0.2), [B, 3, H, W]);
          const sizes = Tensor.from(BigInt64Array.from(Array.from({ length: B }, () => [BigInt(h), BigInt(w)]).flat()), [B, 2]);
          const out = await model.forward(images, sizes);
          out.memory.toTypedArray();
        };
        const predict = (w, h) => async () => {
          progress(`predict ${w}x${h}`);
          await model.predict({ data: new Uint8Array(w * h * 3).fill(50), width: w, height: h, channels: 3 });
        };
        await allOf([
          ['forward B=0', forward(0, 3, 16, 16), 'any'],
          ['forward 1x1', forward(1, 1, 1), 'any'],
          ['forward 1x64', forward(1, 1, 64), 'any'],
          ['forward 64x1', forward(1, 64, 1), 'any'],
          ['forward 2x2', forward(1, 2, 2), 'any'],
          ['forward 16x16 valid 1x1', forward(1, 16, 16, 1, 1), 'any'],
          ['predict 1x1', predict(1, 1), 'any'],
          ['predict 1x300', predict(1, 300), 'any'],
          ['predict 300x1', predict(300, 1), 'any'],
          ['predict 65536x1', predict(65536, 1), 'any'],
        ]);
      },
    },
    {
      // A disposed model refuses every method with a TypeError.
      name: 'a disposed model refuses every method',
      scenario: async () => {
        const m = await AlignDetr.create(MICRO);
        m.dispose();
        m.dispose();
        const img = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
        await allOf([
          ['predict', () => m.predict(img), 'argError'],
          ['save', () => m.save(path.join(work, 'out', 'disposed.adetr')), 'argError'],
          ['parameter', () => m.parameter(names[0]), 'argError'],
          ['parameterNames', () => m.parameterNames(), 'argError'],
          ['numParameters', () => m.numParameters(), 'argError'],
          ['config', () => m.config, 'argError'],
          ['loadCheckpoint', () => m.loadCheckpoint(saved), 'argError'],
          ['new Trainer', () => new Trainer(m, {}), 'argError'],
        ]);
      },
    },
    foreignThis('ModelHandle', modelHandle),
    foreignThis('TensorHandle', addon.TensorHandle.fromTypedArray(new Float32Array(4), [2, 2])),
    foreignThis('TrainerHandle', trainerHandle),
  ];
});

