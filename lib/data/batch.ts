// Batching as the model's preprocess does it (spec a.1): normalise each image with the ImageNet
// mean/std (0..255 scale), zero-pad bottom and right to the largest H and W of the batch, and a
// padding mask with 1 = padded. Targets are DETR's: boxes as cxcywh divided by the unpadded
// image size, labels as contiguous class indices.

/** Spec a.1: per-channel mean and std for RGB values in 0..255. */
export const PIXEL_MEAN: readonly [number, number, number] = [123.675, 116.28, 103.53];
export const PIXEL_STD: readonly [number, number, number] = [58.395, 57.12, 57.375];

export interface BatchInput {
  id: number;
  image: { data: Uint8Array; width: number; height: number };
  boxes: Float32Array;
  labels: Int32Array;
  /** Size of the image before augmentation (for mapping predictions back). */
  originalSize?: [number, number];
}

export interface BatchTarget {
  id: number;
  /** N×4 cxcywh, each coordinate divided by the unpadded image width or height. */
  boxes: Float32Array;
  /** N×4 xyxy in pixels of the augmented image. */
  boxesXyxy: Float32Array;
  /** Contiguous class indices 0..K−1 (the position of the category in dataset.categories). */
  labels: Int32Array;
  /** The dataset's category ids. */
  categoryIds: Int32Array;
  /** [height, width] of the augmented, unpadded image. */
  size: [number, number];
  /** [height, width] of the image as decoded, before augmentation. */
  originalSize: [number, number];
}

export interface DetectionBatch {
  /** B×3×H×W float32, normalised, zero after each image's bottom-right edge. */
  images: Float32Array;
  /** B×H×W, 1 = padding, 0 = image. */
  mask: Uint8Array;
  shape: [number, number, number, number];
  targets: BatchTarget[];
}

export interface CollateOptions {
  /** Category id → class index; ids missing here are an error. Default: identity. */
  classIndex?: ReadonlyMap<number, number>;
  mean?: readonly number[];
  std?: readonly number[];
}

export function collate(samples: readonly BatchInput[], options: CollateOptions = {}): DetectionBatch {
  if (samples.length === 0) throw new RangeError('samples: a batch needs at least one sample');
  const mean = options.mean ?? PIXEL_MEAN;
  const std = options.std ?? PIXEL_STD;
  const B = samples.length;
  let H = 0, W = 0;
  for (const s of samples) {
    H = Math.max(H, s.image.height);
    W = Math.max(W, s.image.width);
  }
  const plane = H * W;
  const images = new Float32Array(B * 3 * plane); // zero-initialised: the padding
  const mask = new Uint8Array(B * plane).fill(1);
  // (v - mean) / std for every byte value, per channel: a table lookup per pixel instead of arithmetic.
  // A mean or std shorter than 3 gives NaN for the missing channels, as it always has.
  const channelLut = (c: number): Float32Array => {
    const m = mean[c] ?? NaN, s = std[c] ?? NaN;
    return Float32Array.from({ length: 256 }, (_, v) => (v - m) / s);
  };
  const lut0 = channelLut(0), lut1 = channelLut(1), lut2 = channelLut(2);
  const targets: BatchTarget[] = [];
  samples.forEach((s, b) => {
    const { width: w, height: h, data } = s.image;
    if (data.length !== w * h * 3) {
      throw new RangeError(`samples[${b}].image: ${data.length} bytes for ${w}x${h}x3`);
    }
    const r0 = b * 3 * plane, g0 = r0 + plane, b0 = g0 + plane;
    for (let y = 0; y < h; y++) {
      let dst = y * W;
      let src = y * w * 3;
      const end = dst + w;
      for (; dst < end; dst++, src += 3) {
        images[r0 + dst] = lut0[data[src]!]!;
        images[g0 + dst] = lut1[data[src + 1]!]!;
        images[b0 + dst] = lut2[data[src + 2]!]!;
      }
    }
    for (let y = 0; y < h; y++) mask.fill(0, b * plane + y * W, b * plane + y * W + w);
    targets.push(makeTarget(s, options.classIndex, b));
  });
  return { images, mask, shape: [B, 3, H, W], targets };
}

function makeTarget(s: BatchInput, classIndex: ReadonlyMap<number, number> | undefined, b: number): BatchTarget {
  const { width: w, height: h } = s.image;
  const n = s.labels.length;
  const boxes = new Float32Array(4 * n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x1 = s.boxes[4 * i]!, y1 = s.boxes[4 * i + 1]!, x2 = s.boxes[4 * i + 2]!, y2 = s.boxes[4 * i + 3]!;
    boxes[4 * i] = (x1 + x2) / 2 / w;
    boxes[4 * i + 1] = (y1 + y2) / 2 / h;
    boxes[4 * i + 2] = (x2 - x1) / w;
    boxes[4 * i + 3] = (y2 - y1) / h;
    const id = s.labels[i]!;
    const index = classIndex ? classIndex.get(id) : id;
    if (index === undefined) throw new RangeError(`samples[${b}].labels: category id ${id} is not in the dataset's categories`);
    labels[i] = index;
  }
  return {
    id: s.id,
    boxes,
    boxesXyxy: Float32Array.from(s.boxes),
    labels,
    categoryIds: Int32Array.from(s.labels),
    size: [h, w],
    originalSize: s.originalSize ?? [h, w],
  };
}
