// One preprocessing for training and inference (native/model/preprocess): its resize against
// PIL's BILINEAR (detectron2's resize for uint8 images), and the same BCCD image prepared by the
// data pipeline's test path (dataset → detrTestAugmentation → DataLoader batch) and by
// model.preprocess / predict, bit for bit.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlignDetr } from '../lib/model';
import { DataLoader, datasets, detrTestAugmentation, resizeImage, type RgbImage } from '../lib/data/index';

const repoRoot = path.resolve(__dirname, '../..');
const bccdRoot = process.env.ALIGN_DETR_BCCD ?? path.resolve(repoRoot, '..', 'shared', 'data', 'bccd');

interface ResizeFixture {
  source: { width: number; height: number };
  cases: { width: number; height: number; rgb: string }[];
}
const fixture: ResizeFixture = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'preprocess', 'pil_bilinear.json'), 'utf8'),
);

/** The fixture's source image, from the formula make_resize_fixture.py uses. */
function pattern(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        data[3 * (y * w + x) + c] = (x * 7 + y * 13 + c * 50 + ((Math.floor(x / 5) + Math.floor(y / 3)) % 2) * 90) % 256;
      }
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

test('resizeImage agrees with PIL BILINEAR (antialiased shrink, enlarge) to within one level', async (t) => {
  const src = pattern(fixture.source.width, fixture.source.height);
  for (const c of fixture.cases) {
    const expected = Buffer.from(c.rgb, 'base64');
    const out = await resizeImage(src, c.width, c.height);
    t.is(out.data.length, expected.length);
    let worst = 0, sum = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs((out.data[i] as number) - (expected[i] as number));
      worst = Math.max(worst, d);
      sum += d;
    }
    // PIL filters in fixed point; ours in float then rounds: at most one level apart, rarely.
    t.true(worst <= 1, `${c.width}x${c.height}: worst difference ${worst}`);
    t.log(`${c.width}x${c.height}: worst ${worst}, mean ${(sum / expected.length).toFixed(3)}`);
    t.true(sum / expected.length < 0.3, `${c.width}x${c.height}: mean difference ${sum / expected.length}`);
  }
});

test('a BCCD image prepared by the training data path and by predict is the same input tensor', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  const { testShortEdge, testMaxSize } = model.config;
  const ds = await datasets.voc({ root: bccdRoot, split: 'test' });
  const loader = new DataLoader(ds, {
    batchSize: 2, augment: detrTestAugmentation({ shortEdge: testShortEdge, maxSize: testMaxSize }), prefetch: 0,
  });
  const iterator = loader[Symbol.asyncIterator]();
  const first = await iterator.next();
  await iterator.return?.();
  if (first.done) return t.fail('no batch');
  const batch = first.value;
  const images = await Promise.all([0, 1].map(async (i) => (await ds.get(i)).image));
  const prepared = await model.preprocess(images);
  t.deepEqual(prepared.images.shape, batch.shape);
  const fromPredict = prepared.images.toTypedArray() as Float32Array;
  t.is(fromPredict.length, batch.images.length);
  let mismatches = 0;
  for (let i = 0; i < fromPredict.length; i++) if (fromPredict[i] !== batch.images[i]) mismatches++;
  t.is(mismatches, 0, 'every element bit-equal');
  const sizes = Array.from(prepared.validSizes.toTypedArray() as BigInt64Array, Number);
  t.deepEqual(sizes, batch.targets.flatMap((tg) => tg.size));
  prepared.images.dispose();
  prepared.validSizes.dispose();
  model.dispose();
});

test('predict with resize: false runs an image at its own size', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  const { testShortEdge } = model.config;
  // At the test size already, resizing is the identity: both paths give the same detections.
  const src = pattern(fixture.source.width, fixture.source.height);
  const atTestSize = await resizeImage(src, Math.round((testShortEdge * 61) / 47), testShortEdge);
  const [resized] = await model.predict(atTestSize, { maxDetections: 20 });
  const [own] = await model.predict(atTestSize, { maxDetections: 20, resize: false });
  t.deepEqual(own, resized);
  // Elsewhere the input is the image itself: valid size = own size, boxes within it.
  const src2 = pattern(203, 157);
  const prepared = await model.preprocess(src2, { resize: false });
  t.deepEqual(prepared.images.shape, [1, 3, src2.height, src2.width]);
  const [small] = await model.predict(src2, { maxDetections: 20, resize: false });
  t.true((small ?? []).length > 0);
  for (const d of small ?? []) {
    const [x, y, w, h] = d.bbox;
    t.true(x >= 0 && y >= 0 && x + w <= src2.width + 1e-3 && y + h <= src2.height + 1e-3);
  }
  await t.throwsAsync(model.predict(src, { resize: 'no' as unknown as boolean }), { instanceOf: TypeError, message: /resize/ });
  await t.throwsAsync(model.preprocess(src, { resise: false } as never), { instanceOf: TypeError, message: /resise/ });
  prepared.images.dispose();
  prepared.validSizes.dispose();
  model.dispose();
});
