// The real BCCD dataset (Pascal VOC, 364 images, 3 classes), read in place from
// ../shared/data/bccd (or $ALIGN_DETR_BCCD): split sizes, the two zero-size boxes, decoding.
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { datasets, type Dataset } from '../lib/data/index';
import { boxAt } from './helpers/boxes';

const repoRoot = path.resolve(__dirname, '../..');
const bccdRoot = process.env.ALIGN_DETR_BCCD ?? path.resolve(repoRoot, '..', 'shared', 'data', 'bccd');
const vocDir = path.join(bccdRoot, 'BCCD');

/** The ids a split file lists, read independently of the loader. */
const splitIds = (split: string): string[] =>
  fs.readFileSync(path.join(vocDir, 'ImageSets', 'Main', `${split}.txt`), 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);

/** <object> count of an annotation file, by a plain text count. */
const objectCount = (id: string): number =>
  (fs.readFileSync(path.join(vocDir, 'Annotations', `${id}.xml`), 'utf8').match(/<object>/g) ?? []).length;

const loaded = new Map<string, Promise<Dataset>>();
const load = (split: string): Promise<Dataset> => {
  if (!loaded.has(split)) loaded.set(split, datasets.voc({ root: bccdRoot, split }));
  return loaded.get(split) as Promise<Dataset>;
};

test('BCCD is where the tests expect it', (t) => {
  t.true(fs.existsSync(path.join(vocDir, 'Annotations')), `BCCD not found at ${bccdRoot} (set ALIGN_DETR_BCCD)`);
});

test('train/val/test sizes match the split files and cover all 364 images once', async (t) => {
  let total = 0;
  const seen = new Set<string>();
  for (const split of ['train', 'val', 'test']) {
    const ids = splitIds(split);
    const ds = await load(split);
    t.is(ds.length, ids.length, split);
    for (let i = 0; i < ds.length; i++) {
      t.is(ds.annotation(i).name, ids[i]!);
      seen.add(ids[i]!);
    }
    total += ds.length;
  }
  t.is(total, 364);
  t.is(seen.size, 364);
  t.deepEqual([(await load('train')).length, (await load('val')).length, (await load('test')).length], [205, 87, 72]);
  const trainval = await datasets.voc({ root: bccdRoot, split: 'trainval' });
  t.is(trainval.length, 205 + 87);
});

test('three classes with shared ids; exactly the two zero-size boxes are dropped', async (t) => {
  let dropped = 0, kept = 0, written = 0;
  const details: string[] = [];
  for (const split of ['train', 'val', 'test']) {
    const ds = await load(split);
    t.deepEqual(ds.categories, [{ id: 1, name: 'Platelets' }, { id: 2, name: 'RBC' }, { id: 3, name: 'WBC' }]);
    dropped += ds.warnings.droppedBoxes;
    t.is(ds.warnings.clippedBoxes, 0);
    details.push(...ds.warnings.details);
    for (let i = 0; i < ds.length; i++) {
      const a = ds.annotation(i);
      kept += a.labels.length;
      written += objectCount(a.name);
      t.is(a.boxes.length, 4 * a.labels.length);
      for (let k = 0; k < a.labels.length; k++) {
        const [x1, y1, x2, y2] = boxAt(a.boxes, k);
        t.true(x2 > x1 && y2 > y1 && x1 >= 0 && y1 >= 0 && x2 <= a.width && y2 <= a.height, `${a.name} box ${k}`);
      }
    }
  }
  t.is(dropped, 2);
  t.is(written, 4888);
  t.is(kept, written - 2);
  t.is(details.length, 2);
  t.true(details.some((d) => /BloodImage_00338\.xml .*\[504, 337, 504, 337\] has zero or negative size/.test(d)), details.join('\n'));
  t.true(details.some((d) => /BloodImage_00343\.xml .*\[181, 329, 181, 329\] has zero or negative size/.test(d)), details.join('\n'));
});

test('VOC corners are shifted from 1-based as detectron2 does: xmin - 1, ymin - 1', async (t) => {
  const ds = await load('test');
  const a = ds.annotation(0);
  const xml = fs.readFileSync(path.join(vocDir, 'Annotations', `${a.name}.xml`), 'utf8');
  const first = /<bndbox>\s*<xmin>(\d+)<\/xmin>\s*<ymin>(\d+)<\/ymin>\s*<xmax>(\d+)<\/xmax>\s*<ymax>(\d+)<\/ymax>/.exec(xml);
  t.truthy(first);
  const [x1, y1, x2, y2] = (first as RegExpExecArray).slice(1).map(Number) as [number, number, number, number];
  t.deepEqual(Array.from(a.boxes.subarray(0, 4)), [x1 - 1, y1 - 1, x2, y2]);
});

test('BCCD JPEGs decode to 640x480 RGB with real content', async (t) => {
  const ds = await load('val');
  for (const i of [0, 1, ds.length - 1]) {
    const s = await ds.get(i);
    t.is(s.image.width, 640);
    t.is(s.image.height, 480);
    t.is(s.image.data.length, 640 * 480 * 3);
    t.is(s.file, path.join(vocDir, 'JPEGImages', `${s.name}.jpg`));
    let min = 255, max = 0;
    for (const v of s.image.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    t.true(max - min > 100, `${s.name}: contrast ${min}..${max}`);
  }
});
