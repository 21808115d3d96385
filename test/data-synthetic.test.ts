// The synthetic shapes dataset: reproducible under a seed, varied (classes, sizes, overlaps),
// and its boxes are the exact bounds of the shapes it paints.
import test from 'ava';
import { datasets } from '../lib/data/index';
import { boxAt } from './helpers/boxes';
import { insideShape, pixelCoverage, type SyntheticShape } from '../lib/data/synthetic';

type WithShapes = { shapes(i: number): readonly SyntheticShape[] };

test('same seed, same images and boxes; another seed, other ones', async (t) => {
  const a = await datasets.synthetic({ numImages: 6, seed: 42 });
  const b = await datasets.synthetic({ numImages: 6, seed: 42 });
  const c = await datasets.synthetic({ numImages: 6, seed: 43 });
  for (let i = 0; i < 6; i++) {
    const [sa, sb, sc] = await Promise.all([a.get(i), b.get(i), c.get(i)]);
    t.deepEqual(Buffer.from(sa.image.data), Buffer.from(sb.image.data));
    t.deepEqual(Array.from(sa.boxes), Array.from(sb.boxes));
    t.notDeepEqual(Buffer.from(sa.image.data), Buffer.from(sc.image.data));
    t.deepEqual([sa.image.width, sa.image.height], [320, 240]);
    t.deepEqual(Array.from((await a.get(i)).image.data.subarray(0, 300)), Array.from(sa.image.data.subarray(0, 300)), 'get is repeatable');
  }
  t.deepEqual(a.categories.map((cat) => cat.name), ['red rectangle', 'green ellipse', 'blue triangle']);
});

test('images are varied: every class, small and large objects, overlaps, textured backgrounds', async (t) => {
  const ds = await datasets.synthetic({ numImages: 200, seed: 1, numClasses: 5, varySize: true });
  const classCounts = new Map<number, number>();
  let overlaps = 0, small = 0, large = 0;
  const sizes = new Set<string>();
  for (let i = 0; i < ds.length; i++) {
    const a = ds.annotation(i);
    sizes.add(`${a.width}x${a.height}`);
    t.true(a.labels.length >= 1 && a.labels.length <= 6);
    for (let k = 0; k < a.labels.length; k++) {
      classCounts.set(a.labels[k]!, (classCounts.get(a.labels[k]!) ?? 0) + 1);
      const [x1, y1, x2, y2] = boxAt(a.boxes, k);
      t.true(x1 >= 0 && y1 >= 0 && x2 <= a.width && y2 <= a.height && x2 > x1 && y2 > y1);
      const rel = Math.sqrt((x2 - x1) * (y2 - y1)) / Math.min(a.width, a.height);
      if (rel < 0.15) small++;
      if (rel > 0.35) large++;
      for (let m = 0; m < k; m++) {
        const [u1, v1, u2, v2] = boxAt(a.boxes, m);
        if (Math.min(x2, u2) > Math.max(x1, u1) && Math.min(y2, v2) > Math.max(y1, v1)) overlaps++;
      }
    }
  }
  t.deepEqual([...classCounts.keys()].sort(), [1, 2, 3, 4, 5]);
  t.true(small > 50 && large > 50, `small ${small}, large ${large}`);
  t.true(overlaps > 20, `${overlaps} overlapping pairs`);
  t.true(sizes.size > 50, `${sizes.size} distinct image sizes`);
  // Texture: the background is not flat (many distinct values in a corner patch).
  const img = (await ds.get(0)).image;
  const values = new Set<number>();
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) values.add(img.data[3 * (y * img.width + x)]!);
  t.true(values.size > 8, `${values.size} distinct values in an 8x8 patch`);
});

test('each box is the tight bound of its shape: the shape reaches all four edges, never beyond', async (t) => {
  const ds = await datasets.synthetic({ numImages: 30, seed: 7 });
  const depth = 0.05; // how far inside an edge the scan line runs (pixels)
  const step = 1 / 64; // finer than the narrowest triangle tip at that depth (>= depth / 2)
  const touches = (s: SyntheticShape, edge: number): boolean => {
    const [x0, y0, x1, y1] = s.box;
    if (edge === 0 || edge === 2) {
      const y = edge === 0 ? y0 + depth : y1 - depth;
      for (let x = x0; x <= x1; x += step) if (insideShape(s, x, y)) return true;
    } else {
      const x = edge === 3 ? x0 + depth : x1 - depth;
      for (let y = y0; y <= y1; y += step) if (insideShape(s, x, y)) return true;
    }
    return false;
  };
  let checked = 0;
  for (let i = 0; i < ds.length; i++) {
    for (const s of (ds as unknown as WithShapes).shapes(i)) {
      for (let edge = 0; edge < 4; edge++) t.true(touches(s, edge), `${s.kind} box [${s.box.join(', ')}] edge ${edge}`);
      const [x0, y0, x1, y1] = s.box;
      // Pixels left of and right of the box get no paint.
      const row = Math.floor((y0 + y1) / 2);
      t.is(pixelCoverage(s, Math.floor(x0) - 1, row), 0);
      t.is(pixelCoverage(s, Math.ceil(x1), row), 0);
      checked++;
    }
  }
  t.true(checked > 60);
});

test('a shape that nothing covers is painted in its own colour inside its box', async (t) => {
  const ds = await datasets.synthetic({ numImages: 20, seed: 11 });
  let checked = 0;
  for (let i = 0; i < ds.length; i++) {
    const shapes = (ds as unknown as WithShapes).shapes(i);
    const img = (await ds.get(i)).image;
    shapes.forEach((s, k) => {
      // Pixels fully covered by this shape and by no later shape carry its colour (±8 % grain).
      for (let y = Math.ceil(s.box[1]); y < Math.floor(s.box[3]); y++) {
        for (let x = Math.ceil(s.box[0]); x < Math.floor(s.box[2]); x++) {
          if (pixelCoverage(s, x, y) < 1) continue;
          if (shapes.slice(k + 1).some((later) => pixelCoverage(later, x, y) > 0)) continue;
          for (let c = 0; c < 3; c++) {
            const v = img.data[3 * (y * img.width + x) + c]!;
            if (Math.abs(v - s.rgb[c]!) > 0.04 * s.rgb[c]! + 1) {
              t.fail(`image ${i} shape ${k} pixel (${x}, ${y}) channel ${c}: ${v} vs ${s.rgb[c]}`);
              return;
            }
          }
          checked++;
        }
      }
    });
  }
  t.true(checked > 10000, `${checked} pixels checked`);
});
