// What `align-detr predict` writes per image: the image with each detection's box outlined in its
// category's colour and labelled "name 0.87", plus the detections as COCO result objects.
import { decodeImage } from '../data/decode';
import type { Category, RgbImage } from '../data/types';
import { Canvas, lineHeight, textWidth, type Rgb } from './raster';

export interface DrawnDetection {
  /** [x, y, width, height] in pixels of the image. */
  bbox: readonly [number, number, number, number] | readonly number[];
  score: number;
  categoryId: number;
}

export interface DrawOptions {
  /** Detections scoring below this are not drawn; default 0 (all). */
  scoreThreshold?: number;
  /** Outline width in pixels; default 2. */
  lineWidth?: number;
  /** Font scale of the labels; default 1 for images under 400 px on their short side, else 2. */
  fontScale?: number;
}

/** A COCO detection result, as the COCO evaluation tools read it. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/** Distinct, saturated colours, chosen to read on both light and dark images. */
export const CATEGORY_PALETTE: readonly Rgb[] = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 190], [0, 128, 128],
  [170, 110, 40], [255, 225, 25], [128, 0, 0], [0, 0, 128], [128, 128, 0],
];

/** The colour of a category: by its position in `categories`, or by its id when not listed. */
export function categoryColor(categoryId: number, categories: readonly Category[]): Rgb {
  const pos = categories.findIndex((c) => c.id === categoryId);
  const k = pos >= 0 ? pos : Math.abs(Math.trunc(categoryId));
  return CATEGORY_PALETTE[k % CATEGORY_PALETTE.length];
}

/** Black or white, whichever reads better on `bg` (by its relative luminance). */
function textColorOn(bg: Rgb): Rgb {
  const lum = 0.2126 * bg[0] + 0.7152 * bg[1] + 0.0722 * bg[2];
  return lum > 140 ? [0, 0, 0] : [255, 255, 255];
}

/**
 * The integer pixel rectangle [x0, x1) × [y0, y1) a box covers, clipped to the image; null if
 * nothing of it is inside. Edges are rounded to the nearest pixel boundary.
 */
export function boxPixels(bbox: readonly number[], width: number, height: number): [number, number, number, number] | null {
  const [x, y, w, h] = bbox;
  if (![x, y, w, h].every(Number.isFinite)) return null;
  const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(width, Math.round(x + w)), y1 = Math.min(height, Math.round(y + h));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : null;
}

/** Draws the detections onto a copy of `image`. */
export function drawDetections(
  image: RgbImage, detections: readonly DrawnDetection[], categories: readonly Category[], options: DrawOptions = {},
): Canvas {
  const canvas = Canvas.fromImage(image);
  const threshold = options.scoreThreshold ?? 0;
  const lineWidth = options.lineWidth ?? 2;
  const scale = options.fontScale ?? (Math.min(image.width, image.height) < 400 ? 1 : 2);
  const names = new Map(categories.map((c) => [c.id, c.name]));
  // Lowest score first, so the most confident boxes and labels end up on top.
  const shown = detections.filter((d) => d.score >= threshold).sort((a, b) => a.score - b.score);
  for (const d of shown) {
    const px = boxPixels(d.bbox, image.width, image.height);
    if (!px) continue;
    const [x0, y0, x1, y1] = px;
    const color = categoryColor(d.categoryId, categories);
    canvas.strokeRect(x0, y0, x1 - x0, y1 - y0, color, lineWidth);

    const label = `${names.get(d.categoryId) ?? String(d.categoryId)} ${d.score.toFixed(2)}`;
    const pad = scale;
    const lw = textWidth(label, scale) + 2 * pad, lh = lineHeight(scale) + 2 * pad;
    // Above the box when there is room, else just inside its top edge; shifted left to stay in the image.
    const ly = y0 - lh >= 0 ? y0 - lh : y0;
    const lx = Math.max(0, Math.min(x0, image.width - lw));
    canvas.fillRect(lx, ly, lw, lh, color);
    canvas.drawText(label, lx + pad, ly + pad, textColorOn(color), scale);
  }
  return canvas;
}

/** Draws the detections on the image (decoded from a path, or given as pixels) and writes a PNG. */
export async function writeDetectionsImage(
  inputImage: RgbImage | string, detections: readonly DrawnDetection[], categories: readonly Category[], file: string,
  options: DrawOptions = {},
): Promise<void> {
  const image = typeof inputImage === 'string' ? await decodeImage(inputImage) : inputImage;
  await drawDetections(image, detections, categories, options).writePng(file);
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** COCO result objects for one image; boxes rounded to 0.01 px and scores to 1e-5 to keep JSON small. */
export function toCocoResults(imageId: number, detections: readonly DrawnDetection[]): CocoResult[] {
  return detections.map((d) => ({
    image_id: imageId,
    category_id: d.categoryId,
    bbox: [round(d.bbox[0], 2), round(d.bbox[1], 2), round(d.bbox[2], 2), round(d.bbox[3], 2)],
    score: round(d.score, 5),
  }));
}
