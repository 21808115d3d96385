// A small COCO dataset on disk for CLI tests: 4 synthetic 96×80 images with shapes (PNG files in
// <dir>/images) and their annotations in <dir>/ann.json (2 categories).
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { datasets } from '../../lib/data/index';

/** Writes the folder and returns the annotations JSON it wrote (as an object). */
export async function writeSyntheticCoco(dir: string): Promise<object> {
  const imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir, { recursive: true });
  const synth = await datasets.synthetic({ numImages: 4, seed: 3, numClasses: 2, minObjects: 1, maxObjects: 2, width: 96, height: 80 });
  const images = [], annotations = [];
  let annId = 1;
  for (let i = 0; i < synth.length; i++) {
    const s = await synth.get(i);
    const file = `img${i}.png`;
    await sharp(Buffer.from(s.image.data), { raw: { width: s.image.width, height: s.image.height, channels: 3 } })
      .png()
      .toFile(path.join(imagesDir, file));
    images.push({ id: i + 1, file_name: file, width: s.image.width, height: s.image.height });
    for (let k = 0; k < s.labels.length; k++) {
      const [x1, y1, x2, y2] = Array.from(s.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number];
      annotations.push({ id: annId++, image_id: i + 1, category_id: s.labels[k]!, bbox: [x1, y1, x2 - x1, y2 - y1] });
    }
  }
  const json = { images, annotations, categories: synth.categories.map((c) => ({ id: c.id, name: c.name })) };
  fs.writeFileSync(path.join(dir, 'ann.json'), JSON.stringify(json));
  return json;
}
