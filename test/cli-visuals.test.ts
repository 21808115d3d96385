// The CLI's visuals: progress lines against hand-written expected output under an injected clock;
// the training plot (SVG rendered by sharp) with its data where the axis mapping puts it; drawn
// detections with their outline pixels at the box edges, labels that never overlap and stay in
// the image, text that stays inside its label background; XML escaping of every drawn string.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { formatCompact, formatDuration, ProgressReporter, type ProgressStream } from '../lib/cli/progress';
import { PLOT_COLORS, PLOT_LABELS, plotLayout, renderTrainingPlot, trainingPlotSvg, writeTrainingPlot, type TrainingPoint } from '../lib/cli/plot';
import {
  boxPixels, CATEGORY_PALETTE, categoryColor, detectionsDrawing, detectionsSvg, labelFontSize, layoutLabels, renderDetections,
  toCocoResults, writeDetectionsImage, type LabelRect, type LabelRequest,
} from '../lib/cli/draw';
import { escapeXml, fitText, textWidth } from '../lib/cli/svg';
import type { RgbImage } from '../lib/data/types';

class FakeStream implements ProgressStream {
  chunks: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns?: number) {}
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join('');
  }
}

/** A clock the test moves by hand (milliseconds). */
function manualClock(): { now: () => number; set: (ms: number) => void } {
  let t = 0;
  return { now: () => t, set: (ms) => (t = ms) };
}

async function decodePng(file: string | Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

const pixelOf = (img: { data: Uint8Array | Buffer; width: number }, x: number, y: number) => {
  const o = 3 * (y * img.width + x);
  return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-visuals-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------- progress

test('compact numbers and durations', (t) => {
  t.is(formatCompact(1.234), '1.234');
  t.is(formatCompact(0.123456), '0.1235');
  t.is(formatCompact(12), '12');
  t.is(formatCompact(1e-4), '1e-4');
  t.is(formatCompact(2.5e-5), '2.5e-5');
  t.is(formatCompact(123456.7), '1.23e5');
  t.is(formatCompact(NaN), 'NaN');
  t.is(formatDuration(0), '0:00');
  t.is(formatDuration(99_000), '1:39');
  t.is(formatDuration(3_723_000), '1:02:03');
  t.is(formatDuration(NaN), '?');
});

test('non-TTY: plain lines at most every plainInterval seconds, plus the last state', (t) => {
  const stream = new FakeStream(false);
  const clock = manualClock();
  const p = new ProgressReporter({ stream, total: 100, label: 'train', now: clock.now, plainInterval: 10 });
  // One unit per second: the ETA is the number of units left, in seconds.
  for (let done = 1; done <= 15; done++) {
    clock.set(done * 1000);
    p.update(done, { epoch: 1, loss: 1.5 + done / 1000, lr: 1e-4 });
    if (done === 12) p.log('a message');
  }
  p.finish();
  p.finish(); // idempotent
  t.deepEqual(stream.text.split('\n'), [
    'train 1/100 1.0% epoch=1 loss=1.501 lr=1e-4 elapsed=0:01 eta=?',
    'train 11/100 11.0% epoch=1 loss=1.511 lr=1e-4 elapsed=0:11 eta=1:29',
    'a message',
    'train 15/100 15.0% epoch=1 loss=1.515 lr=1e-4 elapsed=0:15 eta=1:25',
    '',
  ]);
});

test('non-TTY: reaching total prints at once, and finish does not repeat it', (t) => {
  const stream = new FakeStream(false);
  const clock = manualClock();
  const p = new ProgressReporter({ stream, total: 4, label: 'eval', now: clock.now });
  for (let done = 1; done <= 4; done++) {
    clock.set(done * 500);
    p.update(done, { loss: 0.25 });
  }
  p.finish();
  t.deepEqual(stream.text.split('\n'), [
    'eval 1/4 25.0% loss=0.25 elapsed=0:01 eta=?',
    'eval 4/4 100.0% loss=0.25 elapsed=0:02 eta=0:00',
    '',
  ]);
});

test('TTY: one line redrawn with \\r, throttled, with the closed-form ETA of a constant rate', (t) => {
  const stream = new FakeStream(true, 200);
  const clock = manualClock();
  const total = 1000, stepMs = 40;
  const p = new ProgressReporter({ stream, total, label: 'train', now: clock.now });
  for (let done = 1; done <= 500; done++) {
    clock.set(done * stepMs);
    p.update(done, { loss: 2 });
    // Constant rate 1/stepMs: ETA = units left × stepMs, exactly (up to rounding of the float EMA);
    // unknown until a second update has measured a rate.
    if (done === 1) t.is(p.etaMs(), undefined);
    else t.true(Math.abs((p.etaMs() as number) - (total - done) * stepMs) < 1e-6);
  }
  // Redraws at most every 100 ms over 20 s: about 200 of them for 500 updates.
  t.true(stream.chunks.length <= 20_000 / 100 + 1, `${stream.chunks.length} redraws`);
  t.true(stream.chunks.length >= 150);
  t.false(stream.text.includes('\n'));
  const last = stream.chunks[stream.chunks.length - 1]!;
  t.true(last.startsWith('\r\x1b[2K'));
  t.regex(last, /^\r\x1b\[2K(train) [█░]{24} +(\d+\.\d)% (\d+)\/1000 loss=2 elapsed (\S+) eta (\S+)$/);
  const [, , pct, done, elapsed, eta] = /^\r\x1b\[2K(train) [█░]{24} +(\d+\.\d)% (\d+)\/1000 loss=2 elapsed (\S+) eta (\S+)$/.exec(last)!;
  t.is(Number(pct), Number(done) / 10);
  t.is(elapsed, formatDuration(Number(done) * stepMs));
  t.is(eta, formatDuration((total - Number(done)) * stepMs));
  // 12 of 24 bar cells full at 50%.
  t.is([...last].filter((c) => c === '█').length, Math.round((24 * Number(done)) / total));

  // A log line clears the bar, prints, and redraws the bar below it.
  stream.chunks = [];
  p.log('epoch 1/2: mean loss 2.0000');
  t.is(stream.chunks[0], '\r\x1b[2Kepoch 1/2: mean loss 2.0000\n');
  t.regex(stream.chunks[1]!, /^\r\x1b\[2Ktrain /);
  stream.chunks = [];
  clock.set(500 * stepMs + 1);
  p.finish();
  t.is(stream.text.at(-1), '\n');
});

test('ETA: after a change of pace the smoothed rate follows the closed-form exponential approach', (t) => {
  const clock = manualClock();
  const tauS = 20;
  const p = new ProgressReporter({ stream: new FakeStream(false), total: 10_000, label: 'x', now: clock.now, rateTimeConstant: tauS });
  // 1 unit/s for 30 s, then 4 units/s in steps of 0.25 s for T seconds.
  for (let s = 0; s <= 30; s++) {
    clock.set(s * 1000);
    p.update(s);
  }
  let done = 30;
  const T = 15;
  for (let k = 1; k <= 4 * T; k++) {
    clock.set(30_000 + k * 250);
    p.update(++done);
  }
  // Time-weighted smoothing: rate(T) = r2 + (r1 − r2)·exp(−T/τ), whatever the update spacing.
  const rate = 4 + (1 - 4) * Math.exp(-T / tauS); // units per second
  const expected = ((10_000 - done) / rate) * 1000;
  t.true(Math.abs((p.etaMs() as number) - expected) < 1e-6 * expected, `${p.etaMs()} vs ${expected}`);
});

test('TTY: the line is cut to the terminal width so it never wraps', (t) => {
  const stream = new FakeStream(true, 40);
  const p = new ProgressReporter({ stream, total: 10, label: 'train', now: () => 0 });
  p.update(3, { loss: 1.25, lr: 1e-4, epoch: 2 });
  t.is([...stream.chunks[0]!.replace('\r\x1b[2K', '')].length, 39);
});


// ---------------------------------------------------------------- plot

const history: TrainingPoint[] = [
  { epoch: 1, loss: 2.4, ap: 0.05, ap50: 0.12 },
  { epoch: 2, loss: 1.6, ap: 0.14, ap50: 0.3 },
  { epoch: 3, loss: 1.1 },
  { epoch: 4, loss: 0.9, ap: 0.31, ap50: 0.55 },
];

const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

/** Pixels of `img` in [x0, x1) × [y0, y1) for which `pred` holds. */
function countPixels(img: { data: Uint8Array | Buffer; width: number }, x0: number, y0: number, x1: number, y1: number, pred: (p: number[]) => boolean): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (pred(pixelOf(img, x, y))) n++;
  return n;
}

test('plot: the PNG has the asked size and the data points where the axis mapping puts them', async (t) => {
  const file = path.join(tmp, 'training.png');
  await writeTrainingPlot(file, history);
  const png = await decodePng(file);
  t.deepEqual([png.width, png.height, png.channels], [800, 400, 3]);

  const layout = plotLayout(history);
  // The mapping sends the domain's ends to the plot area's edges, linearly.
  t.is(layout.loss.xToPixel(layout.loss.xDomain[0]), layout.loss.left);
  t.is(layout.loss.xToPixel(layout.loss.xDomain[1]), layout.loss.right);
  t.is(layout.loss.yToPixel(layout.loss.yDomain[0]), layout.loss.bottom);
  t.is(layout.loss.yToPixel(layout.loss.yDomain[1]), layout.loss.top);
  t.true(layout.loss.yDomain[0] <= 0.9 && layout.loss.yDomain[1] >= 2.4);

  // Every data point's centre pixel carries its series' colour (the markers are filled discs).
  for (const p of history) {
    const lx = Math.floor(layout.loss.xToPixel(p.epoch)), ly = Math.floor(layout.loss.yToPixel(p.loss));
    t.deepEqual(pixelOf(png, lx, ly), [...PLOT_COLORS.loss], `loss at epoch ${p.epoch}`);
    if (p.ap === undefined) continue;
    const ax = Math.floor(layout.ap.xToPixel(p.epoch));
    t.deepEqual(pixelOf(png, ax, Math.floor(layout.ap.yToPixel(p.ap))), [...PLOT_COLORS.ap], `AP at epoch ${p.epoch}`);
    t.deepEqual(pixelOf(png, ax, Math.floor(layout.ap.yToPixel(p.ap50 as number))), [...PLOT_COLORS.ap50], `AP50 at epoch ${p.epoch}`);
  }
  // Half-way between the first two loss points the line passes: the pixel there is mostly line colour.
  const mx = (layout.loss.xToPixel(1) + layout.loss.xToPixel(2)) / 2, my = (layout.loss.yToPixel(2.4) + layout.loss.yToPixel(1.6)) / 2;
  const mid = pixelOf(png, Math.floor(mx), Math.floor(my));
  t.true(dist(mid, PLOT_COLORS.loss) < dist(mid, PLOT_COLORS.background), `midpoint ${mid}`);
  // Far from any data (the bottom-left of the loss area, under a falling curve) is background or grid.
  const corner = pixelOf(png, layout.loss.left + 3, layout.loss.bottom - 3);
  t.true([PLOT_COLORS.background, PLOT_COLORS.grid].some((c) => dist(corner, c) === 0), `corner ${corner}`);
});

test('plot: the SVG labels its axes, panels and ticks, and the text is drawn as ink', async (t) => {
  const svg = trainingPlotSvg(history);
  const layout = plotLayout(history);
  const labels = [PLOT_LABELS.title, PLOT_LABELS.lossPanel, PLOT_LABELS.apPanel, PLOT_LABELS.xAxis, PLOT_LABELS.lossAxis, PLOT_LABELS.apAxis];
  for (const s of labels) t.true(svg.includes(`>${escapeXml(s)}</text>`), s);
  for (const p of [layout.loss, layout.ap]) {
    for (const v of p.yTicks) t.true(svg.includes(`>${v.toFixed(p.yDecimals)}</text>`), `y tick ${v}`);
    for (const v of p.xTicks) t.true(svg.includes(`>${v.toFixed(p.xDecimals)}</text>`), `x tick ${v}`);
  }
  const png = await decodePng(await renderTrainingPlot(history));
  // The title, centred above the panels, puts dark pixels in its band (whatever font fontconfig picks).
  t.true(countPixels(png, 300, 6, 500, 34, (p) => dist(p, PLOT_COLORS.text) < 120) > 100, 'title ink');
  // So do the x tick labels under the loss panel.
  const lp = layout.loss;
  t.true(countPixels(png, lp.left - 10, lp.bottom + 6, lp.right + 10, lp.bottom + 22, (p) => dist(p, PLOT_COLORS.text) < 120) > 20, 'tick ink');
});

test('plot: one epoch, no evaluation yet, constant series and an empty history draw without NaN', async (t) => {
  const cases: TrainingPoint[][] = [
    [{ epoch: 1, loss: 1.7 }],
    [{ epoch: 1, loss: 3 }, { epoch: 2, loss: 3 }, { epoch: 3, loss: 3 }],
    [{ epoch: 1, loss: 0, ap: 0, ap50: 0 }, { epoch: 2, loss: 0, ap: 0, ap50: 0 }],
    [{ epoch: 1, loss: 2, ap: NaN }],
    [],
  ];
  for (const h of cases) {
    const layout = plotLayout(h);
    for (const panel of [layout.loss, layout.ap]) {
      t.true(panel.yDomain[1] > panel.yDomain[0] && panel.xDomain[1] > panel.xDomain[0]);
      for (const v of [...panel.xTicks.map(panel.xToPixel), ...panel.yTicks.map(panel.yToPixel)]) t.true(Number.isFinite(v));
    }
    const svg = trainingPlotSvg(h);
    t.false(/NaN|Infinity/.test(svg));
    t.is(svg.includes(PLOT_LABELS.noEvaluation), !h.some((p) => Number.isFinite(p.ap)));
    if (h.length === 0) continue;
    const png = await decodePng(await renderTrainingPlot(h));
    for (const p of h) {
      const x = Math.floor(layout.loss.xToPixel(p.epoch)), y = Math.floor(layout.loss.yToPixel(p.loss));
      t.true(y >= layout.loss.top && y < layout.loss.bottom && x >= layout.loss.left && x < layout.loss.right);
      t.deepEqual(pixelOf(png, x, y), [...PLOT_COLORS.loss]);
    }
  }
  // A constant series sits strictly inside its axis, not on an edge.
  const c = plotLayout(cases[1]!).loss;
  t.true(c.yDomain[0] < 3 && c.yDomain[1] > 3);
  // An all-zero AP gets the [0, 1] axis.
  t.deepEqual(plotLayout(cases[2]!).ap.yDomain, [0, 1]);
  const file = path.join(tmp, 'one.png');
  await writeTrainingPlot(file, cases[0]!, { width: 640, height: 320 });
  const png = await decodePng(file);
  t.deepEqual([png.width, png.height], [640, 320]);
});

test('plot: per-step losses alone (a run shorter than one epoch) are drawn where the mapping puts them', async (t) => {
  const steps = [{ epoch: 0.25, loss: 3.1 }, { epoch: 0.5, loss: 2.2 }, { epoch: 0.75, loss: 2.6 }];
  const layout = plotLayout([], { steps });
  const lp = layout.loss;
  t.is(lp.xDomain[0], 0, 'the first epoch starts the axis at 0');
  t.true(lp.xDomain[1] > 0.75 && lp.yDomain[0] <= 2.2 && lp.yDomain[1] >= 3.1);
  t.true(lp.xTicks.length >= 3 && lp.xDecimals > 0, `ticks ${lp.xTicks}`);
  const svg = trainingPlotSvg([], { steps });
  for (const v of lp.xTicks) t.true(svg.includes(`>${v.toFixed(lp.xDecimals)}</text>`), `fractional tick ${v}`);
  t.true(svg.includes('>loss per step</text>') && svg.includes(`>${PLOT_LABELS.xAxis}</text>`) && svg.includes(`>${PLOT_LABELS.lossAxis}</text>`));
  const img = await decodePng(await renderTrainingPlot([], { steps }));
  for (const p of steps) {
    const x = Math.floor(lp.xToPixel(p.epoch)), y = Math.floor(lp.yToPixel(p.loss));
    t.deepEqual(pixelOf(img, x, y), [...PLOT_COLORS.stepLoss], `step at ${p.epoch}`);
  }
  const near = (color: readonly number[]) => (p: number[]) => dist(p, color) < 40;
  const inArea = (im: typeof img, pred: (p: number[]) => boolean) => countPixels(im, lp.left + 1, lp.top + 1, lp.right - 1, lp.bottom - 1, pred);
  t.true(inArea(img, near(PLOT_COLORS.stepLoss)) > 50, 'the step line and markers');
  // Without the steps nothing is drawn in the loss area, and it says so.
  const blankSvg = trainingPlotSvg([]);
  t.true(blankSvg.includes(`>${PLOT_LABELS.noLoss}</text>`));
  const blankPlot = await decodePng(Buffer.from(await renderTrainingPlot([])));
  t.is(inArea(blankPlot, near(PLOT_COLORS.stepLoss)) + inArea(blankPlot, near(PLOT_COLORS.loss)), 0);
  // With epoch means as well, both series are drawn on the shared epoch axis (means at the epoch's end).
  const both = [{ epoch: 1, loss: 2.5 }, { epoch: 2, loss: 1.5 }];
  const more = [...steps, { epoch: 1, loss: 2.4 }, { epoch: 1.5, loss: 1.2 }, { epoch: 2, loss: 1.8 }];
  const l2 = plotLayout(both, { steps: more });
  const img2 = await decodePng(await renderTrainingPlot(both, { steps: more }));
  for (const p of both) t.deepEqual(pixelOf(img2, Math.floor(l2.loss.xToPixel(p.epoch)), Math.floor(l2.loss.yToPixel(p.loss))), [...PLOT_COLORS.loss]);
  t.deepEqual(pixelOf(img2, Math.floor(l2.loss.xToPixel(1.5)), Math.floor(l2.loss.yToPixel(1.2))), [...PLOT_COLORS.stepLoss]);
});

test('plot: a title with markup characters is escaped and still renders', async (t) => {
  const svg = trainingPlotSvg(history, { title: '<b>&"run\'s' });
  t.true(svg.includes('>&lt;b&gt;&amp;&quot;run&apos;s</text>'));
  t.false(svg.includes('<b>'));
  const png = await decodePng(await renderTrainingPlot(history, { title: '<b>&"run\'s' }));
  t.deepEqual([png.width, png.height], [800, 400]);
  t.true(countPixels(png, 300, 6, 500, 34, (p) => dist(p, PLOT_COLORS.text) < 120) > 50, 'title ink');
});

// ---------------------------------------------------------------- detections

const filled = (w: number, h: number, v: number): RgbImage => ({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h, channels: 3 });
const categories = [{ id: 1, name: 'a' }, { id: 7, name: 'cell' }];
const inside = (r: LabelRect, x: number, y: number) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
const overlaps = (a: LabelRect, b: LabelRect) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('draw: a box has its category colour exactly on its outline, the image elsewhere, and its label on a band above it', async (t) => {
  const image = filled(96, 64, 0);
  const file = path.join(tmp, 'dets.png');
  const det = { bbox: [10, 30, 30, 20] as [number, number, number, number], score: 0.87, categoryId: 7 };
  const faint = { bbox: [60, 10, 20, 20] as [number, number, number, number], score: 0.1, categoryId: 1 };
  await writeDetectionsImage(image, [det, faint], categories, file, { scoreThreshold: 0.3 });
  t.true(image.data.every((v) => v === 0), 'the input image is not modified');
  const png = await decodePng(file);
  t.deepEqual([png.width, png.height, png.channels], [96, 64, 3]);
  const color = [...categoryColor(7, categories)];
  t.deepEqual(color, [...CATEGORY_PALETTE[1]!]);

  const drawing = detectionsDrawing(96, 64, [det, faint], categories, { scoreThreshold: 0.3 });
  t.is(drawing.lineWidth, 2);
  t.is(drawing.boxes.length, 1, 'the detection below the threshold is not drawn');
  t.is(drawing.labels.length, 1);
  const { rect, text } = drawing.labels[0]!;
  t.is(text, 'cell 0.87');
  t.deepEqual([rect.x, rect.y + rect.height], [10, 30], 'the label sits on the box, left-aligned');
  // The box covers x in [10, 40), y in [30, 50). Everything but its outline and the label is untouched.
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 96; x++) {
      if (inside(rect, x, y)) continue;
      const inBox = x >= 10 && x < 40 && y >= 30 && y < 50;
      const onOutline = inBox && (x < 12 || x >= 38 || y < 32 || y >= 48);
      t.deepEqual(pixelOf(png, x, y), onOutline ? color : [0, 0, 0], `${x},${y}`);
    }
  }
  // The band has the category colour at its corners and white or black text in between.
  for (const [x, y] of [[rect.x, rect.y], [rect.x + rect.width - 1, rect.y + rect.height - 1]] as const) t.deepEqual(pixelOf(png, x, y), color);
  const textInk = countPixels(png, rect.x, rect.y, rect.x + rect.width, rect.y + rect.height, (p) => dist(p, [255, 255, 255]) < 60 || dist(p, [0, 0, 0]) < 60);
  t.true(textInk > 15, `text ink ${textInk}`);
});

test('draw: boxes are clipped to the image', async (t) => {
  t.deepEqual(boxPixels([50, 40, 30, 30], 64, 48), [50, 40, 64, 48]);
  t.is(boxPixels([70, 10, 5, 5], 64, 48), null);
  t.is(boxPixels([NaN, 10, 5, 5], 64, 48), null);
  const dets = [{ bbox: [50, 40, 30, 30], score: 0.5, categoryId: 1 }, { bbox: [-5, -5, 200, 200], score: 0.2, categoryId: 3 }];
  const png = await decodePng(await renderDetections(filled(64, 48, 0), dets, categories, { fontSize: 8 }));
  const labels = detectionsDrawing(64, 48, dets, categories, { fontSize: 8 }).labels.map((l) => l.rect);
  const free = (x: number, y: number) => labels.every((r) => !inside(r, x, y));
  const color = [...categoryColor(1, categories)];
  t.true(free(62, 45) && free(0, 47));
  t.deepEqual(pixelOf(png, 62, 45), color);
  t.deepEqual(pixelOf(png, 63, 45), color);
  // The whole-image box of an unlisted category (drawn first: lower score): its outline is the image border.
  t.deepEqual(pixelOf(png, 0, 47), [...categoryColor(3, categories)]);
});

/** Checks the layout's promises: inside the image, disjoint, touching the box's columns and near it. */
function checkLayout(t: import('ava').ExecutionContext, requests: LabelRequest[], rects: (LabelRect | null)[], W: number, H: number): void {
  t.is(rects.length, requests.length);
  const placed = rects.filter((r): r is LabelRect => r !== null);
  for (const [i, r] of rects.entries()) {
    if (!r) continue;
    const [x0, y0, x1, y1] = requests[i]!.box;
    t.true(r.x >= 0 && r.y >= 0 && r.x + r.width <= W && r.y + r.height <= H, `label ${i} inside the image`);
    t.is(r.width, Math.min(Math.ceil(requests[i]!.width), W));
    t.true(r.x + r.width >= x0 && r.x <= x1 && r.y + r.height >= y0 - 3 * r.height && r.y <= y1 + 3 * r.height, `label ${i} near its box`);
  }
  for (let i = 0; i < placed.length; i++) for (let j = i + 1; j < placed.length; j++) t.false(overlaps(placed[i]!, placed[j]!), `labels ${i} and ${j}`);
}

test('layoutLabels: above the box, then inside or below on collision, clamped into the image, never overlapping', (t) => {
  const size = { width: 100, height: 100 };
  const req = (box: [number, number, number, number], width = 30, height = 10): LabelRequest => ({ box, width, height });
  t.deepEqual(layoutLabels([req([20, 40, 60, 80])], size), [{ x: 20, y: 30, width: 30, height: 10 }]);
  // No room above: inside the top edge. At the right edge: shifted left. Wider than the image: cut to it.
  t.deepEqual(layoutLabels([req([20, 4, 60, 40])], size), [{ x: 20, y: 0, width: 30, height: 10 }]);
  t.deepEqual(layoutLabels([req([90, 40, 100, 60])], size), [{ x: 70, y: 30, width: 30, height: 10 }]);
  t.deepEqual(layoutLabels([req([20, 40, 60, 80], 500)], size), [{ x: 0, y: 30, width: 100, height: 10 }]);
  // The same box twice: the second label goes inside the box's top edge, then below it, then stacks.
  const same = Array.from({ length: 5 }, () => req([20, 40, 60, 80]));
  const rects = layoutLabels(same, size);
  t.deepEqual(rects.slice(0, 3).map((r) => r && [r.x, r.y]), [[20, 30], [20, 40], [20, 80]]);
  checkLayout(t, same, rects, 100, 100);
  t.true(rects.every((r) => r !== null));

  // A crowd: 40 copies of one box and 150 random boxes, labels kept apart and near their boxes.
  const crowd = Array.from({ length: 40 }, () => req([50, 50, 120, 110], 50, 12));
  const crowdRects = layoutLabels(crowd, { width: 200, height: 150 });
  checkLayout(t, crowd, crowdRects, 200, 150);
  t.true(crowdRects.filter(Boolean).length >= 8, `${crowdRects.filter(Boolean).length} placed`);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const many = Array.from({ length: 150 }, () => {
    const x0 = Math.floor(rand() * 300), y0 = Math.floor(rand() * 220);
    return req([x0, y0, Math.min(320, x0 + 5 + Math.floor(rand() * 80)), Math.min(240, y0 + 5 + Math.floor(rand() * 60))], 20 + rand() * 60, 11 + Math.floor(rand() * 6));
  });
  const start = performance.now();
  const manyRects = layoutLabels(many, { width: 320, height: 240 });
  t.true(performance.now() - start < 2000, 'fast enough for a crowded image');
  checkLayout(t, many, manyRects, 320, 240);
  t.true(manyRects.filter(Boolean).length >= 40);
});

test('draw: crowded boxes get disjoint labels, and the text stays on its background', async (t) => {
  const W = 240, H = 160;
  const cats = [{ id: 1, name: 'person' }, { id: 2, name: 'Wide WWW label' }, { id: 3, name: 'a-very-long-category-name-that-is-cut' }, { id: 4, name: 'mi' }];
  const dets = Array.from({ length: 12 }, (_, i) => ({
    bbox: [40 + 6 * i, 50 + 3 * i, 80, 60], score: 0.95 - 0.05 * i, categoryId: 1 + (i % 4),
  }));
  const drawing = detectionsDrawing(W, H, dets, cats);
  t.true(drawing.labels.length >= 6, `${drawing.labels.length} labels`);
  t.true(drawing.labels.some((l) => l.text.startsWith('a-very') && l.text.includes('… ')), 'a long name is shortened');
  const rects = drawing.labels.map((l) => l.rect);
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) t.false(overlaps(rects[i]!, rects[j]!), `labels ${i}, ${j}`);
  const png = await decodePng(await renderDetections(filled(W, H, 128), dets, cats));
  // Outside the label bands every pixel is the image's grey or exactly a box colour: no text spills out.
  const boxColors = drawing.boxes.map((b) => b.color.join());
  let stray = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (rects.some((r) => inside(r, x, y))) continue;
      const p = pixelOf(png, x, y).join();
      if (p !== '128,128,128' && !boxColors.includes(p)) stray++;
    }
  }
  t.is(stray, 0);
  // Every band is drawn in its colour and holds text in its contrasting colour.
  for (const l of drawing.labels) {
    const r = l.rect;
    t.deepEqual(pixelOf(png, r.x, r.y), [...l.background]);
    t.deepEqual(pixelOf(png, r.x + r.width - 1, r.y + r.height - 1), [...l.background]);
    t.true(countPixels(png, r.x, r.y, r.x + r.width, r.y + r.height, (p) => dist(p, l.color) < 60) > 10, `text of ${l.text}`);
  }
});

test('draw: category names with markup characters are escaped and render', async (t) => {
  t.is(escapeXml('<b>&"\''), '&lt;b&gt;&amp;&quot;&apos;');
  t.is(escapeXml('a\u0000b\u0007c\td\u{1F600}'), 'abc\td\u{1F600}', 'controls dropped, tab and astral characters kept');
  t.is(escapeXml('x\ud800y'), 'xy', 'an unpaired surrogate is dropped');
  const cats = [{ id: 1, name: '<b>&"' }, { id: 2, name: 'ctl\u0001x' }];
  const dets = [{ bbox: [10, 30, 60, 40], score: 0.9, categoryId: 1 }, { bbox: [100, 30, 40, 40], score: 0.8, categoryId: 2 }];
  const svg = detectionsSvg(160, 90, dets, cats);
  t.true(svg.includes('>&lt;b&gt;&amp;&quot; 0.90</text>'));
  t.false(svg.includes('<b>'));
  t.false(svg.includes('\u0001'));
  const png = await decodePng(await renderDetections(filled(160, 90, 128), dets, cats));
  t.deepEqual([png.width, png.height], [160, 90]);
  const label = detectionsDrawing(160, 90, dets, cats).labels[0]!;
  const r = label.rect;
  t.true(countPixels(png, r.x, r.y, r.x + r.width, r.y + r.height, (p) => dist(p, label.color) < 60) > 10, 'the escaped name is drawn');
});

test('draw: label size follows the image size; long text is shortened to fit', (t) => {
  t.is(labelFontSize(96, 64), 11);
  t.is(labelFontSize(640, 480), 16);
  t.is(labelFontSize(1920, 1080), 36);
  t.is(labelFontSize(8000, 6000), 48);
  const big = detectionsDrawing(1280, 960, [{ bbox: [100, 200, 300, 300], score: 0.5, categoryId: 7 }], categories);
  t.true(big.labels[0]!.rect.height >= 32 && big.lineWidth >= 3, `label ${JSON.stringify(big.labels[0]!.rect)}, line ${big.lineWidth}`);
  t.true(textWidth('WWW', 10) > textWidth('iii', 10));
  const cut = fitText('abcdefghijklmnopqrstuvwxyz', 10, 60);
  t.true(cut.endsWith('…') && textWidth(cut, 10) <= 60 && cut.length > 3, cut);
  t.is(fitText('short', 10, 100), 'short');
  // Even a name too long for the image leaves the score visible, inside the image.
  const narrow = detectionsDrawing(60, 40, [{ bbox: [5, 20, 20, 10], score: 0.42, categoryId: 1 }], [{ id: 1, name: 'x'.repeat(80) }], { fontSize: 11 });
  t.true(narrow.labels[0]!.text.endsWith(' 0.42') || narrow.labels[0]!.text === '0.42');
  t.true(narrow.labels[0]!.rect.x + narrow.labels[0]!.rect.width <= 60);
});

test('toCocoResults: COCO result objects', (t) => {
  t.deepEqual(toCocoResults(5, [{ bbox: [1.234567, 2, 3.5, 4.25], score: 0.9876543, categoryId: 7 }]), [
    { image_id: 5, category_id: 7, bbox: [1.23, 2, 3.5, 4.25], score: 0.98765 },
  ]);
  t.deepEqual(toCocoResults(1, []), []);
});
