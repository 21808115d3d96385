// Fuzz child for test/fuzz.test.ts (data): the dataset readers' options (synthetic, coco, voc), the
// DataLoader, collate, image decoding and resizing, evaluateCoco / CocoEvaluator, and the alignment
// diagnostics.
//   node fuzz-data.js <dist/lib/index.js> <progress.json> <workdir>
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { CheckFailure, fc, S, fuzzed, allOf, main } = require('./fuzz-common');

const box = fc.tuple(fc.double({ min: 0, max: 40, noNaN: true }), fc.double({ min: 0, max: 40, noNaN: true }), fc.double({ min: 0.5, max: 20, noNaN: true }), fc.double({ min: 0.5, max: 20, noNaN: true }));

/** A COCO ground truth with 1-2 images and categories and its detections, as objects or columns. */
const cocoPlan = fc
  .record({
    anns: fc.array(fc.record({ image_id: fc.constantFrom(1, 2), category_id: fc.constantFrom(1, 2), bbox: box, iscrowd: fc.constantFrom(0, 1) }), { maxLength: 4 }),
    dets: fc.array(fc.record({ image_id: fc.constantFrom(1, 2), category_id: fc.constantFrom(1, 2), bbox: box, score: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 5 }),
    columns: fc.boolean(),
  })
  .map(({ anns, dets, columns }) => {
    const gt = {
      images: [{ id: 1, width: 64, height: 48, file_name: 'a.png' }, { id: 2, width: 32, height: 32, file_name: 'b.png' }],
      annotations: anns.map((a, i) => ({ id: i + 1, area: a.bbox[2] * a.bbox[3], ...a })),
      categories: [{ id: 1, name: 'one' }, { id: 2, name: 'two' }],
    };
    const detections = columns
      ? {
        imageIds: S('ta', { type: 'f64', values: dets.map((d) => d.image_id), backing: 'plain' }),
        categoryIds: S('ta', { type: 'i32', values: dets.map((d) => d.category_id), backing: 'plain' }),
        boxes: S('ta', { type: 'f32', values: dets.flatMap((d) => d.bbox), backing: 'plain' }),
        scores: S('ta', { type: 'f32', values: dets.map((d) => d.score), backing: 'plain' }),
      }
      : dets;
    return [gt, detections];
  });

const rgbPlan = fc
  .record({ w: fc.integer({ min: 1, max: 12 }), h: fc.integer({ min: 1, max: 12 }) })
  .map(({ w, h }) => ({ data: S('ta', { type: 'u8', values: { n: w * h * 3, fill: 90 }, backing: 'plain' }), width: w, height: h, channels: 3 }));

const syntheticPlan = fc.record({
  numImages: fc.integer({ min: 1, max: 4 }), seed: fc.nat({ max: 100 }), width: fc.integer({ min: 32, max: 64 }), height: fc.integer({ min: 32, max: 64 }),
  varySize: fc.boolean(), numClasses: fc.integer({ min: 1, max: 8 }), minObjects: fc.integer({ min: 0, max: 2 }), maxObjects: fc.integer({ min: 2, max: 4 }),
  minScale: fc.double({ min: 0.1, max: 0.2, noNaN: true }), maxScale: fc.double({ min: 0.3, max: 0.5, noNaN: true }),
}, { requiredKeys: ['numImages'] });

async function touch(dataset) {
  // Read what a reader gives back: the first sample, decoded.
  if (dataset && dataset.length > 0) {
    dataset.annotation(0);
    await dataset.get(0);
  }
}

main(async (ctx) => {
  const lib = ctx.lib;
  const { datasets, DataLoader, collate, evaluateCoco, CocoEvaluator, bestRegressedRecall, matchingInstability, decodeImage, resizeImage } = lib;
  const work = ctx.workDir;
  const sharp = require('sharp');
  // A two-image VOC root and a COCO image folder.
  const voc = path.join(work, 'voc');
  for (const d of ['Annotations', 'ImageSets/Main', 'JPEGImages']) fs.mkdirSync(path.join(voc, d), { recursive: true });
  for (const id of ['a', 'b']) {
    await sharp(Buffer.alloc(40 * 30 * 3, 100), { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toFile(path.join(voc, 'JPEGImages', `${id}.jpg`));
    fs.writeFileSync(path.join(voc, 'Annotations', `${id}.xml`),
      `<annotation><size><width>40</width><height>30</height><depth>3</depth></size><object><name>cell</name><difficult>0</difficult><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object></annotation>`);
  }
  fs.writeFileSync(path.join(voc, 'ImageSets/Main/train.txt'), 'a\nb\n');
  fs.writeFileSync(path.join(voc, 'ImageSets/Main/val.txt'), 'b\n');
  const cocoImages = path.join(voc, 'JPEGImages');
  const cocoJson = {
    images: [{ id: 1, file_name: 'a.jpg', width: 40, height: 30 }, { id: 2, file_name: 'b.jpg', width: 40, height: 30 }],
    annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [2, 2, 10, 10] }, { id: 2, image_id: 2, category_id: 3, bbox: [5, 5, 30, 20], iscrowd: 0 }],
    categories: [{ id: 3, name: 'cell' }],
  };
  const cocoFile = path.join(work, 'coco.json');
  fs.writeFileSync(cocoFile, JSON.stringify(cocoJson));
  const pngFile = path.join(work, 'a.png');
  await sharp(Buffer.alloc(8 * 6 * 3, 30), { raw: { width: 8, height: 6, channels: 3 } }).png().toFile(pngFile);
  const pngBytes = fs.readFileSync(pngFile);
  const synth = await datasets.synthetic({ numImages: 3, seed: 2, numClasses: 2, width: 48, height: 48 });
  ctx.extra = (tag) => {
    if (tag === 'dataset') return synth;
    if (tag === 'cocoJson') return JSON.parse(JSON.stringify(cocoJson));
    if (tag === 'pngBytes') return new Uint8Array(pngBytes);
    throw new Error(`unknown special ${tag}`);
  };
  const dataSpecials = fc.constantFrom(S('dataset'), S('cocoJson'), voc, cocoFile, cocoImages, pngFile);

  return [
    {
      name: 'datasets.synthetic',
      plan: fuzzed(fc.tuple(syntheticPlan), dataSpecials),
      runs: 600,
      budgetMs: 3_000,
      call: async ([options]) => touch(await datasets.synthetic(options)),
    },
    {
      name: 'datasets.coco',
      plan: fuzzed(fc.tuple(fc.record({ annotations: fc.constantFrom(cocoFile, S('cocoJson')), images: fc.constant(cocoImages), filterEmpty: fc.boolean() }, { requiredKeys: ['annotations', 'images'] })), dataSpecials),
      runs: 600,
      budgetMs: 3_000,
      call: async ([options]) => touch(await datasets.coco(options)),
    },
    {
      name: 'datasets.voc',
      plan: fuzzed(fc.tuple(fc.record({
        root: fc.constant(voc), split: fc.constantFrom('train', 'val'), classes: fc.constant(['cell']), filterEmpty: fc.boolean(),
        oneBased: fc.boolean(), imageExtension: fc.constant('.jpg'),
      }, { requiredKeys: ['root'] })), dataSpecials),
      runs: 600,
      budgetMs: 3_000,
      call: async ([options]) => touch(await datasets.voc(options)),
    },
    {
      name: 'DataLoader',
      plan: fuzzed(fc.tuple(fc.constant(S('dataset')), fc.record({
        batchSize: fc.integer({ min: 1, max: 3 }), shuffle: fc.boolean(), seed: fc.nat({ max: 100 }), dropLast: fc.boolean(),
        prefetch: fc.nat({ max: 2 }), dropCrowd: fc.boolean(), rank: fc.constant(0), worldSize: fc.constant(1),
      }, { requiredKeys: ['batchSize'] })), dataSpecials),
      runs: 450,
      budgetMs: 3_000,
      call: async ([dataset, options]) => {
        const loader = new DataLoader(dataset, options);
        let n = 0;
        for await (const batch of loader) {
          void batch;
          if (++n >= 2) break;
        }
      },
    },
    {
      name: 'collate',
      plan: fuzzed(fc.tuple(fc.array(rgbPlan.map((image) => ({
        id: 1, image,
        boxes: S('ta', { type: 'f32', values: [0, 0, 1, 1], backing: 'plain' }),
        labels: S('ta', { type: 'i32', values: [0], backing: 'plain' }),
      })), { minLength: 1, maxLength: 2 }), fc.record({ mean: fc.constant([1, 2, 3]), std: fc.constant([1, 1, 1]) }, { requiredKeys: [] }))),
      runs: 600,
      budgetMs: 3_000,
      call: (args) => collate(...args),
    },
    {
      name: 'decodeImage / resizeImage',
      plan: fuzzed(fc.tuple(fc.constantFrom(pngFile, S('pngBytes')), rgbPlan, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 })), dataSpecials),
      runs: 450,
      budgetMs: 3_000,
      call: async ([input, image, w, h]) => {
        await decodeImage(input === undefined ? pngBytes : input).catch((e) => {
          if (!(e instanceof Error)) throw e;
        });
        await resizeImage(image, w, h);
      },
    },
    {
      name: 'evaluateCoco',
      plan: fuzzed(cocoPlan, dataSpecials),
      runs: 900,
      budgetMs: 3_000,
      call: async ([gt, dets]) => {
        const r = await evaluateCoco(gt, dets);
        if (!Array.isArray(r.stats) || r.stats.length !== 12) throw new CheckFailure('stats: not 12 numbers');
      },
    },
    {
      name: 'CocoEvaluator add / evaluate / reset',
      plan: fuzzed(cocoPlan, dataSpecials),
      runs: 900,
      budgetMs: 3_000,
      call: async ([gt, dets]) => {
        const ev = new CocoEvaluator(gt);
        try {
          ev.add(dets);
        } finally {
          await ev.evaluate();
          ev.reset();
          void ev.size;
        }
      },
    },
    {
      name: 'bestRegressedRecall / matchingInstability',
      plan: fuzzed(fc.tuple(
        fc.array(fc.record({ scores: fc.constant([0.9, 0.1]), boxes: fc.constant([0, 0, 1, 1, 0, 0, 2, 2]), gtBoxes: fc.constant([0, 0, 1, 1]) }), { maxLength: 2 }),
        fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant([1, 2])),
        fc.record({ boxFormat: fc.constantFrom('xyxy', 'xywh', 'cxcywh') }, { requiredKeys: [] }),
        fc.array(fc.record({ numQueries: fc.constant(3), numGt: fc.constant(1), layers: fc.constant([{ queryIndices: [0], gtIndices: [0] }, { queryIndices: [1], gtIndices: [0] }]) }), { maxLength: 2 }),
      ), dataSpecials),
      runs: 900,
      budgetMs: 3_000,
      call: ([samples, topN, options, images]) => {
        try {
          bestRegressedRecall(samples, topN, options);
        } finally {
          matchingInstability(images);
        }
      },
    },
    {
      name: 'readers accept SharedArrayBuffer-backed columns and pixels',
      scenario: async () => {
        const shared = (C, values) => {
          const a = new C(new SharedArrayBuffer(values.length * C.BYTES_PER_ELEMENT));
          a.set(values);
          return a;
        };
        const gt = {
          images: [{ id: 1, width: 64, height: 48 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 10, 10], area: 100 }],
          categories: [{ id: 1 }],
        };
        const image = { data: shared(Uint8Array, new Array(4 * 4 * 3).fill(7)), width: 4, height: 4, channels: 3 };
        await allOf([
          ['evaluateCoco(SAB columns)', async () => {
            const columns = (make) => ({ imageIds: make(Float64Array, [1]), categoryIds: make(Int32Array, [1]), boxes: make(Float32Array, [1, 1, 10, 10]), scores: make(Float32Array, [0.9]) });
            const r = await evaluateCoco(gt, columns(shared));
            const plain = await evaluateCoco(gt, columns((C, v) => C.from(v)));
            if (String(r.stats) !== String(plain.stats)) throw new CheckFailure(`stats ${r.stats}, expected ${plain.stats}`);
          }, 'accept'],
          ['resizeImage(SAB pixels)', () => resizeImage(image, 2, 2), 'accept'],
          ['decodeImage(SAB bytes)', () => decodeImage(shared(Uint8Array, [...pngBytes])), 'accept'],
        ]);
      },
    },
  ];
});
