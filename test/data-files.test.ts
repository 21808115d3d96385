// COCO and VOC readers on files written here, and every bad-file path: missing files, corrupt
// images, bad JSON/XML, missing fields, unknown categories, invalid boxes, wrong sizes, options.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { datasets, decodeImage, type CocoJson } from '../lib/data/index';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-data-'));
const imagesDir = path.join(dir, 'images');
fs.mkdirSync(imagesDir);

/** A W×H image whose pixel (x, y) is (x mod 256, y mod 256, (x + y) mod 256). */
function gradient(w: number, h: number): Buffer {
  const buf = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      buf[o] = x % 256;
      buf[o + 1] = y % 256;
      buf[o + 2] = (x + y) % 256;
    }
  }
  return buf;
}
const raw = (w: number, h: number) => ({ raw: { width: w, height: h, channels: 3 as const } });

const files = (async () => {
  await sharp(gradient(40, 30), raw(40, 30)).png().toFile(path.join(imagesDir, 'a.png'));
  await sharp(gradient(50, 20), raw(50, 20)).png().toFile(path.join(imagesDir, 'b.png'));
  await sharp(gradient(64, 48), raw(64, 48)).jpeg({ quality: 90 }).toFile(path.join(imagesDir, 'c.jpg'));
  const jpg = fs.readFileSync(path.join(imagesDir, 'c.jpg'));
  fs.writeFileSync(path.join(imagesDir, 'truncated.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
  fs.writeFileSync(path.join(imagesDir, 'garbage.jpg'), Buffer.from('this is not an image at all'));
  // Stored 20 wide x 10 high with EXIF orientation 6 (rotate 90° clockwise to display): 10 x 20.
  await sharp(gradient(20, 10), raw(20, 10)).jpeg().withMetadata({ orientation: 6 }).toFile(path.join(imagesDir, 'rotated.jpg'));
  await sharp(Buffer.alloc(12 * 8, 90), { raw: { width: 12, height: 8, channels: 1 } }).png().toFile(path.join(imagesDir, 'grey.png'));
  const rgba = Buffer.alloc(6 * 4 * 4);
  for (let i = 0; i < 24; i++) rgba.set([200, 100, 50, i * 10], 4 * i);
  await sharp(rgba, { raw: { width: 6, height: 4, channels: 4 } }).png().toFile(path.join(imagesDir, 'alpha.png'));
})();

test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

function cocoJson(): CocoJson {
  return {
    images: [
      { id: 7, file_name: 'a.png', width: 40, height: 30 },
      { id: 3, file_name: 'b.png', width: 50, height: 20 },
      { id: 9, file_name: 'c.jpg', width: 64, height: 48 },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 5, bbox: [2, 3, 10, 12] },
      { id: 2, image_id: 7, category_id: 11, bbox: [20, 0, 20, 30], iscrowd: 1, area: 300 },
      { id: 3, image_id: 3, category_id: 11, bbox: [0.5, 1.5, 4.25, 2] },
    ],
    categories: [{ id: 5, name: 'cat' }, { id: 11, name: 'dog' }],
  };
}

/** Collects process warnings emitted while `fn` runs. */
async function warningsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; warnings: Error[] }> {
  const warnings: Error[] = [];
  const listener = (w: Error) => warnings.push(w);
  process.on('warning', listener);
  try {
    const result = await fn();
    await new Promise((r) => setImmediate(r)); // warnings are delivered on the next tick
    return { result, warnings };
  } finally {
    process.off('warning', listener);
  }
}

test('COCO: samples, xywh -> xyxy boxes, category ids, iscrowd and area, decoded pixels', async (t) => {
  await files;
  const annFile = path.join(dir, 'ann.json');
  fs.writeFileSync(annFile, JSON.stringify(cocoJson()));
  const ds = await datasets.coco({ annotations: annFile, images: imagesDir });
  t.is(ds.length, 3);
  t.deepEqual(ds.categories, [{ id: 5, name: 'cat' }, { id: 11, name: 'dog' }]);
  const a = ds.annotation(0);
  t.is(a.id, 7);
  t.is(a.file, path.join(imagesDir, 'a.png'));
  t.deepEqual(Array.from(a.boxes), [2, 3, 12, 15, 20, 0, 40, 30]);
  t.deepEqual(Array.from(a.labels), [5, 11]);
  t.deepEqual(Array.from(a.iscrowd as Uint8Array), [0, 1]);
  t.deepEqual(Array.from(a.area as Float32Array), [120, 300], 'area defaults to the box area');
  t.deepEqual(Array.from(ds.annotation(1).boxes), [0.5, 1.5, 4.75, 3.5]);
  t.is(ds.annotation(2).labels.length, 0, 'an image without annotations stays, with no boxes');
  const s = await ds.get(0);
  t.deepEqual([s.image.width, s.image.height, s.image.channels], [40, 30, 3]);
  t.deepEqual(Buffer.from(s.image.data), gradient(40, 30), 'PNG pixels round-trip exactly');
  const jpg = await ds.get(2);
  t.is(jpg.image.data.length, 64 * 48 * 3);
  // The same JSON as an object gives the same samples; filterEmpty drops image 9.
  const fromObject = await datasets.coco({ annotations: cocoJson(), images: imagesDir, filterEmpty: true });
  t.deepEqual([0, 1].map((i) => fromObject.annotation(i).id), [7, 3]);
  t.is(fromObject.length, 2);
  t.is(fromObject.warnings.droppedImages, 1);
});

test('COCO: invalid boxes are dropped or clipped, counted, with one warning for all', async (t) => {
  await files;
  const json = cocoJson();
  json.annotations.push(
    { image_id: 7, category_id: 5, bbox: [5, 5, 0, 10] }, // zero width
    { image_id: 7, category_id: 5, bbox: [5, 5, 10, -2] }, // negative height
    { image_id: 7, category_id: 5, bbox: [45, 5, 10, 10] }, // wholly right of the 40-wide image
    { image_id: 7, category_id: 5, bbox: [-10, -10, 5, 5] }, // wholly above-left
    { image_id: 7, category_id: 5, bbox: [35, 25, 10, 10] }, // sticks out: clipped to [35, 25, 40, 30]
  );
  const { result: ds, warnings } = await warningsDuring(() => datasets.coco({ annotations: json, images: imagesDir }));
  t.is(ds.warnings.droppedBoxes, 4);
  t.is(ds.warnings.clippedBoxes, 1);
  t.is(ds.warnings.details.length, 5);
  t.regex(ds.warnings.details[0]!, /a\.png annotations\[3\]: box \[5, 5, 5, 15\] has zero or negative size/);
  t.regex(ds.warnings.details[2]!, /lies outside the 40x30 image/);
  const ours = warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'ALIGN_DETR_INVALID_BOXES');
  t.is(ours.length, 1, 'one warning per dataset, not one per box');
  t.regex(ours[0]!.message, /dropped 4 invalid boxes, clipped 1 box/);
  t.deepEqual(Array.from(ds.annotation(0).boxes), [2, 3, 12, 15, 20, 0, 40, 30, 35, 25, 40, 30]);
});

test('COCO: broken annotation files name the file and the reason', async (t) => {
  await files;
  const write = (name: string, content: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, content);
    return f;
  };
  const cases: [string, string | object, RegExp][] = [
    ['missing file', path.join(dir, 'nope.json'), /nope\.json: ENOENT/],
    ['bad JSON', write('bad.json', '{"images": ['), /bad\.json: not valid JSON/],
    ['no images', write('noimages.json', '{"annotations": [], "categories": []}'), /noimages\.json: "images" is missing/],
  ];
  const mutate = (f: (j: CocoJson & Record<string, unknown>) => void): object => {
    const j = cocoJson() as CocoJson & Record<string, unknown>;
    f(j);
    return j;
  };
  cases.push(
    ['unknown category', mutate((j) => (j.annotations[0]!.category_id = 99)), /annotations\[0\]\.category_id 99 is not in categories/],
    ['unknown image', mutate((j) => (j.annotations[1]!.image_id = 42)), /annotations\[1\]\.image_id 42 is not in images/],
    ['short bbox', mutate((j) => (j.annotations[2]!.bbox = [1, 2, 3])), /annotations\[2\]\.bbox must be 4 numbers/],
    ['no file_name', mutate((j) => delete (j.images[1] as Partial<CocoJson['images'][0]>).file_name), /images\[1\]\.file_name is missing/],
    ['no width', mutate((j) => delete (j.images[0] as Partial<CocoJson['images'][0]>).width), /images\[0\]\.width is missing/],
    ['repeated image id', mutate((j) => (j.images[1]!.id = 7)), /images\[1\]\.id 7 is repeated/],
    ['bad iscrowd', mutate((j) => (j.annotations[0]!.iscrowd = 2)), /iscrowd must be 0 or 1/],
  );
  for (const [what, annotations, message] of cases) {
    const err = await t.throwsAsync(datasets.coco({ annotations: annotations as string, images: imagesDir }), { message }, what);
    if (typeof annotations === 'string') t.true(err?.message.includes(annotations), `${what}: names the file`);
  }
});

test('unreadable images reject get(i) with the file and the reason', async (t) => {
  await files;
  const json: CocoJson = {
    images: [
      { id: 1, file_name: 'missing.png', width: 10, height: 10 },
      { id: 2, file_name: 'truncated.jpg', width: 64, height: 48 },
      { id: 3, file_name: 'garbage.jpg', width: 10, height: 10 },
      { id: 4, file_name: 'a.png', width: 41, height: 30 }, // wrong size in the annotations
    ],
    annotations: [],
    categories: [{ id: 1, name: 'x' }],
  };
  const ds = await datasets.coco({ annotations: json, images: imagesDir });
  const file = (name: string) => path.join(imagesDir, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await t.throwsAsync(ds.get(0), { message: new RegExp(`cannot decode image ${file('missing.png')}: .*missing`) });
  await t.throwsAsync(ds.get(1), { message: new RegExp(`cannot decode image ${file('truncated.jpg')}: .*(premature|end of|truncat)`, 'i') });
  await t.throwsAsync(ds.get(2), { message: new RegExp(`cannot decode image ${file('garbage.jpg')}: .*unsupported image format`) });
  await t.throwsAsync(ds.get(3), { message: new RegExp(`${file('a.png')}: decoded size 40x30 differs from the annotated 41x30`) });
  await t.throwsAsync(ds.get(4), { instanceOf: RangeError, message: /^index: 4 is outside/ });
});

test('decodeImage applies EXIF orientation and always gives 3 channels', async (t) => {
  await files;
  const rotated = await decodeImage(path.join(imagesDir, 'rotated.jpg'));
  t.deepEqual([rotated.width, rotated.height], [10, 20]);
  const grey = await decodeImage(path.join(imagesDir, 'grey.png'));
  t.deepEqual([grey.width, grey.height, grey.data.length], [12, 8, 12 * 8 * 3]);
  t.true(grey.data.every((v) => v === 90));
  const alpha = await decodeImage(path.join(imagesDir, 'alpha.png'));
  t.is(alpha.data.length, 6 * 4 * 3);
  t.deepEqual(Array.from(alpha.data.subarray(0, 6)), [200, 100, 50, 200, 100, 50], 'alpha dropped, colour kept');
});

// ---- VOC ----

function vocXml(objects: string, size = '<size><width>40</width><height>30</height><depth>3</depth></size>'): string {
  return `<?xml version="1.0"?>\n<annotation>\n  <filename>x.jpg</filename>\n  ${size}\n${objects}</annotation>\n`;
}
const obj = (name: string, b: (number | string)[], extra = '') =>
  `  <object><name>${name}</name>${extra}<bndbox><xmin>${b[0]}</xmin><ymin>${b[1]}</ymin><xmax>${b[2]}</xmax><ymax>${b[3]}</ymax></bndbox></object>\n`;

function makeVoc(name: string, annotations: Record<string, string>, split = Object.keys(annotations)): string {
  const root = path.join(dir, name);
  fs.mkdirSync(path.join(root, 'Annotations'), { recursive: true });
  fs.mkdirSync(path.join(root, 'ImageSets', 'Main'), { recursive: true });
  fs.mkdirSync(path.join(root, 'JPEGImages'), { recursive: true });
  for (const [id, xml] of Object.entries(annotations)) fs.writeFileSync(path.join(root, 'Annotations', `${id}.xml`), xml);
  fs.writeFileSync(path.join(root, 'ImageSets', 'Main', 'train.txt'), split.join('\n') + '\n');
  return root;
}

test('VOC: boxes, classes, difficult, invalid boxes, comments and entities', async (t) => {
  await files;
  const root = makeVoc('voc-ok', {
    img1: vocXml(obj('dog', [1, 1, 40, 30], '<difficult>1</difficult>') + obj('cat', [11, 6, 20, 16]) +
      '  <!-- a comment --><object><name>cat</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>9</ymax></bndbox></object>\n' +
      obj('cat', [30, 20, 50, 40])),
    img2: vocXml(obj('b&amp;w', [2, 2, 4, 4])),
  });
  fs.copyFileSync(path.join(imagesDir, 'c.jpg'), path.join(root, 'JPEGImages', 'img1.jpg'));
  const ds = await datasets.voc({ root, split: 'train' });
  t.deepEqual(ds.categories.map((c) => c.name), ['b&w', 'cat', 'dog']);
  const a = ds.annotation(0);
  t.is(a.name, 'img1');
  t.deepEqual(Array.from(a.boxes), [0, 0, 40, 30, 10, 5, 20, 16, 29, 19, 40, 30]);
  t.deepEqual(Array.from(a.labels), [3, 2, 2]);
  t.deepEqual(Array.from(a.difficult as Uint8Array), [1, 0, 0]);
  t.is(ds.warnings.droppedBoxes, 1);
  t.is(ds.warnings.clippedBoxes, 1);
  t.deepEqual(Array.from(ds.annotation(1).labels), [1]);
  const zeroBased = await datasets.voc({ root, split: 'train', oneBased: false, classes: ['dog', 'cat', 'b&w'] });
  t.deepEqual(Array.from(zeroBased.annotation(0).boxes.subarray(0, 8)), [1, 1, 40, 30, 11, 6, 20, 16]);
  t.deepEqual(Array.from(zeroBased.annotation(0).labels), [1, 2, 2]);
  // img1.jpg is 64x48 but annotated 40x30: refused, naming the file.
  await t.throwsAsync(ds.get(0), { message: /img1\.jpg: decoded size 64x48 differs from the annotated 40x30/ });
  await t.throwsAsync(ds.get(1), { message: /cannot decode image .*img2\.jpg: .*missing/ });
});

test('VOC: broken annotations and splits name the file and the reason', async (t) => {
  await files;
  const cases: [string, string, RegExp][] = [
    ['unclosed tag', vocXml(obj('cat', [1, 1, 5, 5])).replace('</annotation>', ''), /bad1\.xml: .*<annotation> is never closed/],
    ['mismatched tag', vocXml('<object><name>cat</nam></object>'), /bad2\.xml: closing tag <\/nam> does not match <name> \(line 5\)/],
    ['no size', vocXml(obj('cat', [1, 1, 5, 5]), ''), /bad3\.xml: no <size> element/],
    ['no xmax', vocXml('<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><ymax>3</ymax></bndbox></object>'), /bad4\.xml: <object> #0<bndbox> has no <xmax>/],
    ['not a number', vocXml(obj('cat', [1, 'abc', 5, 5])), /bad5\.xml: <object> #0<bndbox><ymin> is "abc", not a number/],
    ['no name', vocXml('<object><bndbox><xmin>1</xmin></bndbox></object>'), /bad6\.xml: <object> #0 has no <name>/],
    ['bad entity', vocXml(obj('a&b', [1, 1, 5, 5])), /bad7\.xml: bare "&"/],
    ['wrong root', '<foo></foo>', /bad8\.xml: root element is <foo>/],
  ];
  for (const [i, [what, xml, message]] of cases.entries()) {
    const root = makeVoc(`voc-bad${i + 1}`, { [`bad${i + 1}`]: xml });
    await t.throwsAsync(datasets.voc({ root, classes: ['cat'] }), { message }, what);
  }
  const root = makeVoc('voc-unknown', { u: vocXml(obj('horse', [1, 1, 5, 5])) });
  await t.throwsAsync(datasets.voc({ root, classes: ['cat'] }), { message: /u\.xml: <object> #0 has unknown class "horse"/ });
  await t.throwsAsync(datasets.voc({ root, split: 'val' }), { message: /^split: cannot read .*val\.txt \(ENOENT\); available splits: train/ });
  const missing = makeVoc('voc-missing-xml', { m: vocXml(obj('cat', [1, 1, 5, 5])) }, ['m', 'gone']);
  await t.throwsAsync(datasets.voc({ root: missing }), { message: /gone\.xml: ENOENT/ });
  await t.throwsAsync(datasets.voc({ root: path.join(dir, 'images') }), { message: /^root: .* holds no VOC dataset/ });
});

test('factories validate their options with TypeError/RangeError naming the option', async (t) => {
  await t.throwsAsync(datasets.coco(undefined as never), { instanceOf: TypeError, message: /^options/ });
  await t.throwsAsync(datasets.coco({ annotations: 5 as never, images: dir }), { instanceOf: TypeError, message: /^annotations/ });
  await t.throwsAsync(datasets.coco({ annotations: cocoJson(), images: '' }), { instanceOf: TypeError, message: /^images/ });
  await t.throwsAsync(datasets.voc({ root: 3 as never }), { instanceOf: TypeError, message: /^root/ });
  await t.throwsAsync(datasets.voc({ root: dir, classes: [] }), { instanceOf: TypeError, message: /^classes/ });
  await t.throwsAsync(datasets.synthetic({} as never), { instanceOf: TypeError, message: /^numImages/ });
  await t.throwsAsync(datasets.synthetic({ numImages: 0 }), { instanceOf: RangeError, message: /^numImages/ });
  await t.throwsAsync(datasets.synthetic({ numImages: 2, numClasses: 9 }), { instanceOf: RangeError, message: /^numClasses/ });
  await t.throwsAsync(datasets.synthetic({ numImages: 2, width: 1.5 }), { instanceOf: TypeError, message: /^width/ });
});
