// A small RGB raster for the CLI's PNGs: rectangles, anti-aliased thick polylines and discs,
// and text in the built-in 5×7 bitmap font, encoded to PNG by sharp. Coordinates are in pixels;
// pixel (i, j) covers [i, i+1) × [j, j+1), so its centre is (i + 0.5, j + 0.5).
import sharp from 'sharp';
import type { RgbImage } from '../data/types';
import { FONT_DESCENT, FONT_HEIGHT, FONT_SPACING, FONT_WIDTH, glyphInk, glyphOf, glyphOffset } from './font5x7';

export type Rgb = readonly [number, number, number];

/** Width in pixels of `text` drawn at integer `scale` (no trailing spacing). */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (FONT_WIDTH + FONT_SPACING) - FONT_SPACING) * scale;
}

/** Height in pixels of capitals and digits at `scale` (from the top of a line to its baseline). */
export function textHeight(scale = 1): number {
  return FONT_HEIGHT * scale;
}

/** Height in pixels of a whole line at `scale`, descenders included. */
export function lineHeight(scale = 1): number {
  return (FONT_HEIGHT + FONT_DESCENT) * scale;
}

export class Canvas {
  readonly data: Uint8Array;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new RangeError(`canvas: size must be positive integers, got ${width}×${height}`);
    }
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(background, 3 * i);
  }

  /** A canvas holding a copy of `image` (the image itself is left untouched). */
  static fromImage(image: RgbImage): Canvas {
    const c = new Canvas(image.width, image.height);
    c.data.set(image.data.subarray(0, c.data.length));
    return c;
  }

  toImage(): RgbImage {
    return { data: this.data, width: this.width, height: this.height, channels: 3 };
  }

  get(x: number, y: number): Rgb {
    const o = 3 * (y * this.width + x);
    return [this.data[o], this.data[o + 1], this.data[o + 2]];
  }

  /** Sets one pixel; pixels outside the canvas are ignored. */
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, 3 * (y * this.width + x));
  }

  /** Mixes `c` into one pixel with weight `alpha` in [0, 1]. */
  blend(x: number, y: number, c: Rgb, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(alpha > 0)) return;
    if (alpha >= 1) return this.set(x, y, c);
    const o = 3 * (y * this.width + x);
    for (let k = 0; k < 3; k++) this.data[o + k] = Math.round(this.data[o + k] + (c[k] - this.data[o + k]) * alpha);
  }

  /** Fills the integer rectangle [x, x+w) × [y, y+h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w)), y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) this.data.set(c, 3 * (yy * this.width + xx));
    }
  }

  /** Outlines the integer rectangle [x, x+w) × [y, y+h) with a border `thickness` pixels wide, inside it. */
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb, thickness = 1): void {
    const t = Math.min(thickness, Math.ceil(w / 2), Math.ceil(h / 2));
    this.fillRect(x, y, w, t, c);
    this.fillRect(x, y + h - t, w, t, c);
    this.fillRect(x, y + t, t, h - 2 * t, c);
    this.fillRect(x + w - t, y + t, t, h - 2 * t, c);
  }

  /**
   * Strokes a polyline `width` pixels wide with anti-aliased edges: each pixel's coverage is
   * its centre's distance to the nearest segment, ramped over one pixel. Coverage is the maximum
   * over segments (not a sum) so joins are not drawn twice.
   */
  strokePolyline(points: readonly (readonly [number, number])[], width: number, c: Rgb): void {
    if (points.length === 0) return;
    const half = width / 2;
    const pad = half + 1;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const bx0 = Math.max(0, Math.floor(Math.min(...xs) - pad)), by0 = Math.max(0, Math.floor(Math.min(...ys) - pad));
    const bx1 = Math.min(this.width, Math.ceil(Math.max(...xs) + pad)), by1 = Math.min(this.height, Math.ceil(Math.max(...ys) + pad));
    if (bx1 <= bx0 || by1 <= by0) return;
    const bw = bx1 - bx0;
    const coverage = new Float32Array(bw * (by1 - by0));
    const segments = points.length === 1 ? [[points[0], points[0]] as const] : points.slice(1).map((p, i) => [points[i], p] as const);
    for (const [a, b] of segments) {
      const dx = b[0] - a[0], dy = b[1] - a[1];
      const len2 = dx * dx + dy * dy;
      const sx0 = Math.max(bx0, Math.floor(Math.min(a[0], b[0]) - pad)), sx1 = Math.min(bx1, Math.ceil(Math.max(a[0], b[0]) + pad));
      const sy0 = Math.max(by0, Math.floor(Math.min(a[1], b[1]) - pad)), sy1 = Math.min(by1, Math.ceil(Math.max(a[1], b[1]) + pad));
      for (let y = sy0; y < sy1; y++) {
        for (let x = sx0; x < sx1; x++) {
          const px = x + 0.5 - a[0], py = y + 0.5 - a[1];
          const t = len2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / len2)) : 0;
          const ex = px - t * dx, ey = py - t * dy;
          const cov = Math.min(1, Math.max(0, half + 0.5 - Math.hypot(ex, ey)));
          const i = (y - by0) * bw + (x - bx0);
          if (cov > coverage[i]) coverage[i] = cov;
        }
      }
    }
    for (let y = by0; y < by1; y++) {
      for (let x = bx0; x < bx1; x++) this.blend(x, y, c, coverage[(y - by0) * bw + (x - bx0)]);
    }
  }

  /** A filled disc of radius `r` centred at (cx, cy), anti-aliased at its edge. */
  fillCircle(cx: number, cy: number, r: number, c: Rgb): void {
    for (let y = Math.floor(cy - r - 1); y <= Math.ceil(cy + r + 1); y++) {
      for (let x = Math.floor(cx - r - 1); x <= Math.ceil(cx + r + 1); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, c, Math.min(1, Math.max(0, r + 0.5 - d)));
      }
    }
  }

  /** Draws `text` with its top-left corner at integer (x, y) (descenders go below y + textHeight), each font pixel `scale`×`scale`; clipped. */
  drawText(text: string, x: number, y: number, c: Rgb, scale = 1): void {
    let cx = Math.round(x);
    const cy = Math.round(y);
    for (const ch of text) {
      const rows = glyphOf(ch);
      const top = cy + glyphOffset(ch) * scale;
      for (let r = 0; r < FONT_HEIGHT; r++) {
        for (let col = 0; col < FONT_WIDTH; col++) {
          if (glyphInk(rows, r, col)) this.fillRect(cx + col * scale, top + r * scale, scale, scale, c);
        }
      }
      cx += (FONT_WIDTH + FONT_SPACING) * scale;
    }
  }

  /** Writes the canvas as a PNG file. */
  async writePng(file: string): Promise<void> {
    await sharp(this.data, { raw: { width: this.width, height: this.height, channels: 3 } }).png().toFile(file);
  }
}
