// The exported postprocess interface (uint8 RGB in, top-K detections out) run by
// onnxruntime-node on the CPU against model.predict(images, { resize: false }) on real BCCD
// images: the top-100 detections with scores within 1e-4, boxes within 1e-3 px and the same
// order, for the tiny and the R50 model, at a fixed size (a batch of two) and with a dynamic
// size (two sizes through one graph).
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { decodeImage, type AlignDetr, type RgbImage } from '../lib/index';
import { assertSameDetections, bccdImage, onnxDetections, session, testModel } from './helpers/onnx-support';

// The seeds and images are ones whose two-stage selection margins (onnx-raw.test.ts,
// selectionMargin) are well above the runtimes' float noise: ≥ 1.1e-4 for tiny seed 5 on these
// images and sizes, ≥ 4e-4 for the R50 with seed 8.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-onnx-det-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** BCCD image `id` at its own 640×480, or resized to h×w. */
async function image(id: number, size?: [number, number]): Promise<RgbImage> {
  if (size === undefined) return decodeImage(bccdImage(id));
  const [h, w] = size;
  const { data } = await sharp(bccdImage(id)).resize(w, h, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: w, height: h, channels: 3 };
}

function batchTensor(images: RgbImage[]): ort.Tensor {
  const first = images[0]!;
  const data = new Uint8Array(images.length * first.data.length);
  images.forEach((im, i) => data.set(im.data, i * first.data.length));
  return new ort.Tensor('uint8', data, [images.length, first.height, first.width, 3]);
}

/** Runs `file` on each group of same-size images and compares every image with predict's top-K. */
async function compare(t: import('ava').ExecutionContext, model: AlignDetr, file: string, groups: RgbImage[][], k: number): Promise<void> {
  const s = await session(file, 2);
  for (const images of groups) {
    const out = await s.run({ images: batchTensor(images) });
    t.deepEqual(out.scores!.dims, [images.length, k]);
    const expected = await model.predict(images, { resize: false, maxDetections: k });
    for (const [i, im] of images.entries()) {
      const swapped = assertSameDetections(t, onnxDetections(out, i), expected[i]!);
      t.log(`${im.height}×${im.width}: ${k} detections equal (${swapped} ranks among score ties)`);
    }
  }
  await s.release();
}

test('tiny: fixed 480×640 (a batch of two) and dynamic size (two sizes) give predict\'s top-100', async (t) => {
  const model = await testModel('tiny', 5, path.join(tmp, 'tiny.pth'));
  const fixed = path.join(tmp, 'tiny-fixed.onnx');
  await model.exportOnnx(fixed, { height: 480, width: 640, postprocess: true });
  await compare(t, model, fixed, [[await image(0), await image(1)]], 100);
  const dynamic = path.join(tmp, 'tiny-dynamic.onnx');
  await model.exportOnnx(dynamic, { postprocess: true, dynamicSize: true });
  await compare(t, model, dynamic, [[await image(2, [352, 464])], [await image(0, [320, 427])]], 100);
  model.dispose();
});

// 300 queries and this seed: see onnx-raw.test.ts (two-stage selection margins).
test('R50 (FrozenBN folded): fixed and dynamic size give predict\'s top-100', async (t) => {
  const model = await testModel('dino-r50-4scale', 8, path.join(tmp, 'r50.pth'), { numQueries: 300 });
  const fixed = path.join(tmp, 'r50-fixed.onnx');
  await model.exportOnnx(fixed, { height: 480, width: 640, postprocess: true, maxDetections: 100 });
  await compare(t, model, fixed, [[await image(1)]], 100);
  const dynamic = path.join(tmp, 'r50-dynamic.onnx');
  await model.exportOnnx(dynamic, { postprocess: true, maxDetections: 100 });
  await compare(t, model, dynamic, [[await image(2, [448, 576])]], 100);
  model.dispose();
});
