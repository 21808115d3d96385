// DETR augmentations (the recipe, docs/numerical-contract.md §E): horizontal flip, ResizeShortestEdge, RandomCrop
// "absolute_range", and the recipe's two-branch composition. Each augmentation is a function of
// (sample, rng) with no hidden state, so a seed fixes the result. The geometry (sizes, offsets,
// box arithmetic) is synchronous and exact; flip and crop move pixels in JS; the resize and its
// output size are the native preprocessing's (native/model/preprocess: bilinear, antialiased when
// shrinking, like the PIL BILINEAR resize detectron2 uses), the same code predict() runs, so
// training and inference prepare images alike. Resizing runs on libuv's thread pool.
import { binding } from '../binding';
import { choice, randint, type Rng } from './rng';
import type { RgbImage } from './types';

/** What augmentations act on: an image and its boxes (xyxy pixels) with per-box arrays. */
export interface AugSample {
  image: RgbImage;
  boxes: Float32Array;
  labels: Int32Array;
  iscrowd?: Uint8Array;
  difficult?: Uint8Array;
}

export type Augmentation = (sample: AugSample, rng: Rng) => Promise<AugSample>;

// ---------------------------------------------------------------- box arithmetic (exact)

/** Horizontal flip in an image of this width: x1' = W − x2, x2' = W − x1. */
export function flipBoxes(boxes: Float32Array, width: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = width - boxes[i + 2]!;
    out[i + 1] = boxes[i + 1]!;
    out[i + 2] = width - boxes[i]!;
    out[i + 3] = boxes[i + 3]!;
  }
  return out;
}

/** Scales x by sx and y by sy (a resize from W×H to (sx·W)×(sy·H)). */
export function scaleBoxes(boxes: Float32Array, sx: number, sy: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i]! * sx;
    out[i + 1] = boxes[i + 1]! * sy;
    out[i + 2] = boxes[i + 2]! * sx;
    out[i + 3] = boxes[i + 3]! * sy;
  }
  return out;
}

/**
 * Moves boxes into the crop window (x0, y0, w, h) and clips them to it. Returns the clipped
 * boxes and the indices of the boxes that keep a width and height above 1e-5 (detectron2's
 * `Boxes.nonempty` threshold); the others were emptied by the crop.
 */
export function cropBoxes(
  boxes: Float32Array, x0: number, y0: number, w: number, h: number,
): { boxes: Float32Array; keep: number[] } {
  const keep: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < boxes.length / 4; i++) {
    const bx1 = Math.min(Math.max(boxes[4 * i]! - x0, 0), w);
    const by1 = Math.min(Math.max(boxes[4 * i + 1]! - y0, 0), h);
    const bx2 = Math.min(Math.max(boxes[4 * i + 2]! - x0, 0), w);
    const by2 = Math.min(Math.max(boxes[4 * i + 3]! - y0, 0), h);
    if (bx2 - bx1 > 1e-5 && by2 - by1 > 1e-5) {
      keep.push(i);
      kept.push(bx1, by1, bx2, by2);
    }
  }
  return { boxes: Float32Array.from(kept), keep };
}

/**
 * detectron2 ResizeShortestEdge.get_output_shape: scale the shorter side to `short`, then, if
 * the longer side exceeds maxSize, scale both down so it equals maxSize; round with int(x + 0.5).
 * Returns [newH, newW].
 */
export function shortestEdgeSize(h: number, w: number, short: number, maxSize = Infinity): [number, number] {
  return binding().shortestEdgeSize(h, w, short, maxSize);
}

/**
 * detectron2 RandomCrop("absolute_range", [lo, hi]) on an h×w image: crop height
 * ~ randint[min(h, lo), min(h, hi)] and width likewise (both ends included), then the top-left
 * corner uniformly where the crop fits. Draws 4 numbers: ch, cw, y0, x0 in that order.
 */
export function sampleAbsoluteRangeCrop(
  h: number, w: number, lo: number, hi: number, rng: Rng,
): { x0: number; y0: number; width: number; height: number } {
  const ch = randint(rng, Math.min(h, lo), Math.min(h, hi) + 1);
  const cw = randint(rng, Math.min(w, lo), Math.min(w, hi) + 1);
  const y0 = randint(rng, 0, h - ch + 1);
  const x0 = randint(rng, 0, w - cw + 1);
  return { x0, y0, width: cw, height: ch };
}

// ---------------------------------------------------------------- pixels

export function flipImage(image: RgbImage): RgbImage {
  const { width: w, height: h, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const src = row + 3 * x, dst = row + 3 * (w - 1 - x);
      out[dst] = data[src]!;
      out[dst + 1] = data[src + 1]!;
      out[dst + 2] = data[src + 2]!;
    }
  }
  return { data: out, width: w, height: h, channels: 3 };
}

export function cropImage(image: RgbImage, x0: number, y0: number, width: number, height: number): RgbImage {
  if (!(x0 >= 0 && y0 >= 0 && width >= 1 && height >= 1 && x0 + width <= image.width && y0 + height <= image.height)) {
    throw new RangeError(`crop: window (${x0}, ${y0}, ${width}x${height}) is not inside the ${image.width}x${image.height} image`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const src = ((y0 + y) * image.width + x0) * 3;
    out.set(image.data.subarray(src, src + width * 3), y * width * 3);
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * Resizes to width×height (bilinear, antialiased when shrinking, rounded to uint8), off the JS
 * thread: the resize predict() applies at test time.
 */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  return binding().resizeImage(image, width, height);
}

// ---------------------------------------------------------------- augmentations

function pick<T extends Uint8Array | Int32Array>(arr: T | undefined, keep: number[]): T | undefined {
  if (!arr) return undefined;
  const out = new (arr.constructor as new (n: number) => T)(keep.length);
  keep.forEach((k, i) => (out[i] = arr[k]!));
  return out;
}

/** detectron2 RandomFlip(horizontal): flips when rng() < prob. */
export function randomHorizontalFlip(options: { prob?: number } = {}): Augmentation {
  const prob = options.prob ?? 0.5;
  if (!(prob >= 0 && prob <= 1)) throw new RangeError(`prob: must be in [0, 1], got ${prob}`);
  return async (s, rng) => {
    if (!(rng() < prob)) return s;
    return { ...s, image: flipImage(s.image), boxes: flipBoxes(s.boxes, s.image.width) };
  };
}

export interface ResizeShortestEdgeOptions {
  /** Candidate shorter-side lengths ('choice'), or [min, max] inclusive ('range'). */
  shortEdge: number | readonly number[];
  maxSize?: number;
  sampleStyle?: 'choice' | 'range';
}

/** detectron2 ResizeShortestEdge: one short-side length drawn per call, boxes scaled exactly. */
export function resizeShortestEdge(options: ResizeShortestEdgeOptions): Augmentation {
  const lengths = typeof options.shortEdge === 'number' ? [options.shortEdge] : [...options.shortEdge];
  const maxSize = options.maxSize ?? Infinity;
  const style = options.sampleStyle ?? 'choice';
  if (lengths.length === 0 || !lengths.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new RangeError(`shortEdge: expected non-negative integers, got ${JSON.stringify(options.shortEdge)}`);
  }
  if (style !== 'choice' && style !== 'range') throw new RangeError(`sampleStyle: 'choice' or 'range', got ${String(style)}`);
  if (style === 'range' && lengths.length !== 2) throw new RangeError('shortEdge: a range needs [min, max]');
  if (!(maxSize > 0)) throw new RangeError(`maxSize: must be positive, got ${maxSize}`);
  const [rangeMin = 0, rangeMax = 0] = lengths; // used only for 'range', which has exactly two
  return async (s, rng) => {
    const short = style === 'range' ? randint(rng, rangeMin, rangeMax + 1) : choice(rng, lengths);
    if (short === 0) return s; // detectron2: size 0 means no resize
    const { width: w, height: h } = s.image;
    const [newH, newW] = shortestEdgeSize(h, w, short, maxSize);
    return { ...s, image: await resizeImage(s.image, newW, newH), boxes: scaleBoxes(s.boxes, newW / w, newH / h) };
  };
}

/** detectron2 RandomCrop("absolute_range", [min, max]); boxes emptied by the crop are removed. */
export function randomCrop(options: { min: number; max: number }): Augmentation {
  const { min, max } = options;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min)) {
    throw new RangeError(`min, max: expected integers with 1 <= min <= max, got ${min}, ${max}`);
  }
  return async (s, rng) => {
    const win = sampleAbsoluteRangeCrop(s.image.height, s.image.width, min, max, rng);
    const { boxes, keep } = cropBoxes(s.boxes, win.x0, win.y0, win.width, win.height);
    return {
      image: cropImage(s.image, win.x0, win.y0, win.width, win.height),
      boxes,
      labels: pick(s.labels, keep) as Int32Array,
      iscrowd: pick(s.iscrowd, keep),
      difficult: pick(s.difficult, keep),
    };
  };
}

/** Applies augmentations in order, each with the same rng stream. */
export function compose(...augmentations: Augmentation[]): Augmentation {
  return async (s, rng) => {
    let out = s;
    for (const aug of augmentations) out = await aug(out, rng);
    return out;
  };
}

const range = (lo: number, hi: number, step: number): number[] =>
  Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step);

export interface DetrAugmentationOptions {
  /** Final shorter-side choices (recipe: 480, 512, ..., 800). */
  shortEdges?: readonly number[];
  /** Cap on the longer side (recipe: 1333). */
  maxSize?: number;
  /** Shorter-side choices before the crop (recipe: 400, 500, 600). */
  cropShortEdges?: readonly number[];
  /** RandomCrop absolute_range (recipe: [384, 600]). */
  cropRange?: readonly [number, number];
  /** Probability of the flip (recipe: 0.5). */
  flipProb?: number;
}

/**
 * The recipe's training augmentation (detrex DetrDatasetMapper): draw u = rng(); if u > 0.5,
 * flip → ResizeShortestEdge(shortEdges, maxSize); otherwise flip →
 * ResizeShortestEdge(cropShortEdges) → RandomCrop(cropRange) → ResizeShortestEdge(shortEdges, maxSize).
 */
export function detrTrainAugmentation(options: DetrAugmentationOptions = {}): Augmentation {
  const shortEdges = options.shortEdges ?? range(480, 800, 32);
  const maxSize = options.maxSize ?? 1333;
  const [cropMin, cropMax] = options.cropRange ?? [384, 600];
  const flip = randomHorizontalFlip({ prob: options.flipProb ?? 0.5 });
  const finalResize = resizeShortestEdge({ shortEdge: shortEdges, maxSize });
  const plain = compose(flip, finalResize);
  const withCrop = compose(
    flip,
    resizeShortestEdge({ shortEdge: options.cropShortEdges ?? [400, 500, 600] }),
    randomCrop({ min: cropMin, max: cropMax }),
    finalResize,
  );
  return (s, rng) => (rng() > 0.5 ? plain(s, rng) : withCrop(s, rng));
}

/** The recipe's test-time resize: ResizeShortestEdge(800, max 1333). */
export function detrTestAugmentation(options: { shortEdge?: number; maxSize?: number } = {}): Augmentation {
  return resizeShortestEdge({ shortEdge: options.shortEdge ?? 800, maxSize: options.maxSize ?? 1333 });
}
