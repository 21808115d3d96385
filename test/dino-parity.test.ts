// Whole-forward parity of the DINO-4scale model against an independent PyTorch reference
// (test/fixtures/dino-parity/make_dino_parity.py, float64, detrex's keys and semantics), on real
// BCCD images: one image alone and a padded batch of two (padInvariant: false = detrex).
// Weights come in through loadCheckpoint; every stage is compared: the four neck levels, the
// encoder memory, the two-stage proposals, each decoder layer and the final outputs.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlignDetr, Tensor } from '../lib/index';
import { FIXTURES_DIR } from './helpers/support';

const dir = path.join(FIXTURES_DIR, 'dino-parity');
interface Meta {
  config: Record<string, number | boolean>;
  images: { file: string; width: number; height: number }[];
  outputs: Record<string, { offset: number; shape: number[] } | [number, number][]>;
  numKeys: number;
}
const meta = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Meta;
const expectedBuf = fs.readFileSync(path.join(dir, 'expected.bin'));
const expectedAll = new Float32Array(expectedBuf.buffer, expectedBuf.byteOffset, expectedBuf.byteLength / 4);
const pixelsBuf = fs.readFileSync(path.join(dir, 'images.bin'));
const TOLERANCE = 1e-4;

// The normalisation of docs/numerical-contract.md §A.1, then zero padding to the batch's largest size (detectron2's ImageList).
const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];
function imagePixels(i: number): Uint8Array {
  let offset = 0;
  for (let j = 0; j < i; ++j) offset += meta.images[j]!.width * meta.images[j]!.height * 3;
  const { width, height } = meta.images[i]!;
  return pixelsBuf.subarray(offset, offset + width * height * 3);
}
function batch(indices: number[]): { images: Tensor; validSizes: Tensor } {
  const hMax = Math.max(...indices.map((i) => meta.images[i]!.height));
  const wMax = Math.max(...indices.map((i) => meta.images[i]!.width));
  const data = new Float32Array(indices.length * 3 * hMax * wMax);
  const sizes: bigint[] = [];
  indices.forEach((img, b) => {
    const { width, height } = meta.images[img]!;
    const px = imagePixels(img);
    for (let c = 0; c < 3; ++c)
      for (let y = 0; y < height; ++y)
        for (let x = 0; x < width; ++x)
          data[((b * 3 + c) * hMax + y) * wMax + x] = (px[(y * width + x) * 3 + c]! - MEAN[c]!) / STD[c]!;
    sizes.push(BigInt(height), BigInt(width));
  });
  return {
    images: Tensor.from(data, [indices.length, 3, hMax, wMax]),
    validSizes: Tensor.from(BigInt64Array.from(sizes), [indices.length, 2]),
  };
}

function expected(name: string): { data: Float32Array; shape: number[] } {
  const entry = meta.outputs[name] as { offset: number; shape: number[] };
  const n = entry.shape.reduce((a, b) => a * b, 1);
  return { data: expectedAll.subarray(entry.offset, entry.offset + n), shape: entry.shape };
}

/** Largest |ours − reference| / max(1, |reference|): absolute for O(1) values, relative above. */
function worst(ours: Tensor, name: string): number {
  const ref = expected(name);
  if (JSON.stringify(ours.shape) !== JSON.stringify(ref.shape)) return Infinity;
  const a = ours.toTypedArray() as Float32Array;
  let w = 0;
  for (let i = 0; i < a.length; ++i) w = Math.max(w, Math.abs(a[i]! - ref.data[i]!) / Math.max(1, Math.abs(ref.data[i]!)));
  return w;
}

async function parityModel(): Promise<AlignDetr> {
  const model = await AlignDetr.create({ preset: 'dino-r50-4scale', ...meta.config });
  const report = await model.loadCheckpoint(path.join(dir, 'weights.pth'));
  if (report.missingKeys.length || report.mismatchedKeys.length || report.unexpectedKeys.length)
    throw new Error(`checkpoint did not map: ${JSON.stringify(report)}`);
  return model;
}

for (const [name, indices] of [['single', [0]], ['padded', [0, 1]]] as const) {
  test(`whole forward equals the PyTorch reference within 1e-4: ${name === 'single' ? 'one real image' : 'a padded batch of two'}`, async (t) => {
    const model = await parityModel();
    const { images, validSizes } = batch([...indices]);
    const out = await model.forward(images, validSizes);
    const report: Record<string, number> = {};
    out.levelFeatures.forEach((f, l) => (report[`neck.${l}`] = worst(f, `${name}.neck.${l}`)));
    report.memory = worst(out.memory, `${name}.memory`);
    report['encoder.logits'] = worst(out.encoder.logits, `${name}.encoder.logits`);
    report['encoder.boxes'] = worst(out.encoder.boxes, `${name}.encoder.boxes`);
    t.is(out.layers.length, meta.config.decoderLayers as number);
    out.layers.forEach((layer, i) => {
      report[`layers.${i}.logits`] = worst(layer.logits, `${name}.layers.${i}.logits`);
      report[`layers.${i}.boxes`] = worst(layer.boxes, `${name}.layers.${i}.boxes`);
    });
    t.log(Object.entries(report).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', '));
    for (const [k, v] of Object.entries(report)) t.true(v <= TOLERANCE, `${k}: ${v} > ${TOLERANCE}`);
    model.dispose();
  });
}

test('the parity checkpoint loads every reference key (detrex aliases included)', async (t) => {
  const model = await AlignDetr.create({ preset: 'dino-r50-4scale', ...meta.config });
  const report = await model.loadCheckpoint(path.join(dir, 'weights.pth'));
  t.is(report.format, 'detrex');
  t.deepEqual([report.missingKeys, report.unexpectedKeys, report.mismatchedKeys], [[], [], []]);
  // Every tensor the reference read, once (the heads' aliases under transformer.decoder are the same tensors).
  t.is(report.loadedKeys.length, meta.numKeys);
  model.dispose();
});
