// A procedural detection dataset: coloured rectangles, ellipses and triangles on textured
// backgrounds, several classes, overlapping objects of varied sizes. Nothing is read from disk:
// the layout of every image is drawn from a seeded PRNG when the dataset is made, and pixels
// are rendered on demand in get(i) (a few milliseconds for 320×240).
//
// Boxes are exact: each box is the analytic bound of its shape, and shapes are rendered with
// 4×4 supersampled coverage, so a box's edge is where the shape's painted pixels begin and end
// (a shape reaching x = 10.3 paints 70 % of column 10). Shapes drawn later may hide part of an
// earlier one; boxes stay those of the whole shape, and placement keeps overlaps partial.
import { must } from '../must';
import { deriveSeed, mulberry32, type Rng } from './rng';
import type { Category, Dataset, DatasetWarnings, DetectionSample, LoadedSample, RgbImage } from './types';
import { checkIndex, emptyWarnings, optionalBoolean, optionalInteger, optionalNumber, requireObject } from './validate';

export interface SyntheticOptions {
  numImages: number;
  seed?: number;
  /** Image size (default 320×240); with `varySize`, each image is 75–100 % of it per side. */
  width?: number;
  height?: number;
  varySize?: boolean;
  /** 1..8 classes; class c is shape c mod 3 in its own hue (default 3). */
  numClasses?: number;
  /** Objects per image, uniform in [minObjects, maxObjects] (default 1..6). */
  minObjects?: number;
  maxObjects?: number;
  /** Object size range as a fraction of the image's shorter side (default 0.1..0.5). */
  minScale?: number;
  maxScale?: number;
}

export type ShapeKind = 'rectangle' | 'ellipse' | 'triangle';
const SHAPES: readonly ShapeKind[] = ['rectangle', 'ellipse', 'triangle'];
const HUES: readonly [string, number][] = [
  ['red', 0], ['green', 120], ['blue', 230], ['yellow', 55], ['magenta', 300], ['cyan', 180], ['orange', 28], ['purple', 265],
];

/** The shape drawn for a class. */
function shapeOf(classIndex: number): ShapeKind {
  return must(SHAPES[classIndex % SHAPES.length], 'shape kind');
}

/** The (name, hue in degrees) of a class; numClasses is at most HUES.length. */
function hueOf(classIndex: number): readonly [string, number] {
  return must(HUES[classIndex], 'class hue');
}

/** One object: its class index, shape, box (xyxy, pixels), triangle apex, fill colour. */
export interface SyntheticShape {
  classIndex: number;
  kind: ShapeKind;
  box: [number, number, number, number];
  /** Triangles: the side the apex is on (0 top, 1 right, 2 bottom, 3 left) and its position 0..1. */
  apexSide: number;
  apexAt: number;
  rgb: [number, number, number];
}

interface Layout {
  width: number;
  height: number;
  shapes: SyntheticShape[];
  seed: number;
}

export function synthetic(options: SyntheticOptions): Promise<Dataset> {
  // async in signature like the other factories; the work here is small and synchronous.
  try {
    return Promise.resolve(new SyntheticDataset(options));
  } catch (err) {
    return Promise.reject(err);
  }
}

class SyntheticDataset implements Dataset {
  readonly name: string;
  readonly categories: Category[];
  readonly warnings: DatasetWarnings = emptyWarnings();
  private readonly layouts: Layout[];

  constructor(options: SyntheticOptions) {
    const o = requireObject(options, 'options');
    if (o.numImages === undefined) throw new TypeError('numImages: required');
    const numImages = optionalInteger(o.numImages, 'numImages', 0, 1, 10_000_000);
    const seed = optionalInteger(o.seed, 'seed', 0, 0, 0xffffffff);
    const width = optionalInteger(o.width, 'width', 320, 32, 8192);
    const height = optionalInteger(o.height, 'height', 240, 32, 8192);
    const varySize = optionalBoolean(o.varySize, 'varySize', false);
    const numClasses = optionalInteger(o.numClasses, 'numClasses', 3, 1, HUES.length);
    const minObjects = optionalInteger(o.minObjects, 'minObjects', 1, 0, 100);
    const maxObjects = optionalInteger(o.maxObjects, 'maxObjects', Math.max(6, minObjects), minObjects, 100);
    const minScale = optionalNumber(o.minScale, 'minScale', 0.1, 0.02, 1);
    const maxScale = optionalNumber(o.maxScale, 'maxScale', 0.5, minScale, 1);
    this.name = `synthetic(${numImages}, seed ${seed})`;
    this.categories = Array.from({ length: numClasses }, (_, c) => ({
      id: c + 1,
      name: `${hueOf(c)[0]} ${shapeOf(c)}`,
    }));
    this.layouts = [];
    for (let i = 0; i < numImages; i++) {
      const rng = mulberry32(deriveSeed(seed, i, 1));
      const w = varySize ? Math.round(width * (0.75 + 0.25 * rng())) : width;
      const h = varySize ? Math.round(height * (0.75 + 0.25 * rng())) : height;
      const count = minObjects + Math.floor(rng() * (maxObjects - minObjects + 1));
      const shapes = placeShapes(rng, w, h, count, numClasses, minScale, maxScale);
      this.layouts.push({ width: w, height: h, shapes, seed: deriveSeed(seed, i, 2) });
    }
  }

  get length(): number {
    return this.layouts.length;
  }

  /** The shapes of image i (for tests and previews). */
  shapes(i: number): readonly SyntheticShape[] {
    return this.layout(i).shapes;
  }

  private layout(i: number): Layout {
    return must(this.layouts[checkIndex(i, this.layouts.length, this.name)], 'layout');
  }

  annotation(i: number): DetectionSample {
    const layout = this.layout(i);
    const n = layout.shapes.length;
    const boxes = new Float32Array(n * 4);
    const labels = new Int32Array(n);
    layout.shapes.forEach((s, k) => {
      boxes.set(s.box, 4 * k);
      labels[k] = must(this.categories[s.classIndex], 'category of a shape').id;
    });
    return { id: i, name: `synthetic-${i}`, width: layout.width, height: layout.height, boxes, labels };
  }

  async get(i: number): Promise<LoadedSample> {
    const sample = this.annotation(i);
    return { ...sample, image: renderImage(this.layout(i)) };
  }
}

function placeShapes(
  rng: Rng, w: number, h: number, count: number, numClasses: number, minScale: number, maxScale: number,
): SyntheticShape[] {
  const shapes: SyntheticShape[] = [];
  const side = Math.min(w, h);
  for (let k = 0; k < count; k++) {
    for (let attempt = 0; attempt < 30; attempt++) {
      // Log-uniform size so small and large objects are both common; aspect ratio in [1/2, 2].
      const size = side * minScale * Math.pow(maxScale / minScale, rng());
      const aspect = Math.pow(2, 2 * rng() - 1);
      const bw = Math.min(w - 1, Math.max(4, size * Math.sqrt(aspect)));
      const bh = Math.min(h - 1, Math.max(4, size / Math.sqrt(aspect)));
      const x0 = rng() * (w - bw);
      const y0 = rng() * (h - bh);
      const box: [number, number, number, number] = [x0, y0, x0 + bw, y0 + bh];
      if (!overlapAcceptable(box, shapes)) continue;
      const classIndex = Math.floor(rng() * numClasses);
      const hue = hueOf(classIndex)[1] + (rng() - 0.5) * 16;
      shapes.push({
        classIndex,
        kind: shapeOf(classIndex),
        box: Array.from(Float32Array.from(box)) as [number, number, number, number],
        apexSide: Math.floor(rng() * 4),
        apexAt: 0.15 + 0.7 * rng(),
        rgb: hsvToRgb(hue, 0.65 + 0.35 * rng(), 0.6 + 0.4 * rng()),
      });
      break;
    }
  }
  return shapes;
}

/** Overlaps are allowed but partial: IoU < 0.4 and under 60 % of the smaller box covered. */
function overlapAcceptable(box: Readonly<SyntheticShape['box']>, shapes: readonly SyntheticShape[]): boolean {
  const area = (b: Readonly<SyntheticShape['box']>): number => (b[2] - b[0]) * (b[3] - b[1]);
  for (const s of shapes) {
    const iw = Math.min(box[2], s.box[2]) - Math.max(box[0], s.box[0]);
    const ih = Math.min(box[3], s.box[3]) - Math.max(box[1], s.box[1]);
    if (iw <= 0 || ih <= 0) continue;
    const inter = iw * ih;
    if (inter / (area(box) + area(s.box) - inter) >= 0.4) return false;
    if (inter / Math.min(area(box), area(s.box)) >= 0.6) return false;
  }
  return true;
}

function hsvToRgb(hueDeg: number, s: number, v: number): [number, number, number] {
  const h = (((hueDeg % 360) + 360) % 360) / 60;
  const f = (n: number): number => {
    const k = (n + h) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** Whether the point (x, y) (continuous pixel coordinates) lies inside the shape. */
export function insideShape(s: SyntheticShape, x: number, y: number): boolean {
  const [x0, y0, x1, y1] = s.box;
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  if (s.kind === 'rectangle') return true;
  const u = (x - x0) / (x1 - x0); // 0..1 across the box
  const v = (y - y0) / (y1 - y0);
  if (s.kind === 'ellipse') return (2 * u - 1) ** 2 + (2 * v - 1) ** 2 <= 1;
  // Triangle: apex at position apexAt on side apexSide, base is the opposite side. In the
  // frame (a along the base, t from base (0) to apex (1)) the inside is a ≥ t·p and 1 − a ≥ t·(1 − p).
  const p = s.apexAt;
  let a: number, t: number;
  switch (s.apexSide) {
    case 0: a = u; t = 1 - v; break;
    case 2: a = u; t = v; break;
    case 1: a = v; t = u; break;
    default: a = v; t = 1 - u; break;
  }
  return a >= t * p && 1 - a >= t * (1 - p);
}

/** Fraction of pixel (px, py) covered by the shape, from a 4×4 grid of sample points. */
export function pixelCoverage(s: SyntheticShape, px: number, py: number): number {
  // Shapes are convex: a pixel whose four corners are inside is wholly inside.
  if (insideShape(s, px, py) && insideShape(s, px + 1, py) && insideShape(s, px, py + 1) &&
      insideShape(s, px + 1, py + 1)) {
    return 1;
  }
  let hits = 0;
  for (let j = 0; j < 4; j++) {
    for (let i = 0; i < 4; i++) if (insideShape(s, px + (i + 0.5) / 4, py + (j + 0.5) / 4)) hits++;
  }
  return hits / 16;
}

function renderImage(layout: Layout): RgbImage {
  const { width: w, height: h } = layout;
  const rng = mulberry32(layout.seed);
  const data = new Uint8Array(w * h * 3);
  // Background: a pale random tint modulated by smooth value noise and fine grain.
  const base = hsvToRgb(rng() * 360, 0.1 + 0.2 * rng(), 0.45 + 0.35 * rng());
  const cell = 12 + Math.floor(rng() * 36);
  const gw = Math.ceil(w / cell) + 2, gh = Math.ceil(h / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => rng());
  const [br, bg, bb] = base;
  for (let y = 0; y < h; y++) {
    const gy = y / cell, iy = Math.floor(gy), fy = gy - iy;
    const row0 = iy * gw, row1 = row0 + gw;
    let o = 3 * y * w;
    for (let x = 0; x < w; x++, o += 3) {
      const gx = x / cell, ix = Math.floor(gx), fx = gx - ix;
      const top = grid[row0 + ix]! + (grid[row0 + ix + 1]! - grid[row0 + ix]!) * fx;
      const bottom = grid[row1 + ix]! + (grid[row1 + ix + 1]! - grid[row1 + ix]!) * fx;
      const shade = 0.65 + 0.5 * (top + (bottom - top) * fy) + 0.12 * (rng() - 0.5);
      data[o] = clampByte(br * shade);
      data[o + 1] = clampByte(bg * shade);
      data[o + 2] = clampByte(bb * shade);
    }
  }
  // Shapes in order (later ones on top), blended by coverage, with a little grain of their own.
  for (const s of layout.shapes) {
    const px0 = Math.max(0, Math.floor(s.box[0])), px1 = Math.min(w, Math.ceil(s.box[2]));
    const py0 = Math.max(0, Math.floor(s.box[1])), py1 = Math.min(h, Math.ceil(s.box[3]));
    for (let y = py0; y < py1; y++) {
      for (let x = px0; x < px1; x++) {
        const cover = pixelCoverage(s, x, y);
        if (cover === 0) continue;
        const grain = 1 + 0.08 * (rng() - 0.5);
        const o = 3 * (y * w + x);
        for (let c = 0; c < 3; c++) data[o + c] = clampByte(data[o + c]! * (1 - cover) + s.rgb[c]! * grain * cover);
      }
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}
