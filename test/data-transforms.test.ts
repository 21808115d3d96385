// Augmentation geometry against hand-computed closed forms, pixels against the boxes that
// describe them, and determinism under a seed.
import test from 'ava';
import {
  compose, cropBoxes, cropImage, detrTrainAugmentation, flipBoxes, flipImage, mulberry32, randomCrop,
  randomHorizontalFlip, resizeImage, resizeShortestEdge, sampleAbsoluteRangeCrop, scaleBoxes, shortestEdgeSize,
  type AugSample, type RgbImage,
} from '../lib/data/index';

/** An rng that returns these values in turn (to drive one branch deterministically). */
const scripted = (...values: number[]) => {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error('scripted rng exhausted');
    return values[i++]!;
  };
};

/** A black W×H image with a white axis-aligned rectangle [x1, x2) × [y1, y2) (integers). */
function rectImage(w: number, h: number, rect: [number, number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = rect[1]; y < rect[3]; y++) data.fill(255, 3 * (y * w + rect[0]), 3 * (y * w + rect[2]));
  return { data, width: w, height: h, channels: 3 };
}

/** Tight pixel bounds [x1, y1, x2, y2) of pixels brighter than `threshold` in channel 0. */
function brightBounds(img: RgbImage, threshold = 127): number[] | null {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      if (img.data[3 * (y * img.width + x)]! > threshold) {
        x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x + 1); y2 = Math.max(y2, y + 1);
      }
    }
  }
  return x1 === Infinity ? null : [x1, y1, x2, y2];
}

test('flipBoxes: x1 -> W - x2, x2 -> W - x1, y unchanged', (t) => {
  const boxes = new Float32Array([10, 20, 30, 40, 0, 0, 100, 50, 99.5, 1, 100, 2]);
  t.deepEqual(Array.from(flipBoxes(boxes, 100)), [70, 20, 90, 40, 0, 0, 100, 50, 0, 1, 0.5, 2]);
  t.deepEqual(Array.from(flipBoxes(flipBoxes(boxes, 100), 100)), Array.from(boxes), 'an involution');
});

test('scaleBoxes multiplies x by sx and y by sy', (t) => {
  t.deepEqual(Array.from(scaleBoxes(new Float32Array([10, 20, 30, 40]), 2, 0.5)), [20, 10, 60, 20]);
});

test('shortestEdgeSize: detectron2 get_output_shape with int(x + 0.5)', (t) => {
  // 480x640 (h x w), short 800, max 1333: scale 800/480 -> 800 x 1066.67 -> (800, 1067).
  t.deepEqual(shortestEdgeSize(480, 640, 800, 1333), [800, 1067]);
  // Portrait 640x480: the width is the short side -> (1067, 800).
  t.deepEqual(shortestEdgeSize(640, 480, 800, 1333), [1067, 800]);
  // 1000x3000, short 800 -> 800 x 2400 > 1333: x 1333/2400 -> 444.33 x 1333 -> (444, 1333).
  t.deepEqual(shortestEdgeSize(1000, 3000, 800, 1333), [444, 1333]);
  // Rounding half up: 3x5 with short 3 -> 3 x 5; 2x5 short 3 -> 3 x 7.5 -> 8.
  t.deepEqual(shortestEdgeSize(2, 5, 3), [3, 8]);
  // Square: both sides equal the short length.
  t.deepEqual(shortestEdgeSize(500, 500, 512, 1333), [512, 512]);
  // 333x500 short 480: 480 x 720.72 -> (480, 721).
  t.deepEqual(shortestEdgeSize(333, 500, 480, 1333), [480, 721]);
});

test('cropBoxes: shift by the window, clip to it, drop boxes left without area', (t) => {
  const boxes = new Float32Array([
    10, 10, 50, 50, // partly inside a (20, 30, 40x30) window
    25, 35, 35, 45, // wholly inside
    0, 0, 15, 100, // left of the window: emptied
    20, 60, 60, 80, // touches the bottom edge y = 60 only: emptied
  ]);
  const { boxes: out, keep } = cropBoxes(boxes, 20, 30, 40, 30);
  t.deepEqual(keep, [0, 1]);
  t.deepEqual(Array.from(out), [0, 0, 30, 20, 5, 5, 15, 15]);
});

test('sampleAbsoluteRangeCrop: sizes within [min(h,lo), min(h,hi)], window inside the image, 4 draws', (t) => {
  const rng = mulberry32(7);
  const seenH = new Set<number>(), seenW = new Set<number>();
  for (let k = 0; k < 2000; k++) {
    const c = sampleAbsoluteRangeCrop(500, 700, 384, 600, rng);
    t.true(c.height >= 384 && c.height <= 500, `height ${c.height}`);
    t.true(c.width >= 384 && c.width <= 600, `width ${c.width}`);
    t.true(c.x0 >= 0 && c.x0 + c.width <= 700 && c.y0 >= 0 && c.y0 + c.height <= 500);
    seenH.add(c.height);
    seenW.add(c.width);
  }
  t.true(seenH.has(384) && seenH.has(500), 'both ends of the height range occur');
  t.true(seenW.has(384) && seenW.has(600), 'both ends of the width range occur');
  // Closed form with scripted draws: ch = 384 + floor(0.5 * 117) = 442, cw = 384 + floor(0.25 * 217) = 438,
  // y0 = floor(0.999 * (500 - 442 + 1)) = 58, x0 = floor(0 * ...) = 0.
  t.deepEqual(sampleAbsoluteRangeCrop(500, 700, 384, 600, scripted(0.5, 0.25, 0.999, 0)),
    { x0: 0, y0: 58, width: 438, height: 442 });
  // An image smaller than the range: the crop is the whole image.
  t.deepEqual(sampleAbsoluteRangeCrop(200, 300, 384, 600, scripted(0.9, 0.9, 0.9, 0.9)), { x0: 0, y0: 0, width: 300, height: 200 });
});

test('flipImage and cropImage move pixels exactly as the boxes move', (t) => {
  const img = rectImage(40, 30, [5, 7, 12, 20]);
  t.deepEqual(brightBounds(flipImage(img)), Array.from(flipBoxes(new Float32Array([5, 7, 12, 20]), 40)));
  const cropped = cropImage(img, 8, 10, 20, 15);
  t.is(cropped.width, 20);
  t.is(cropped.height, 15);
  t.deepEqual(brightBounds(cropped), Array.from(cropBoxes(new Float32Array([5, 7, 12, 20]), 8, 10, 20, 15).boxes));
  t.throws(() => cropImage(img, 30, 0, 20, 10), { instanceOf: RangeError, message: /crop: window/ });
});

test('resizeImage keeps a constant image constant and a box in place (to a pixel)', async (t) => {
  const flat: RgbImage = { data: new Uint8Array(31 * 17 * 3).fill(77), width: 31, height: 17, channels: 3 };
  const up = await resizeImage(flat, 50, 40);
  t.is(up.data.length, 50 * 40 * 3);
  t.true(up.data.every((v) => v === 77));
  const img = rectImage(64, 48, [16, 12, 40, 36]);
  const out = await resizeImage(img, 96, 72); // x 1.5: the box becomes [24, 18, 60, 54]
  const b = brightBounds(out) as number[];
  const expected = [24, 18, 60, 54];
  b.forEach((v, i) => t.true(Math.abs(v - expected[i]!) <= 1, `edge ${i}: ${v} vs ${expected[i]}`));
});

const sample = (img: RgbImage, boxes: number[]): AugSample => ({
  image: img,
  boxes: new Float32Array(boxes),
  labels: Int32Array.from({ length: boxes.length / 4 }, (_, i) => i + 1),
  iscrowd: new Uint8Array(boxes.length / 4),
});

test('randomHorizontalFlip flips when rng() < prob, not otherwise', async (t) => {
  const s = sample(rectImage(20, 10, [2, 3, 5, 6]), [2, 3, 5, 6]);
  const flip = randomHorizontalFlip({ prob: 0.5 });
  const flipped = await flip(s, scripted(0.49));
  t.deepEqual(Array.from(flipped.boxes), [15, 3, 18, 6]);
  t.deepEqual(brightBounds(flipped.image), [15, 3, 18, 6]);
  t.is(await flip(s, scripted(0.5)), s);
  t.throws(() => randomHorizontalFlip({ prob: 2 }), { instanceOf: RangeError, message: /^prob/ });
});

test('resizeShortestEdge: choice draws index floor(u * n); boxes scale by newW/w, newH/h', async (t) => {
  const s = sample(rectImage(64, 48, [8, 8, 24, 40]), [8, 8, 24, 40]);
  const aug = resizeShortestEdge({ shortEdge: [32, 96, 120], maxSize: 1000 });
  const out = await aug(s, scripted(0.5)); // index 1 -> 96: 48x64 -> 96x128
  t.is(out.image.width, 128);
  t.is(out.image.height, 96);
  t.deepEqual(Array.from(out.boxes), [16, 16, 48, 80]);
  // 'range' style: randint(lo, hi + 1) -> 40 + floor(0.999 * 11) = 50 -> 50 x 66.67 -> (50, 67).
  const ranged = await resizeShortestEdge({ shortEdge: [40, 50], sampleStyle: 'range' })(s, scripted(0.999));
  t.deepEqual([ranged.image.height, ranged.image.width], [50, 67]);
  const sx = 67 / 64, sy = 50 / 48;
  t.deepEqual(Array.from(ranged.boxes), Array.from(new Float32Array([8 * sx, 8 * sy, 24 * sx, 40 * sy])));
  t.throws(() => resizeShortestEdge({ shortEdge: [] }), { instanceOf: RangeError, message: /^shortEdge/ });
});

test('randomCrop removes emptied boxes together with their labels and flags', async (t) => {
  const s = sample(rectImage(100, 100, [0, 0, 1, 1]), [0, 0, 10, 10, 40, 40, 60, 60, 90, 90, 100, 100]);
  // ch = 50 + floor(0 * 1) = 50 with range [50, 50]; cw = 50; y0 = floor(0.5 * 51) = 25; x0 = 25.
  const out = await randomCrop({ min: 50, max: 50 })(s, scripted(0, 0, 0.5, 0.5));
  t.deepEqual([out.image.width, out.image.height], [50, 50]);
  t.deepEqual(Array.from(out.boxes), [15, 15, 35, 35]);
  t.deepEqual(Array.from(out.labels), [2]);
  t.deepEqual(Array.from(out.iscrowd as Uint8Array), [0]);
});

test('detrTrainAugmentation: the crop branch composes flip, resize, crop, resize exactly', async (t) => {
  const s = sample(rectImage(80, 60, [10, 20, 30, 40]), [10, 20, 30, 40]);
  const aug = detrTrainAugmentation({ shortEdges: [30], maxSize: 1000, cropShortEdges: [120], cropRange: [50, 70] });
  // u = 0.2 (<= 0.5: crop branch); flip 0.1 (< 0.5: flip); choice of [120]: 0.3;
  // crop on 120x160: ch = 50 + floor(0.5 * 21) = 60, cw = 50 + floor(0.5 * 21) = 60, y0 = floor(0 * 61) = 0,
  // x0 = floor(0.5 * 101) = 50; then the final choice of [30]: 0.7.
  const out = await aug(s, scripted(0.2, 0.1, 0.3, 0.5, 0.5, 0, 0.5, 0.7));
  // flip: [50, 20, 70, 40]; x2 resize: [100, 40, 140, 80]; crop at (50, 0): [50, 40, 60, 60]
  // clipped to 60x60 -> [50, 40, 60, 60]; resize 60 -> 30: x 0.5 -> [25, 20, 30, 30].
  t.deepEqual([out.image.width, out.image.height], [30, 30]);
  t.deepEqual(Array.from(out.boxes), [25, 20, 30, 30]);
  // The plain branch: u = 0.9 > 0.5, no flip (0.9), resize to short 30: 60x80 -> 30x40, x 0.5.
  const plain = await aug(s, scripted(0.9, 0.9, 0.0));
  t.deepEqual(Array.from(plain.boxes), [5, 10, 15, 20]);
});

test('augmentations are deterministic under a seed and vary across seeds', async (t) => {
  const s = sample(rectImage(160, 120, [20, 30, 90, 100]), [20, 30, 90, 100, 100, 10, 150, 60]);
  const aug = compose(detrTrainAugmentation({ shortEdges: [96, 128, 160], maxSize: 256, cropShortEdges: [100, 120], cropRange: [64, 96] }));
  const a = await aug(s, mulberry32(123));
  const b = await aug(s, mulberry32(123));
  t.deepEqual(Array.from(a.boxes), Array.from(b.boxes));
  t.deepEqual(Buffer.from(a.image.data), Buffer.from(b.image.data));
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const r = await aug(s, mulberry32(seed));
    outcomes.add(`${r.image.width}x${r.image.height}:${Array.from(r.boxes).join(',')}`);
  }
  t.true(outcomes.size > 5, `${outcomes.size} distinct outcomes over 20 seeds`);
});
