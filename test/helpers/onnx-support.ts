// Shared by the ONNX export tests: BCCD images, models whose weights exercise every folded and
// refined path, onnxruntime-node sessions, and the detection comparison.
import type { ExecutionContext } from 'ava';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AlignDetr, type Detection, type ModelConfig, type Preset } from '../../lib/index';
import { writeStateDict } from './pth-writer';
import { rng } from './support';

const repoRoot = path.resolve(__dirname, '../../..'); // from dist/test/helpers
const bccdRoot = process.env.ALIGN_DETR_BCCD ?? path.resolve(repoRoot, '..', 'shared', 'data', 'bccd');

/** A BCCD image file (640×480 JPEG). */
export function bccdImage(id: number): string {
  return path.join(bccdRoot, 'BCCD', 'JPEGImages', `BloodImage_${String(id).padStart(5, '0')}.jpg`);
}

export const CATEGORIES = [
  { id: 1, name: 'RBC' },
  { id: 2, name: 'WBC' },
  { id: 3, name: 'Platelets' },
];

/**
 * A seeded model whose initialisation-time constants are replaced by random values, so the
 * export is tested on weights like a trained model's: FrozenBN statistics and affines (folding),
 * GroupNorm affines, the box heads' last layers (zero at init: no refinement) and the class
 * heads (spread scores).
 */
export async function testModel(preset: Preset, seed: number, file: string, overrides: Partial<ModelConfig> = {}): Promise<AlignDetr> {
  const model = await AlignDetr.create({ preset, categories: CATEGORIES, seed, ...overrides });
  const random = rng(seed + 1000);
  const uniform = (lo: number, hi: number, n: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * random());
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
  const names = new Set(model.parameterNames());
  const put = (name: string, lo: number, hi: number) => {
    const t = model.parameter(name);
    tensors[name] = { data: uniform(lo, hi, t.size), shape: t.shape };
    t.dispose();
  };
  const cfg = model.config;
  for (const name of names) {
    if (/\.norm\.weight$/.test(name) && name.startsWith('backbone.')) put(name, 0.5, 1.5);
    else if (/\.norm\.bias$/.test(name) && name.startsWith('backbone.')) put(name, -0.2, 0.2);
    else if (/^bbox_embed\.\d+\.layers\.2\.(weight|bias)$/.test(name)) put(name, -0.05, 0.05);
  }
  for (let j = 0; j <= cfg.decoderLayers; j++) {
    const w = model.parameter(`class_embed.${j}.weight`);
    const data = (w.toTypedArray() as Float32Array).map((v) => v * 4);
    tensors[`class_embed.${j}.weight`] = { data, shape: w.shape };
    w.dispose();
  }
  if (!cfg.backboneGroupNorm) {
    // FrozenBN buffers are not parameters: every conv's norm, by the backbone's layout.
    for (const name of names) {
      const conv = /^(backbone\..*)\.weight$/.exec(name);
      if (!conv || name.includes('.norm.')) continue;
      put(`${conv[1]}.norm.weight`, 0.5, 1.5);
      put(`${conv[1]}.norm.bias`, -0.2, 0.2);
      put(`${conv[1]}.norm.running_mean`, -0.2, 0.2);
      put(`${conv[1]}.norm.running_var`, 0.5, 2);
    }
  }
  const report = await model.loadCheckpoint(writeStateDict(file, tensors));
  if (report.loadedKeys.length !== Object.keys(tensors).length) throw new Error(`testModel: loaded ${report.loadedKeys.length} of ${Object.keys(tensors).length} tensors`);
  return model;
}

/** One CPU session (threads as the native runtime: 1 intra-op thread unless given). */
export async function session(file: string, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
}

/** The detections of image `i` of a postprocess graph's outputs, as predict's. */
export function onnxDetections(out: ort.InferenceSession.OnnxValueMapType, i: number): Detection[] {
  const scores = out.scores!.data as Float32Array;
  const labels = out.labels!.data as BigInt64Array;
  const boxes = out.boxes!.data as Float32Array;
  const k = out.scores!.dims[1]!;
  const dets: Detection[] = [];
  for (let j = 0; j < k; j++) {
    const at = i * k + j;
    const box = Array.from(boxes.subarray(4 * at, 4 * at + 4)) as [number, number, number, number];
    dets.push({ bbox: box, score: scores[at]!, categoryId: Number(labels[at]!) });
  }
  return dets;
}

/**
 * The same detections in the same order: scores within `scoreTol`, boxes within `boxTol` px,
 * equal categories. Detections whose scores lie within `scoreTol` of each other may appear in
 * either order (their order is below the tolerance), and such a tie may straddle the cut.
 * Returns how many ranks matched a tied neighbour rather than their own rank.
 */
export function assertSameDetections(t: ExecutionContext, actual: Detection[], expected: Detection[], scoreTol = 1e-4, boxTol = 1e-3): number {
  t.is(actual.length, expected.length, 'detection count');
  const same = (a: Detection, e: Detection) =>
    e.categoryId === a.categoryId && Math.abs(e.score - a.score) <= scoreTol && e.bbox.every((v, k) => Math.abs(v - a.bbox[k]!) <= boxTol);
  const used = new Set<number>();
  let swapped = 0;
  const last = expected[expected.length - 1];
  for (const [i, a] of actual.entries()) {
    const own = expected[i];
    if (own !== undefined && !used.has(i) && same(a, own)) {
      used.add(i);
      continue;
    }
    const j = expected.findIndex((e, c) => !used.has(c) && Math.abs(e.score - a.score) <= scoreTol && same(a, e));
    if (j >= 0) {
      used.add(j);
      swapped++;
    } else if (last === undefined || Math.abs(a.score - last.score) > scoreTol) {
      t.fail(`rank ${i}: ${JSON.stringify(a)} has no counterpart; predict has ${JSON.stringify(own)} there`);
      return swapped;
    }
  }
  t.pass();
  return swapped;
}

/**
 * The smallest gap between consecutive two-stage scores (best class logit of each selected
 * token, in selection order) over the images of `encoderLogits` [B, Q, C], ignoring exact ties
 * (tokens whose proposals are invalid share their zeroed memory, hence score and reference, so
 * their order changes nothing). Below the runtimes' float noise (~1e-5 for R50), onnxruntime and
 * libtorch may hand two query slots each other's token, and every query then differs.
 */
export function selectionMargin(encoderLogits: Float32Array, dims: number[]): number {
  const [b = 0, q = 0, c = 0] = dims;
  let margin = Infinity;
  for (let i = 0; i < b; i++) {
    let prev = Infinity;
    for (let j = 0; j < q; j++) {
      const best = Math.max(...encoderLogits.subarray((i * q + j) * c, (i * q + j + 1) * c));
      const gap = prev - best;
      if (gap > 0) margin = Math.min(margin, gap);
      prev = best;
    }
  }
  return margin;
}
