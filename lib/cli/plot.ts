// The training plot `align-detr train` writes beside its checkpoints: two panels, the training loss
// (per step, when the steps are given, and the mean per epoch) and the evaluation AP / AP50 per
// epoch, built as an SVG document and rasterised to PNG by sharp.
import * as fs from 'node:fs';
import sharp from 'sharp';
import { escapeXml, FONT_FAMILY, svgColor, textWidth, type Rgb } from './svg';

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

/** The fixed labels of the plot (axis and panel titles), as the SVG spells them. */
export const PLOT_LABELS = {
  title: 'align-detr training',
  lossPanel: 'training loss',
  apPanel: 'AP / AP50 per epoch',
  xAxis: 'epoch',
  lossAxis: 'loss',
  apAxis: 'AP',
  noEvaluation: 'no evaluation yet',
  noLoss: 'no steps yet',
};

const MARKER_RADIUS = 3.5;
const LINE_WIDTH = 2;
const FONT = { title: 17, panel: 14, axis: 12, tick: 11, legend: 12 };

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
  else if (hi > lo) {
    // A little room so that the extreme points do not sit on the frame (never below 0 for positive data).
    const pad = (hi - lo) * 0.04;
    lo = lo >= 0 ? Math.max(0, lo - pad) : lo - pad;
    hi += pad;
  }
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
    loss: panel(72, top, half - 18, bottom, x, lossY),
    ap: panel(half + 72, top, width - 18, bottom, x, apY),
  };
}

interface Series {
  name: string;
  color: Rgb;
  points: { x: number; y: number | undefined }[];
}

const f1 = (v: number) => (Math.round(v * 10) / 10).toString();

/** A text element; `anchor` is SVG's text-anchor. */
function text(x: number, y: number, s: string, size: number, color: Rgb, anchor: 'start' | 'middle' | 'end' = 'start', extra = ''): string {
  return `<text x="${f1(x)}" y="${f1(y)}" font-size="${size}" fill="${svgColor(color)}" text-anchor="${anchor}"${extra}>${escapeXml(s)}</text>`;
}

/** Grid, ticks and their labels, the frame, and the axis and panel titles. */
function axesSvg(p: PanelLayout, title: string, yLabel: string): string {
  const out: string[] = [];
  const grid: string[] = [], ticks: string[] = [];
  for (const t of p.yTicks) {
    const y = Math.round(p.yToPixel(t)) + 0.5;
    grid.push(`M${p.left} ${y}H${p.right}`);
    ticks.push(`M${p.left - 4} ${y}H${p.left}`);
    out.push(text(p.left - 7, y + FONT.tick * 0.36, t.toFixed(p.yDecimals), FONT.tick, PLOT_COLORS.text, 'end'));
  }
  for (const t of p.xTicks) {
    const x = Math.round(p.xToPixel(t)) + 0.5;
    grid.push(`M${x} ${p.top}V${p.bottom}`);
    ticks.push(`M${x} ${p.bottom}V${p.bottom + 4}`);
    out.push(text(x, p.bottom + 7 + FONT.tick * 0.76, t.toFixed(p.xDecimals), FONT.tick, PLOT_COLORS.text, 'middle'));
  }
  const cx = (p.left + p.right) / 2, cy = (p.top + p.bottom) / 2;
  return (
    `<path d="${grid.join('')}" stroke="${svgColor(PLOT_COLORS.grid)}" stroke-width="1" shape-rendering="crispEdges" fill="none"/>` +
    `<path d="${ticks.join('')}" stroke="${svgColor(PLOT_COLORS.axis)}" stroke-width="1" shape-rendering="crispEdges" fill="none"/>` +
    `<rect x="${p.left - 0.5}" y="${p.top - 0.5}" width="${p.right - p.left + 1}" height="${p.bottom - p.top + 1}" fill="none" stroke="${svgColor(PLOT_COLORS.axis)}" stroke-width="1" shape-rendering="crispEdges"/>` +
    out.join('') +
    text(cx, p.bottom + 34, PLOT_LABELS.xAxis, FONT.axis, PLOT_COLORS.text, 'middle') +
    text(p.left - 58, cy, yLabel, FONT.axis, PLOT_COLORS.text, 'middle', ` transform="rotate(-90 ${f1(p.left - 58)} ${f1(cy)})" dominant-baseline="central"`) +
    text(cx, p.top - 12, title, FONT.panel, PLOT_COLORS.text, 'middle', ' font-weight="bold"')
  );
}

/** A series' line through its values (epochs without one are skipped) and its markers. */
function seriesSvg(p: PanelLayout, s: Series, lineWidth = LINE_WIDTH, markerRadius = MARKER_RADIUS): string {
  const pts = s.points.filter((pt) => isValue(pt.y)).map((pt): [number, number] => [p.xToPixel(pt.x), p.yToPixel(pt.y as number)]);
  const color = svgColor(s.color);
  let out = '';
  if (pts.length > 1) {
    out += `<polyline points="${pts.map(([x, y]) => `${f1(x)},${f1(y)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="${lineWidth}" stroke-linejoin="round" stroke-linecap="round"/>`;
  }
  if (markerRadius > 0) for (const [x, y] of pts) out += `<circle cx="${f1(x)}" cy="${f1(y)}" r="${markerRadius}" fill="${color}"/>`;
  return out;
}

/** Per-step markers while there are few enough steps for them to stay apart. */
const stepMarkerRadius = (n: number): number => (n === 1 ? MARKER_RADIUS : n <= 40 ? 2.5 : 0);

/** The legend, in the corner of the plot area with the fewest data points under it. */
function legendSvg(p: PanelLayout, series: Series[]): string {
  const rowH = 18, sample = 20, pad = 7;
  const w = pad * 2 + sample + 6 + Math.max(...series.map((s) => textWidth(s.name, FONT.legend)));
  const h = pad * 2 + rowH * series.length - (rowH - FONT.legend);
  const pixels = series.flatMap((s) => s.points.filter((pt) => isValue(pt.y)).map((pt): [number, number] => [p.xToPixel(pt.x), p.yToPixel(pt.y as number)]));
  const corners = [
    [p.right - w - 6, p.top + 6], [p.right - w - 6, p.bottom - h - 6], [p.left + 6, p.top + 6], [p.left + 6, p.bottom - h - 6],
  ] as const;
  const crowd = (x: number, y: number) => pixels.filter(([px, py]) => px > x - 8 && px < x + w + 8 && py > y - 8 && py < y + h + 8).length;
  let best = corners[0], bestCount = Infinity;
  for (const corner of corners) {
    const n = crowd(corner[0], corner[1]);
    if (n < bestCount) [best, bestCount] = [corner, n];
  }
  const x = Math.round(best[0]), y = Math.round(best[1]);
  let out = `<rect x="${x + 0.5}" y="${y + 0.5}" width="${w}" height="${h}" fill="${svgColor(PLOT_COLORS.background)}" fill-opacity="0.92" stroke="${svgColor(PLOT_COLORS.grid)}"/>`;
  series.forEach((s, i) => {
    const cy = y + pad + i * rowH + FONT.legend / 2;
    const color = svgColor(s.color);
    out += `<path d="M${x + pad} ${cy}H${x + pad + sample}" stroke="${color}" stroke-width="${LINE_WIDTH}"/>`;
    out += `<circle cx="${x + pad + sample / 2}" cy="${cy}" r="${MARKER_RADIUS}" fill="${color}"/>`;
    out += text(x + pad + sample + 6, cy + FONT.legend * 0.36, s.name, FONT.legend, PLOT_COLORS.text);
  });
  return out;
}

/** The training plot as an SVG document (default 800×400). */
export function trainingPlotSvg(history: readonly TrainingPoint[], options: PlotOptions = {}): string {
  const sorted = [...history].sort((a, b) => a.epoch - b.epoch);
  const layout = plotLayout(sorted, options);
  const { width, height } = layout;
  const parts: string[] = [`<rect width="${width}" height="${height}" fill="${svgColor(PLOT_COLORS.background)}"/>`];
  parts.push(text(width / 2, 26, options.title ?? PLOT_LABELS.title, FONT.title, PLOT_COLORS.text, 'middle', ' font-weight="bold"'));

  const lp = layout.loss;
  parts.push(axesSvg(lp, PLOT_LABELS.lossPanel, PLOT_LABELS.lossAxis));
  const steps = [...(options.steps ?? [])].filter((p) => isValue(p.epoch) && isValue(p.loss)).sort((a, b) => a.epoch - b.epoch);
  const stepLoss: Series = { name: 'loss per step', color: PLOT_COLORS.stepLoss, points: steps.map((p) => ({ x: p.epoch, y: p.loss })) };
  const loss: Series = { name: steps.length ? 'epoch mean' : 'loss', color: PLOT_COLORS.loss, points: sorted.map((p) => ({ x: p.epoch, y: p.loss })) };
  if (steps.length) parts.push(seriesSvg(lp, stepLoss, 1.5, stepMarkerRadius(steps.length)));
  parts.push(seriesSvg(lp, loss));
  const lossLegend = [...(steps.length ? [stepLoss] : []), ...(loss.points.some((pt) => isValue(pt.y)) ? [loss] : [])];
  if (lossLegend.length) parts.push(legendSvg(lp, lossLegend));
  else parts.push(text((lp.left + lp.right) / 2, (lp.top + lp.bottom) / 2, PLOT_LABELS.noLoss, FONT.panel, PLOT_COLORS.muted, 'middle'));

  const ap = layout.ap;
  parts.push(axesSvg(ap, PLOT_LABELS.apPanel, PLOT_LABELS.apAxis));
  const apSeries = [
    { name: 'AP', color: PLOT_COLORS.ap, points: sorted.map((p) => ({ x: p.epoch, y: p.ap })) },
    { name: 'AP50', color: PLOT_COLORS.ap50, points: sorted.map((p) => ({ x: p.epoch, y: p.ap50 })) },
  ].filter((s) => s.points.some((pt) => isValue(pt.y)));
  if (apSeries.length === 0) parts.push(text((ap.left + ap.right) / 2, (ap.top + ap.bottom) / 2, PLOT_LABELS.noEvaluation, FONT.panel, PLOT_COLORS.muted, 'middle'));
  else {
    for (const s of apSeries) parts.push(seriesSvg(ap, s));
    parts.push(legendSvg(ap, apSeries));
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escapeXml(FONT_FAMILY)}">` +
    `${parts.join('')}</svg>`
  );
}

/** The training plot as PNG bytes (RGB, default 800×400). */
export async function renderTrainingPlot(history: readonly TrainingPoint[], options: PlotOptions = {}): Promise<Buffer> {
  return sharp(Buffer.from(trainingPlotSvg(history, options))).removeAlpha().png().toBuffer();
}

/** Renders the training history as a PNG at `file` (default 800×400). */
export async function writeTrainingPlot(file: string, history: readonly TrainingPoint[], options: PlotOptions = {}): Promise<void> {
  await fs.promises.writeFile(file, await renderTrainingPlot(history, options));
}
