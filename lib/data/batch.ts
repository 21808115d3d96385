// Batching: the images are normalised and zero-padded by the native preprocessing
// (native/model/preprocess, the code predict() runs, so training and inference prepare pixels
// identically), with a padding mask (1 = padded). Targets are DETR's: boxes as cxcywh divided by
// the unpadded image size, labels as contiguous class indices.
import { binding } from '../binding';

/**
 * The per-channel mean and std (RGB, 0..255 scale) that every batch and predict() normalise
 * with: (v − mean) / std. Read from the native preprocessing, their one owner.
 */
export function pixelNormalization(): { mean: [number, number, number]; std: [number, number, number] } {
  return binding().pixelNormalization();
}

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
}

export function collate(samples: readonly BatchInput[], options: CollateOptions = {}): DetectionBatch {
  if (samples.length === 0) throw new RangeError('samples: a batch needs at least one sample');
  samples.forEach((s, b) => {
    const { width: w, height: h, data } = s.image;
    if (data.length !== w * h * 3) {
      throw new RangeError(`samples[${b}].image: ${data.length} bytes for ${w}x${h}x3`);
    }
  });
  const { images, shape } = binding().normalizeImages(samples.map((s) => ({ ...s.image, channels: 3 as const })));
  const [B, , H, W] = shape;
  const plane = H * W;
  const mask = new Uint8Array(B * plane).fill(1);
  const targets: BatchTarget[] = [];
  samples.forEach((s, b) => {
    const { width: w, height: h } = s.image;
    for (let y = 0; y < h; y++) mask.fill(0, b * plane + y * W, b * plane + y * W + w);
    targets.push(makeTarget(s, options.classIndex, b));
  });
  return { images, mask, shape, targets };
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
