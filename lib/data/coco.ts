// COCO detection JSON reader (the format labelling tools export): images, annotations with
// bbox [x, y, w, h] in pixels, categories. Segmentations are ignored.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from '../errors';
import { FileDataset, requireImageFolder } from './file_dataset';
import type { Category, Dataset, DetectionSample } from './types';
import {
  checkBox, describe, emptyWarnings, optionalBoolean, reportWarnings, requireObject, requireString,
} from './validate';

export interface CocoOptions {
  /** The annotation file's path, or the parsed JSON object. */
  annotations: string | CocoJson;
  /** Folder the images' `file_name`s are relative to. */
  images: string;
  /** Leave out images with no valid box (the training recipe's filter_empty). Default false. */
  filterEmpty?: boolean;
}

export interface CocoJson {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id?: number; image_id: number; category_id: number; bbox: number[]; iscrowd?: number; area?: number }[];
  categories: { id: number; name: string }[];
}

/** A COCO annotation file that cannot be read (a DatasetError naming the file and the reason). */
export class CocoAnnotationError extends DatasetError {
  constructor(file: string, readonly reason: string) {
    super(`bad COCO annotations ${file}: ${reason}`, file);
    this.name = 'CocoAnnotationError';
  }
}

export async function coco(options: CocoOptions): Promise<Dataset> {
  const opts = requireObject(options, 'options');
  const imagesDir = path.resolve(requireString(opts.images, 'images'));
  const filterEmpty = optionalBoolean(opts.filterEmpty, 'filterEmpty', false);
  requireImageFolder(imagesDir, 'images');
  let json: unknown;
  let source: string;
  if (typeof opts.annotations === 'string') {
    source = path.resolve(opts.annotations);
    let text: string;
    try {
      text = await fs.promises.readFile(source, 'utf8');
    } catch (err) {
      throw new CocoAnnotationError(source, (err as Error).message);
    }
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new CocoAnnotationError(source, `not valid JSON: ${(err as Error).message}`);
    }
  } else if (typeof opts.annotations === 'object' && opts.annotations !== null) {
    source = '<annotations object>';
    json = opts.annotations;
  } else {
    throw new TypeError(`annotations: expected a file path or a COCO object, got ${describe(opts.annotations)}`);
  }
  const bad = (reason: string): never => {
    throw new CocoAnnotationError(source, reason);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('top level is not an object');
  const top = json as Record<string, unknown>;
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(top[key])) bad(`"${key}" is missing or not an array`);
  }
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

  const categories: Category[] = [];
  const categoryIds = new Set<number>();
  (top.categories as unknown[]).forEach((c, i) => {
    const cat = c as Record<string, unknown>;
    if (typeof c !== 'object' || c === null) bad(`categories[${i}] is not an object`);
    if (!isInt(cat.id)) bad(`categories[${i}].id is missing or not an integer`);
    if (typeof cat.name !== 'string') bad(`categories[${i}].name is missing or not a string`);
    if (categoryIds.has(cat.id as number)) bad(`categories[${i}].id ${cat.id} is repeated`);
    categoryIds.add(cat.id as number);
    categories.push({ id: cat.id as number, name: cat.name as string });
  });

  interface Building { sample: DetectionSample; boxes: number[]; labels: number[]; crowd: number[]; area: number[] }
  const byId = new Map<number, Building>();
  const order: Building[] = [];
  (top.images as unknown[]).forEach((im, i) => {
    const img = im as Record<string, unknown>;
    if (typeof im !== 'object' || im === null) bad(`images[${i}] is not an object`);
    if (!isInt(img.id)) bad(`images[${i}].id is missing or not an integer`);
    if (typeof img.file_name !== 'string' || img.file_name === '') bad(`images[${i}].file_name is missing or not a string`);
    for (const k of ['width', 'height']) {
      if (!isInt(img[k]) || (img[k] as number) <= 0) bad(`images[${i}].${k} is missing or not a positive integer`);
    }
    if (byId.has(img.id as number)) bad(`images[${i}].id ${img.id} is repeated`);
    const fileName = img.file_name as string;
    const b: Building = {
      sample: {
        id: img.id as number,
        name: path.basename(fileName, path.extname(fileName)),
        file: path.resolve(imagesDir, fileName),
        width: img.width as number,
        height: img.height as number,
        boxes: new Float32Array(0),
        labels: new Int32Array(0),
      },
      boxes: [], labels: [], crowd: [], area: [],
    };
    byId.set(img.id as number, b);
    order.push(b);
  });

  const name = `coco(${typeof opts.annotations === 'string' ? path.basename(source) : 'object'})`;
  const warnings = emptyWarnings();
  (top.annotations as unknown[]).forEach((a, i) => {
    const ann = a as Record<string, unknown>;
    if (typeof a !== 'object' || a === null) bad(`annotations[${i}] is not an object`);
    const where = `annotations[${i}]`;
    if (!isInt(ann.image_id)) bad(`${where}.image_id is missing or not an integer`);
    const b = byId.get(ann.image_id as number);
    if (!b) bad(`${where}.image_id ${ann.image_id} is not in images`);
    if (!isInt(ann.category_id)) bad(`${where}.category_id is missing or not an integer`);
    if (!categoryIds.has(ann.category_id as number)) bad(`${where}.category_id ${ann.category_id} is not in categories`);
    const bbox = ann.bbox;
    if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every((v) => typeof v === 'number')) {
      bad(`${where}.bbox must be 4 numbers [x, y, w, h], got ${JSON.stringify(bbox)}`);
    }
    const [x, y, w, h] = bbox as [number, number, number, number];
    const { sample } = b as Building;
    const kept = checkBox(x, y, x + w, y + h, sample.width, sample.height,
      `${path.basename(sample.file as string)} ${where}`, warnings);
    if (!kept) return;
    const crowd = ann.iscrowd === undefined ? 0 : ann.iscrowd;
    if (crowd !== 0 && crowd !== 1) bad(`${where}.iscrowd must be 0 or 1, got ${JSON.stringify(crowd)}`);
    const area = ann.area === undefined ? (kept[2] - kept[0]) * (kept[3] - kept[1]) : ann.area;
    if (typeof area !== 'number' || !(area >= 0)) bad(`${where}.area must be a non-negative number`);
    const bb = b as Building;
    bb.boxes.push(...kept);
    bb.labels.push(ann.category_id as number);
    bb.crowd.push(crowd as number);
    bb.area.push(area as number);
  });

  const samples: DetectionSample[] = [];
  for (const b of order) {
    b.sample.boxes = Float32Array.from(b.boxes);
    b.sample.labels = Int32Array.from(b.labels);
    b.sample.iscrowd = Uint8Array.from(b.crowd);
    b.sample.area = Float32Array.from(b.area);
    if (filterEmpty && b.crowd.every((c) => c === 1)) warnings.droppedImages++;
    else samples.push(b.sample);
  }
  reportWarnings(name, warnings);
  return new FileDataset(name, categories, samples, warnings);
}
