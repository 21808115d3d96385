// The CLI's visuals: progress lines against hand-written expected output under an injected clock,
// the training plot's pixels where its axis mapping puts the data, detection boxes' outline pixels
// at the box edges, and the bitmap font's coverage of everything the code draws.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { formatCompact, formatDuration, ProgressReporter, type ProgressStream } from '../lib/cli/progress';
import { PLOT_COLORS, PLOT_STRINGS, plotLayout, renderTrainingPlot, writeTrainingPlot, type TrainingPoint } from '../lib/cli/plot';
import { boxPixels, CATEGORY_PALETTE, categoryColor, toCocoResults, writeDetectionsImage } from '../lib/cli/draw';
import { FONT_HEIGHT, FONT_WIDTH, GLYPH_ROW_STRINGS, GLYPHS } from '../lib/cli/font5x7';
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

async function decodePng(file: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

const pixelOf = (img: { data: Uint8Array | Buffer; width: number }, x: number, y: number) => {
  const o = 3 * (y * img.width + x);
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
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
  const last = stream.chunks[stream.chunks.length - 1];
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
  t.regex(stream.chunks[1], /^\r\x1b\[2Ktrain /);
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
  t.is([...stream.chunks[0].replace('\r\x1b[2K', '')].length, 39);
});

// ---------------------------------------------------------------- plot

const history: TrainingPoint[] = [
  { epoch: 1, loss: 2.4, ap: 0.05, ap50: 0.12 },
  { epoch: 2, loss: 1.6, ap: 0.14, ap50: 0.3 },
  { epoch: 3, loss: 1.1 },
  { epoch: 4, loss: 0.9, ap: 0.31, ap50: 0.55 },
];

test('plot: the PNG has the asked size and the data points where the axis mapping puts them', async (t) => {
  const file = path.join(tmp, 'training.png');
  await writeTrainingPlot(file, history);
  const png = await decodePng(file);
  t.is(png.width, 800);
  t.is(png.height, 400);
  t.is(png.channels, 3);

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
  const dist = (a: number[], b: readonly number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  t.true(dist(mid, PLOT_COLORS.loss) < dist(mid, PLOT_COLORS.background), `midpoint ${mid}`);
  // Far from any data (the bottom-left of the loss area, under a falling curve) is background or grid.
  const corner = pixelOf(png, layout.loss.left + 3, layout.loss.bottom - 3);
  t.true([PLOT_COLORS.background, PLOT_COLORS.grid].some((c) => dist(corner, c) === 0), `corner ${corner}`);
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
    for (const p of h) {
      const x = Math.floor(layout.loss.xToPixel(p.epoch)), y = Math.floor(layout.loss.yToPixel(p.loss));
      t.true(y >= layout.loss.top && y < layout.loss.bottom && x >= layout.loss.left && x < layout.loss.right);
      t.deepEqual(pixelOf(renderTrainingPlot(h), x, y), [...PLOT_COLORS.loss]);
    }
  }
  // A constant series sits strictly inside its axis, not on an edge.
  const c = plotLayout(cases[1]).loss;
  t.true(c.yDomain[0] < 3 && c.yDomain[1] > 3);
  // An all-zero AP gets the [0, 1] axis.
  t.deepEqual(plotLayout(cases[2]).ap.yDomain, [0, 1]);
  const file = path.join(tmp, 'one.png');
  await writeTrainingPlot(file, cases[0], { width: 640, height: 320 });
  const png = await decodePng(file);
  t.deepEqual([png.width, png.height], [640, 320]);
});

test('plot: per-step losses alone (a run shorter than one epoch) are drawn where the mapping puts them', (t) => {
  const steps = [{ epoch: 0.25, loss: 3.1 }, { epoch: 0.5, loss: 2.2 }, { epoch: 0.75, loss: 2.6 }];
  const layout = plotLayout([], { steps });
  t.is(layout.loss.xDomain[0], 0, 'the first epoch starts the axis at 0');
  t.true(layout.loss.xDomain[1] > 0.75 && layout.loss.yDomain[0] <= 2.2 && layout.loss.yDomain[1] >= 3.1);
  t.true(layout.loss.xTicks.length >= 3 && layout.loss.xDecimals > 0, `ticks ${layout.loss.xTicks}`);
  const img = renderTrainingPlot([], { steps }).toImage();
  for (const p of steps) {
    const x = Math.floor(layout.loss.xToPixel(p.epoch)), y = Math.floor(layout.loss.yToPixel(p.loss));
    t.deepEqual(pixelOf(img, x, y), [...PLOT_COLORS.stepLoss], `step at ${p.epoch}`);
  }
  // Without the steps the same history draws no loss at all: that was the blank training.png.
  const blankPlot = renderTrainingPlot([]).toImage();
  const lossPixels = (im: RgbImage, color: readonly number[]) => {
    let n = 0;
    for (let y = layout.loss.top; y < layout.loss.bottom; y++) {
      for (let x = layout.loss.left; x < layout.loss.right; x++) if (pixelOf(im, x, y).join() === color.join()) n++;
    }
    return n;
  };
  t.is(lossPixels(blankPlot, PLOT_COLORS.stepLoss) + lossPixels(blankPlot, PLOT_COLORS.loss), 0);
  t.true(lossPixels(img, PLOT_COLORS.stepLoss) > 50);
  // With epoch means as well, both series are drawn on the shared epoch axis (means at the epoch's end).
  const both = [{ epoch: 1, loss: 2.5 }, { epoch: 2, loss: 1.5 }];
  const more = [...steps, { epoch: 1, loss: 2.4 }, { epoch: 1.5, loss: 1.2 }, { epoch: 2, loss: 1.8 }];
  const l2 = plotLayout(both, { steps: more });
  const img2 = renderTrainingPlot(both, { steps: more }).toImage();
  for (const p of both) t.deepEqual(pixelOf(img2, Math.floor(l2.loss.xToPixel(p.epoch)), Math.floor(l2.loss.yToPixel(p.loss))), [...PLOT_COLORS.loss]);
  t.deepEqual(pixelOf(img2, Math.floor(l2.loss.xToPixel(1.5)), Math.floor(l2.loss.yToPixel(1.2))), [...PLOT_COLORS.stepLoss]);
});

// ---------------------------------------------------------------- detections

const blank = (w: number, h: number): RgbImage => ({ data: new Uint8Array(w * h * 3), width: w, height: h, channels: 3 });
const categories = [{ id: 1, name: 'a' }, { id: 7, name: 'cell' }];

test('draw: a box has its category colour exactly on its 2-pixel outline and background inside', async (t) => {
  const image = blank(96, 64);
  const file = path.join(tmp, 'dets.png');
  const det = { bbox: [10, 30, 30, 20] as [number, number, number, number], score: 0.87, categoryId: 7 };
  const faint = { bbox: [60, 10, 20, 20] as [number, number, number, number], score: 0.1, categoryId: 1 };
  await writeDetectionsImage(image, [det, faint], categories, file, { scoreThreshold: 0.3 });
  t.true(image.data.every((v) => v === 0), 'the input image is not modified');
  const png = await decodePng(file);
  t.deepEqual([png.width, png.height], [96, 64]);
  const color = [...categoryColor(7, categories)];
  t.deepEqual(color, [...CATEGORY_PALETTE[1]]);
  // The box covers x in [10, 40), y in [30, 50).
  for (let y = 25; y < 58; y++) {
    for (let x = 5; x < 45; x++) {
      const inBox = x >= 10 && x < 40 && y >= 30 && y < 50;
      const onOutline = inBox && (x < 12 || x >= 38 || y < 32 || y >= 48);
      if (onOutline) t.deepEqual(pixelOf(png, x, y), color, `outline ${x},${y}`);
      else if (y >= 30) t.deepEqual(pixelOf(png, x, y), [0, 0, 0], `background ${x},${y}`);
    }
  }
  // The label "cell 0.87" sits on a filled band just above the box, in white or black text.
  const labelRow = 30 - 11; // line height 9 + 1 px padding each side, at scale 1
  t.deepEqual(pixelOf(png, 10, labelRow), color);
  const band: number[][] = [];
  for (let y = labelRow; y < 30; y++) for (let x = 10; x < 10 + 9 * 6 + 1; x++) band.push(pixelOf(png, x, y));
  t.true(band.some((p) => p.join() === '255,255,255' || p.join() === '0,0,0'), 'label text');
  t.true(band.every((p) => p.join() === color.join() || p.join() === '255,255,255' || p.join() === '0,0,0'));
  // The detection below the score threshold is not drawn.
  for (let x = 66; x < 80; x++) t.deepEqual(pixelOf(png, x, 29), [0, 0, 0]); // its bottom edge, right of the other label
});

test('draw: boxes are clipped to the image', async (t) => {
  t.deepEqual(boxPixels([50, 40, 30, 30], 64, 48), [50, 40, 64, 48]);
  t.is(boxPixels([70, 10, 5, 5], 64, 48), null);
  t.is(boxPixels([NaN, 10, 5, 5], 64, 48), null);
  const file = path.join(tmp, 'clip.png');
  await writeDetectionsImage(blank(64, 48), [{ bbox: [50, 40, 30, 30], score: 0.5, categoryId: 1 }, { bbox: [-5, -5, 200, 200], score: 0.2, categoryId: 3 }], categories, file);
  const png = await decodePng(file);
  const color = [...categoryColor(1, categories)];
  t.deepEqual(pixelOf(png, 62, 45), color);
  t.deepEqual(pixelOf(png, 63, 45), color);
  // The whole-image box of an unlisted category (drawn first: lower score): its outline is the image border.
  t.deepEqual(pixelOf(png, 0, 47), [...categoryColor(3, categories)]);
});

test('toCocoResults: COCO result objects', (t) => {
  t.deepEqual(toCocoResults(5, [{ bbox: [1.234567, 2, 3.5, 4.25], score: 0.9876543, categoryId: 7 }]), [
    { image_id: 5, category_id: 7, bbox: [1.23, 2, 3.5, 4.25], score: 0.98765 },
  ]);
  t.deepEqual(toCocoResults(1, []), []);
});

// ---------------------------------------------------------------- font

test('font: well-formed distinct glyphs covering every character the visuals draw', (t) => {
  const seen = new Map<string, string>();
  for (const [ch, rows] of Object.entries(GLYPH_ROW_STRINGS)) {
    const list = rows.split(' ');
    t.is(list.length, FONT_HEIGHT, ch);
    for (const r of list) t.regex(r, new RegExp(`^[.#]{${FONT_WIDTH}}$`), ch);
    t.false(seen.has(rows), `'${ch}' draws like '${seen.get(rows)}'`);
    seen.set(rows, ch);
  }
  const used = new Set<string>([...PLOT_STRINGS.join(''), ...'0123456789.-', ...' .0123456789']);
  // Tick labels of a range of layouts, and category-label text.
  for (const scale of [1e-3, 0.05, 1, 7, 250, 12_000]) {
    const layout = plotLayout([{ epoch: 1, loss: scale }, { epoch: 40, loss: scale * 3, ap: 0.02, ap50: 0.04 }]);
    for (const p of [layout.loss, layout.ap]) {
      for (const v of p.yTicks) for (const ch of v.toFixed(p.yDecimals)) used.add(ch);
      for (const v of p.xTicks) for (const ch of String(v)) used.add(ch);
    }
  }
  for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_()/:%') used.add(ch);
  for (const ch of used) t.true(GLYPHS.has(ch), `glyph for '${ch}'`);
});
