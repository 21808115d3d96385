// Pascal VOC reader: <root>/ImageSets/Main/<split>.txt lists image ids; each id has
// Annotations/<id>.xml and JPEGImages/<id><imageExtension>.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from '../errors';
import { FileDataset, requireImageFolder } from './file_dataset';
import type { Category, Dataset, DetectionSample } from './types';
import {
  checkBox, describe, emptyWarnings, optionalBoolean, reportWarnings, requireObject, requireString,
} from './validate';
import { child, decodeEntities, parseXml, type XmlElement } from './xml';
import { must } from '../must';

export interface VocOptions {
  /** The VOC root (holding Annotations/, ImageSets/, JPEGImages/), or a folder with one such child. */
  root: string;
  /** The split file's name under ImageSets/Main (default 'train'). */
  split?: string;
  /**
   * Class names in id order (ids 1..K). Default: every name found in Annotations/, sorted, so
   * that all splits of one root share the same ids.
   */
  classes?: string[];
  /** Leave out images with no valid box (the training recipe's filter_empty). Default false. */
  filterEmpty?: boolean;
  /**
   * VOC corners are 1-based pixel indices: detectron2 subtracts 1 from xmin and ymin so that
   * (1, W) covers the whole image. Default true; false keeps the numbers as written.
   */
  oneBased?: boolean;
  /** Image file extension (default '.jpg'). */
  imageExtension?: string;
}

/** A VOC annotation (or image-set) file that cannot be read (a DatasetError naming the file and the reason). */
export class VocAnnotationError extends DatasetError {
  constructor(file: string, readonly reason: string) {
    super(`bad VOC annotation ${file}: ${reason}`, file);
    this.name = 'VocAnnotationError';
  }
}

export async function voc(options: VocOptions): Promise<Dataset> {
  const opts = requireObject(options, 'options');
  const rootOption = path.resolve(requireString(opts.root, 'root'));
  const split = opts.split === undefined ? 'train' : requireString(opts.split, 'split');
  const filterEmpty = optionalBoolean(opts.filterEmpty, 'filterEmpty', false);
  const oneBased = optionalBoolean(opts.oneBased, 'oneBased', true);
  const ext = opts.imageExtension === undefined ? '.jpg' : requireString(opts.imageExtension, 'imageExtension');
  let classNames: string[] | undefined;
  if (opts.classes !== undefined) {
    if (!Array.isArray(opts.classes) || opts.classes.length === 0 ||
        !opts.classes.every((c) => typeof c === 'string' && c.length > 0)) {
      throw new TypeError(`classes: expected a non-empty array of non-empty strings, got ${describe(opts.classes)}`);
    }
    if (new Set(opts.classes).size !== opts.classes.length) throw new RangeError('classes: names must be unique');
    classNames = [...opts.classes];
  }
  const root = findVocRoot(rootOption);
  requireImageFolder(path.join(root, 'JPEGImages'), 'root');
  classNames ??= await discoverClasses(path.join(root, 'Annotations'));
  const categories: Category[] = classNames.map((name, i) => ({ id: i + 1, name }));
  const idOf = new Map(classNames.map((name, i) => [name, i + 1]));

  const ids = await readSplit(root, split);
  const name = `voc(${path.basename(root)}/${split})`;
  const warnings = emptyWarnings();
  const texts = await Promise.all(
    ids.map(async (id) => {
      const file = path.join(root, 'Annotations', `${id}.xml`);
      try {
        return await fs.promises.readFile(file, 'utf8');
      } catch (err) {
        throw new VocAnnotationError(file, (err as Error).message);
      }
    }),
  );
  const samples: DetectionSample[] = [];
  ids.forEach((id, index) => {
    const file = path.join(root, 'Annotations', `${id}.xml`);
    const sample = parseAnnotation(must(texts[index], 'annotation text'), file, id, index, idOf, oneBased, warnings);
    sample.file = path.join(root, 'JPEGImages', id + ext);
    if (filterEmpty && sample.labels.length === 0) warnings.droppedImages++;
    else samples.push(sample);
  });
  reportWarnings(name, warnings);
  return new FileDataset(name, categories, samples, warnings);
}

function findVocRoot(root: string): string {
  const isVoc = (dir: string): boolean =>
    fs.existsSync(path.join(dir, 'ImageSets', 'Main')) && fs.existsSync(path.join(dir, 'Annotations'));
  if (isVoc(root)) return root;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (err) {
    throw new Error(`root: cannot read VOC root ${root}: ${(err as Error).message}`);
  }
  // Archives often unpack to <dir>/<NAME>/{Annotations,...} (BCCD/, VOC2007/): accept one such child.
  const inner = entries.filter((e) => e.isDirectory() && isVoc(path.join(root, e.name)));
  const [only] = inner;
  if (only && inner.length === 1) return path.join(root, only.name);
  throw new Error(`root: ${root} holds no VOC dataset (expected Annotations/ and ImageSets/Main/)`);
}

async function readSplit(root: string, split: string): Promise<string[]> {
  const file = path.join(root, 'ImageSets', 'Main', `${split}.txt`);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const available = fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4));
    throw new Error(
      `split: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
        `available splits: ${available.join(', ') || 'none'}`,
    );
  }
  // Lines are "<id>" or, in per-class files, "<id> <flag>": the id is the first token.
  const ids = text.split(/\r?\n/).map((line) => line.trim().split(/\s+/)[0] ?? '').filter((id) => id.length > 0);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new Error(`split: ${file} lists ${id} twice`);
    seen.add(id);
  }
  return ids;
}

/** Every distinct <object><name> in the folder, sorted; a light scan, not a full parse. */
async function discoverClasses(dir: string): Promise<string[]> {
  const files = (await fs.promises.readdir(dir)).filter((f) => f.endsWith('.xml'));
  const names = new Set<string>();
  const objectName = /<object\b[^>]*>[\s\S]*?<name>\s*([^<]*?)\s*<\/name>/g;
  for (const f of files) {
    const text = await fs.promises.readFile(path.join(dir, f), 'utf8');
    for (const m of text.matchAll(objectName)) {
      if (!m[1]) continue;
      try {
        names.add(decodeEntities(m[1]));
      } catch {
        // a malformed name: the full parse of that file reports it if the file is used
      }
    }
  }
  if (names.size === 0) throw new Error(`classes: no object names found in ${dir}; pass classes explicitly`);
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function parseAnnotation(
  text: string, file: string, id: string, index: number, idOf: Map<string, number>, oneBased: boolean,
  warnings: ReturnType<typeof emptyWarnings>,
): DetectionSample {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (err) {
    throw new VocAnnotationError(file, (err as Error).message);
  }
  if (root.name !== 'annotation') throw new VocAnnotationError(file, `root element is <${root.name}>, expected <annotation>`);
  const number = (parent: XmlElement, field: string, where: string): number => {
    const el = child(parent, field);
    if (!el) throw new VocAnnotationError(file, `${where} has no <${field}>`);
    const value = Number(el.text);
    if (el.text === '' || !Number.isFinite(value)) {
      throw new VocAnnotationError(file, `${where}<${field}> is ${JSON.stringify(el.text)}, not a number`);
    }
    return value;
  };
  const size = child(root, 'size');
  if (!size) throw new VocAnnotationError(file, 'no <size> element');
  const width = number(size, 'width', '<size>');
  const height = number(size, 'height', '<size>');
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new VocAnnotationError(file, `image size ${width}x${height} is not a positive integer size`);
  }
  const boxes: number[] = [];
  const labels: number[] = [];
  const difficult: number[] = [];
  const shift = oneBased ? 1 : 0;
  let k = 0;
  for (const obj of root.children) {
    if (obj.name !== 'object') continue;
    const where = `<object> #${k++}`;
    const nameEl = child(obj, 'name');
    if (!nameEl || nameEl.text === '') throw new VocAnnotationError(file, `${where} has no <name>`);
    const label = idOf.get(nameEl.text);
    if (label === undefined) {
      throw new VocAnnotationError(file, `${where} has unknown class ${JSON.stringify(nameEl.text)} (classes: ${[...idOf.keys()].join(', ')})`);
    }
    const bnd = child(obj, 'bndbox');
    if (!bnd) throw new VocAnnotationError(file, `${where} has no <bndbox>`);
    const x1 = number(bnd, 'xmin', `${where}<bndbox>`), y1 = number(bnd, 'ymin', `${where}<bndbox>`);
    const x2 = number(bnd, 'xmax', `${where}<bndbox>`), y2 = number(bnd, 'ymax', `${where}<bndbox>`);
    const boxWhere = `${path.basename(file)} ${where} (${nameEl.text})`;
    // Size is judged on the numbers as written: a box with xmin == xmax has no extent as
    // annotated, even though the 1-based shift would give it one pixel.
    const kept = x2 > x1 && y2 > y1
      ? checkBox(x1 - shift, y1 - shift, x2, y2, width, height, boxWhere, warnings)
      : checkBox(x1, y1, x2, y2, width, height, boxWhere, warnings);
    if (!kept) continue;
    boxes.push(...kept);
    labels.push(label);
    const diff = child(obj, 'difficult');
    difficult.push(diff && diff.text === '1' ? 1 : 0);
  }
  return {
    id: index,
    name: id,
    width,
    height,
    boxes: Float32Array.from(boxes),
    labels: Int32Array.from(labels),
    difficult: Uint8Array.from(difficult),
  };
}
