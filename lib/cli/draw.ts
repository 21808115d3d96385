// What `align-detr predict` writes per image: the image with each detection's box outlined in its
// category's colour and labelled "name 0.87", plus the detections as COCO result objects. The boxes
// and labels are an SVG document the size of the image, composited over it by sharp.
import * as fs from 'node:fs';
import sharp from 'sharp';
import { decodeImage } from '../data/decode';
import type { Category, RgbImage } from '../data/types';
import { escapeXml, fitText, FONT_FAMILY, svgColor, textWidth, type Rgb } from './svg';
import { must } from '../must';

export type { Rgb } from './svg';

export interface DrawnDetection {
  /** [x, y, width, height] in pixels of the image. */
  bbox: readonly [number, number, number, number] | readonly number[];
  score: number;
  categoryId: number;
}

export interface DrawOptions {
  /** Detections scoring below this are not drawn; default 0 (all). */
  scoreThreshold?: number;
  /** Outline width in pixels; default 2, more on large images (see `outlineWidth`). */
  lineWidth?: number;
  /** Label font size in pixels; default `labelFontSize` of the image's size. */
  fontSize?: number;
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
  return must(CATEGORY_PALETTE[k % CATEGORY_PALETTE.length], 'palette colour');
}

/** Black or white, whichever reads better on `bg` (by its relative luminance). */
export function textColorOn(bg: Rgb): Rgb {
  const lum = 0.2126 * bg[0] + 0.7152 * bg[1] + 0.0722 * bg[2];
  return lum > 140 ? [0, 0, 0] : [255, 255, 255];
}

/** Label font size in pixels for an image: a 30th of its short side, within [11, 48]. */
export function labelFontSize(width: number, height: number): number {
  return Math.max(11, Math.min(48, Math.round(Math.min(width, height) / 30)));
}

/** Box outline width in pixels for an image: 2, or a 300th of its short side when that is more. */
export function outlineWidth(width: number, height: number): number {
  return Math.max(2, Math.round(Math.min(width, height) / 300));
}

/**
 * The integer pixel rectangle [x0, x1) × [y0, y1) a box covers, clipped to the image; null if
 * nothing of it is inside. Edges are rounded to the nearest pixel boundary.
 */
export function boxPixels(bbox: readonly number[], width: number, height: number): [number, number, number, number] | null {
  // A missing coordinate reads as NaN: not finite, like any other bad value.
  const [x = NaN, y = NaN, w = NaN, h = NaN] = bbox;
  if (![x, y, w, h].every(Number.isFinite)) return null;
  const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(width, Math.round(x + w)), y1 = Math.min(height, Math.round(y + h));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : null;
}

/** A label to place: the pixel box [x0, y0, x1, y1) it names and the size of its background rectangle. */
export interface LabelRequest {
  box: readonly [number, number, number, number];
  width: number;
  height: number;
}

/** A placed label's background rectangle [x, x + width) × [y, y + height), in pixels. */
export interface LabelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const overlap = (a: LabelRect, b: LabelRect): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Places labels, in the order given (the first gets the best spot), so that no two overlap and
 * each lies inside the image. A label goes just above its box, left-aligned with it; if that
 * collides with a label already placed: inside the box's top edge, below the box, inside its
 * bottom edge (each also right-aligned); then stacked against the labels in the way, at the free
 * spot nearest the first choice that still touches the box's columns and stays within three
 * label heights of the box. A label with no such spot is null (its box is still drawn without it).
 * Rectangles wider or taller than the image are cut to it.
 */
export function layoutLabels(labels: readonly LabelRequest[], imageSize: { width: number; height: number }): (LabelRect | null)[] {
  const W = imageSize.width, H = imageSize.height;
  const placed: LabelRect[] = [];
  return labels.map(({ box: [x0, y0, x1, y1], width, height }) => {
    const w = Math.max(0, Math.min(Math.ceil(width), W)), h = Math.max(0, Math.min(Math.ceil(height), H));
    const rect = (x: number, y: number): LabelRect => ({
      x: Math.max(0, Math.min(Math.round(x), W - w)), y: Math.max(0, Math.min(Math.round(y), H - h)), width: w, height: h,
    });
    const free = (r: LabelRect) => placed.every((p) => !overlap(r, p));
    const take = (r: LabelRect) => (placed.push(r), r);

    const ys = [y0 - h, y0, y1, y1 - h];
    for (const y of ys) for (const x of [x0, x1 - w]) {
      const r = rect(x, y);
      if (free(r)) return take(r);
    }
    // Stacked against the labels in the way: next to one of their edges.
    const first = rect(x0, y0 - h);
    const xs = [x0, x1 - w, ...placed.flatMap((p) => [p.x + p.width, p.x - w])];
    const ys2 = [...ys, ...placed.flatMap((p) => [p.y + p.height, p.y - h])];
    const candidates: LabelRect[] = [];
    for (const y of ys2) {
      for (const x of xs) {
        const r = rect(x, y);
        const nearBox = r.x + r.width >= x0 && r.x <= x1 && r.y + r.height >= y0 - 3 * h && r.y <= y1 + 3 * h;
        if (nearBox) candidates.push(r);
      }
    }
    const cost = (r: LabelRect) => Math.abs(r.x - first.x) + Math.abs(r.y - first.y);
    candidates.sort((a, b) => cost(a) - cost(b));
    for (const r of candidates) if (free(r)) return take(r);
    return null;
  });
}

/** The label text of a detection, "name 0.87", its name shortened to fit `maxWidth` pixels. */
function labelText(name: string, score: number, fontSize: number, maxWidth: number): string {
  const s = score.toFixed(2);
  const room = maxWidth - textWidth(` ${s}`, fontSize);
  const fitted = fitText(name, fontSize, Math.max(0, room));
  return fitted ? `${fitted} ${s}` : s;
}

/** Label geometry at a font size: padding and rectangle height. */
function labelMetrics(fontSize: number): { padX: number; height: number; baseline: number } {
  const height = Math.round(fontSize * 1.3);
  // DejaVu Sans: ascender 0.76 em, descender 0.24 em; the line is centred in the rectangle.
  return { padX: Math.max(2, Math.round(fontSize * 0.3)), height, baseline: (height - fontSize) / 2 + 0.76 * fontSize };
}

/** A detection's label as drawn: its text, background rectangle and colours. */
export interface PlacedLabel {
  text: string;
  rect: LabelRect;
  background: Rgb;
  color: Rgb;
}

/** What `detectionsSvg` draws: the boxes in drawing order (lowest score first) and the labels placed. */
export interface DetectionsDrawing {
  width: number;
  height: number;
  lineWidth: number;
  fontSize: number;
  boxes: { px: [number, number, number, number]; color: Rgb; detection: DrawnDetection }[];
  /** Labels in order of score, highest first; those with no free spot are left out. */
  labels: PlacedLabel[];
}

/**
 * The geometry of the drawing: boxes shown (score at least the threshold, something inside the
 * image), lowest score first so that the most confident end on top, and their labels laid out by
 * `layoutLabels` in order of score.
 */
export function detectionsDrawing(
  width: number, height: number, detections: readonly DrawnDetection[], categories: readonly Category[], options: DrawOptions = {},
): DetectionsDrawing {
  const threshold = options.scoreThreshold ?? 0;
  const lineWidth = Math.max(1, Math.round(options.lineWidth ?? outlineWidth(width, height)));
  const fontSize = options.fontSize ?? labelFontSize(width, height);
  const { padX, height: labelHeight } = labelMetrics(fontSize);
  const names = new Map(categories.map((c) => [c.id, c.name]));
  const boxes = detections
    .filter((d) => d.score >= threshold)
    .map((detection) => ({ detection, px: boxPixels(detection.bbox, width, height), color: categoryColor(detection.categoryId, categories) }))
    .filter((b): b is DetectionsDrawing['boxes'][number] => b.px !== null)
    .sort((a, b) => a.detection.score - b.detection.score);
  const byScore = [...boxes].reverse().map(({ detection: d, px, color }) => ({
    px, color, text: labelText(names.get(d.categoryId) ?? String(d.categoryId), d.score, fontSize, width - 2 * padX),
  }));
  const rects = layoutLabels(
    byScore.map(({ px, text }) => ({ box: px, width: textWidth(text, fontSize) + 2 * padX, height: labelHeight })),
    { width, height },
  );
  const labels: PlacedLabel[] = [];
  byScore.forEach(({ color, text }, i) => {
    const rect = rects[i];
    if (rect) labels.push({ text, rect, background: color, color: textColorOn(color) });
  });
  return { width, height, lineWidth, fontSize, boxes, labels };
}

/** The boxes and labels (see `detectionsDrawing`) as an SVG document of the image's size, transparent but for them. */
export function detectionsSvg(
  width: number, height: number, detections: readonly DrawnDetection[], categories: readonly Category[], options: DrawOptions = {},
): string {
  const drawing = detectionsDrawing(width, height, detections, categories, options);
  const lw = drawing.lineWidth;
  const { padX, baseline } = labelMetrics(drawing.fontSize);
  const parts: string[] = [];
  for (const { px: [x0, y0, x1, y1], color } of drawing.boxes) {
    // The outline is the box minus its inside, on pixel boundaries: exact colour, no anti-aliasing.
    const inner = x1 - x0 > 2 * lw && y1 - y0 > 2 * lw ? ` M${x0 + lw} ${y0 + lw}V${y1 - lw}H${x1 - lw}V${y0 + lw}Z` : '';
    parts.push(`<path d="M${x0} ${y0}H${x1}V${y1}H${x0}Z${inner}" fill="${svgColor(color)}" fill-rule="evenodd"/>`);
  }
  for (const { text, rect: r, background, color } of drawing.labels) {
    parts.push(
      `<rect x="${r.x}" y="${r.y}" width="${r.width}" height="${r.height}" fill="${svgColor(background)}"/>` +
        `<text x="${r.x + padX}" y="${(r.y + baseline).toFixed(1)}" fill="${svgColor(color)}">${escapeXml(text)}</text>`,
    );
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<g font-family="${escapeXml(FONT_FAMILY)}" font-size="${drawing.fontSize}">${parts.join('')}</g></svg>`
  );
}

/** The image with the detections drawn on it, as PNG bytes (RGB); `image` itself is not modified. */
export async function renderDetections(
  image: RgbImage, detections: readonly DrawnDetection[], categories: readonly Category[], options: DrawOptions = {},
): Promise<Buffer> {
  const { width, height } = image;
  const svg = detectionsSvg(width, height, detections, categories, options);
  return sharp(image.data, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Draws the detections on the image (decoded from a path, or given as pixels) and writes a PNG. */
export async function writeDetectionsImage(
  inputImage: RgbImage | string, detections: readonly DrawnDetection[], categories: readonly Category[], file: string,
  options: DrawOptions = {},
): Promise<void> {
  const image = typeof inputImage === 'string' ? await decodeImage(inputImage) : inputImage;
  await fs.promises.writeFile(file, await renderDetections(image, detections, categories, options));
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
