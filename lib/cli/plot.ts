// The training plot `align-detr train` writes beside its checkpoints: two panels, the training loss
// (per step, when the steps are given, and the mean per epoch) and the evaluation AP / AP50 per
// epoch, rasterised here and encoded to PNG by sharp.
import { Canvas, lineHeight, textWidth, type Rgb } from './raster';

export interface TrainingPoint {
  epoch: number;
  loss: number;
  /** COCO AP in [0, 1]; absent (or NaN) for epochs without an evaluation. */
  ap?: number;
  ap50?: number;
}

/** One optimisation step's loss; `epoch` is fractional: epochs done after the step (0.25 = the first of 4 steps). */
export interface StepPoint {
  epoch: number;
  loss: number;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  title?: string;
  /**
   * Per-step losses, drawn as a thin line under the epoch means, so that a run shorter than one
   * epoch still shows its loss.
   */
  steps?: readonly StepPoint[];
}

/** One panel's axes: data domains, ticks, and the mapping from data to pixel coordinates. */
export interface PanelLayout {
  /** Plot area in pixels: [left, right) × [top, bottom). */
  left: number;
  top: number;
  right: number;
  bottom: number;
  xDomain: [number, number];
  yDomain: [number, number];
  xTicks: number[];
  yTicks: number[];
  /** Digits after the point in the x tick labels (0 but on a fractional epoch axis). */
  xDecimals: number;
  /** Digits after the point in the y tick labels. */
  yDecimals: number;
  xToPixel(x: number): number;
  yToPixel(y: number): number;
}

export interface PlotLayout {
  width: number;
  height: number;
  loss: PanelLayout;
  ap: PanelLayout;
}

export const PLOT_COLORS = {
  background: [255, 255, 255] as Rgb,
  axis: [64, 64, 64] as Rgb,
  grid: [226, 226, 226] as Rgb,
  text: [32, 32, 32] as Rgb,
  muted: [140, 140, 140] as Rgb,
  loss: [33, 102, 172] as Rgb,
  stepLoss: [146, 190, 226] as Rgb,
  ap: [202, 64, 50] as Rgb,
  ap50: [26, 150, 65] as Rgb,
};

/** Every fixed string the plot draws besides numbers (for the font test). */
export const PLOT_STRINGS = ['align-detr training', 'training loss', 'AP / AP50 per epoch', 'epoch', 'loss', 'AP', 'AP50', 'no evaluation yet', 'loss per step', 'epoch mean'];

const MARKER_RADIUS = 3.5;
const LINE_WIDTH = 2;

/** 1, 2 or 5 times a power of ten, near `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
}

/** A y domain on tick multiples holding every finite value (and 0 with `includeZero`); never empty. */
function niceYDomain(values: number[], includeZero: boolean, tickCount = 5): { domain: [number, number]; ticks: number[]; decimals: number } {
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (includeZero) lo = Math.min(0, lo);
  if (!(hi - lo > 1e-12 * Math.max(1, Math.abs(hi)))) {
    // A constant series: centre it in a band around its value (or [0, 1] around zero).
    if (includeZero && hi === 0) hi = 1;
    else {
      const pad = hi !== 0 ? Math.abs(hi) * 0.1 : 0.5;
      hi += pad;
      lo = includeZero && lo >= 0 ? 0 : lo - pad;
    }
  }
  const step = niceStep((hi - lo) / tickCount);
  const k0 = Math.floor(lo / step + 1e-9), k1 = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = k0; k <= k1; k++) ticks.push(k * step);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return { domain: [k0 * step, k1 * step], ticks, decimals };
}

/**
 * Epoch axis. Whole epochs only: half an epoch of padding each side, integer ticks. With
 * fractional positions (per-step points): a little padding, never below 0, and ticks at
 * fractions of an epoch when the run is short.
 */
function epochDomain(epochs: number[], fractional = false): { domain: [number, number]; ticks: number[]; decimals: number } {
  const finite = epochs.filter(Number.isFinite);
  const lo = finite.length ? Math.min(...finite) : 1;
  const hi = finite.length ? Math.max(...finite) : 1;
  if (!fractional) {
    const step = Math.max(1, Math.round(niceStep((hi - lo) / 8)));
    const ticks: number[] = [];
    for (let e = Math.ceil(lo / step) * step; e <= hi; e += step) ticks.push(e);
    if (ticks.length === 0) ticks.push(lo);
    return { domain: [lo - 0.5, hi + 0.5], ticks, decimals: 0 };
  }
  const pad = hi > lo ? (hi - lo) * 0.04 : 0.5;
  // Within the first epoch the axis starts at 0 (the start of training).
  const d0 = lo >= 0 && lo <= 1 ? 0 : lo - pad, d1 = hi + pad;
  const width = d1 - d0;
  const step = width >= 4 ? Math.max(1, Math.round(niceStep(width / 8))) : niceStep(width / 5);
  const decimals = step >= 1 ? 0 : Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let k = Math.ceil(d0 / step - 1e-9); k * step <= d1 + 1e-9; k++) ticks.push(Number((k * step).toFixed(decimals)));
  return { domain: [d0, d1], ticks, decimals };
}

function panel(left: number, top: number, right: number, bottom: number, x: ReturnType<typeof epochDomain>, y: ReturnType<typeof niceYDomain>): PanelLayout {
  const [x0, x1] = x.domain, [y0, y1] = y.domain;
  return {
    left, top, right, bottom,
    xDomain: x.domain, yDomain: y.domain, xTicks: x.ticks, yTicks: y.ticks, xDecimals: x.decimals, yDecimals: y.decimals,
    xToPixel: (v) => left + ((v - x0) / (x1 - x0)) * (right - left),
    yToPixel: (v) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top),
  };
}

const isValue = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** Where everything goes, exported so tests can find the pixel of a data point. */
export function plotLayout(history: readonly TrainingPoint[], options: PlotOptions = {}): PlotLayout {
  const width = options.width ?? 800, height = options.height ?? 400;
  const steps = (options.steps ?? []).filter((p) => isValue(p.epoch) && isValue(p.loss));
  const x = epochDomain([...history.map((p) => p.epoch), ...steps.map((p) => p.epoch)], steps.length > 0);
  const lossY = niceYDomain([...history.map((p) => p.loss), ...steps.map((p) => p.loss)], false);
  const apY = niceYDomain(history.flatMap((p) => [p.ap, p.ap50]).filter(isValue), true);
  const top = 56, bottom = height - 44, half = Math.floor(width / 2);
  return {
    width, height,
    loss: panel(62, top, half - 18, bottom, x, lossY),
    ap: panel(half + 62, top, width - 18, bottom, x, apY),
  };
}

interface Series {
  name: string;
  color: Rgb;
  points: { x: number; y: number | undefined }[];
}

function drawAxes(c: Canvas, p: PanelLayout, title: string): void {
  const w = p.right - p.left, h = p.bottom - p.top;
  for (const t of p.yTicks) {
    const y = Math.round(p.yToPixel(t));
    c.fillRect(p.left, y, w, 1, PLOT_COLORS.grid);
    const label = t.toFixed(p.yDecimals);
    c.fillRect(p.left - 4, y, 4, 1, PLOT_COLORS.axis);
    c.drawText(label, p.left - 7 - textWidth(label), y - 3, PLOT_COLORS.text);
  }
  for (const t of p.xTicks) {
    const x = Math.round(p.xToPixel(t));
    c.fillRect(x, p.top, 1, h, PLOT_COLORS.grid);
    c.fillRect(x, p.bottom, 1, 4, PLOT_COLORS.axis);
    const label = t.toFixed(p.xDecimals);
    c.drawText(label, x - Math.floor(textWidth(label) / 2), p.bottom + 8, PLOT_COLORS.text);
  }
  c.strokeRect(p.left - 1, p.top - 1, w + 2, h + 2, PLOT_COLORS.axis, 1);
  c.drawText('epoch', Math.round((p.left + p.right - textWidth('epoch')) / 2), p.bottom + 22, PLOT_COLORS.text);
  c.drawText(title, Math.round((p.left + p.right - textWidth(title, 2)) / 2), p.top - 22, PLOT_COLORS.text, 2);
}

function drawSeries(c: Canvas, p: PanelLayout, s: Series, style: { lineWidth: number; markerRadius: number } = { lineWidth: LINE_WIDTH, markerRadius: MARKER_RADIUS }): void {
  // Epochs without a value (no evaluation that epoch) are skipped: the line joins the ones that have one.
  const pts = s.points.filter((pt) => isValue(pt.y)).map((pt): [number, number] => [p.xToPixel(pt.x), p.yToPixel(pt.y as number)]);
  if (pts.length > 1) c.strokePolyline(pts, style.lineWidth, s.color);
  if (style.markerRadius > 0) for (const [x, y] of pts) c.fillCircle(x, y, style.markerRadius, s.color);
}

/** Per-step markers while there are few enough steps for them to stay apart. */
const stepMarkerRadius = (n: number): number => (n === 1 ? MARKER_RADIUS : n <= 40 ? 2 : 0);

/** The legend goes in the corner of the plot area with the fewest data points under it. */
function drawLegend(c: Canvas, p: PanelLayout, series: Series[]): void {
  const rowH = 14, sample = 18, pad = 6;
  const w = pad * 2 + sample + 6 + Math.max(...series.map((s) => textWidth(s.name)));
  const h = pad * 2 + rowH * (series.length - 1) + lineHeight();
  const pixels = series.flatMap((s) => s.points.filter((pt) => isValue(pt.y)).map((pt) => [p.xToPixel(pt.x), p.yToPixel(pt.y as number)]));
  const corners = [
    [p.right - w - 6, p.top + 6], [p.right - w - 6, p.bottom - h - 6], [p.left + 6, p.top + 6], [p.left + 6, p.bottom - h - 6],
  ];
  const crowd = (x: number, y: number) =>
    pixels.filter(([px, py]) => px > x - 8 && px < x + w + 8 && py > y - 8 && py < y + h + 8).length;
  let best = corners[0], bestCount = Infinity;
  for (const corner of corners) {
    const n = crowd(corner[0], corner[1]);
    if (n < bestCount) [best, bestCount] = [corner, n];
  }
  const [x, y] = best.map(Math.round);
  c.fillRect(x, y, w, h, PLOT_COLORS.background);
  c.strokeRect(x, y, w, h, PLOT_COLORS.grid, 1);
  series.forEach((s, i) => {
    const cy = y + pad + i * rowH + 3.5;
    c.strokePolyline([[x + pad, cy], [x + pad + sample, cy]], LINE_WIDTH, s.color);
    c.fillCircle(x + pad + sample / 2, cy, MARKER_RADIUS, s.color);
    c.drawText(s.name, x + pad + sample + 6, Math.round(cy - 3.5), PLOT_COLORS.text);
  });
}

/** Renders the training history as a PNG at `file` (default 800×400). */
export async function writeTrainingPlot(file: string, history: readonly TrainingPoint[], options: PlotOptions = {}): Promise<void> {
  await renderTrainingPlot(history, options).writePng(file);
}

/** The plot as a canvas (for tests and for callers that encode it themselves). */
export function renderTrainingPlot(history: readonly TrainingPoint[], options: PlotOptions = {}): Canvas {
  const sorted = [...history].sort((a, b) => a.epoch - b.epoch);
  const layout = plotLayout(sorted, options);
  const c = new Canvas(layout.width, layout.height, PLOT_COLORS.background);
  const title = options.title ?? 'align-detr training';
  c.drawText(title, Math.round((layout.width - textWidth(title, 2)) / 2), 8, PLOT_COLORS.text, 2);

  drawAxes(c, layout.loss, 'training loss');
  const steps = [...(options.steps ?? [])].filter((p) => isValue(p.epoch) && isValue(p.loss)).sort((a, b) => a.epoch - b.epoch);
  const stepLoss: Series = { name: 'loss per step', color: PLOT_COLORS.stepLoss, points: steps.map((p) => ({ x: p.epoch, y: p.loss })) };
  const loss: Series = { name: steps.length ? 'epoch mean' : 'loss', color: PLOT_COLORS.loss, points: sorted.map((p) => ({ x: p.epoch, y: p.loss })) };
  if (steps.length) drawSeries(c, layout.loss, stepLoss, { lineWidth: 1, markerRadius: stepMarkerRadius(steps.length) });
  drawSeries(c, layout.loss, loss);
  const lossLegend = [...(steps.length ? [stepLoss] : []), ...(sorted.length ? [loss] : [])];
  if (lossLegend.length) drawLegend(c, layout.loss, lossLegend);

  drawAxes(c, layout.ap, 'AP / AP50 per epoch');
  const ap: Series = { name: 'AP', color: PLOT_COLORS.ap, points: sorted.map((p) => ({ x: p.epoch, y: p.ap })) };
  const ap50: Series = { name: 'AP50', color: PLOT_COLORS.ap50, points: sorted.map((p) => ({ x: p.epoch, y: p.ap50 })) };
  const apSeries = [ap, ap50].filter((s) => s.points.some((pt) => isValue(pt.y)));
  if (apSeries.length === 0) {
    const msg = 'no evaluation yet', p = layout.ap;
    c.drawText(msg, Math.round((p.left + p.right - textWidth(msg, 2)) / 2), Math.round((p.top + p.bottom) / 2 - 7), PLOT_COLORS.muted, 2);
  } else {
    for (const s of apSeries) drawSeries(c, layout.ap, s);
    drawLegend(c, layout.ap, apSeries);
  }
  return c;
}
