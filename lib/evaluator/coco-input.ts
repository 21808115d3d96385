// Validation of COCO inputs and their conversion to flat typed arrays grouped
// the way COCOeval walks them: by category, then image (ascending id), then
// original order.
import type { CocoDataset, CocoDetection, CocoDetectionColumns, CocoDetections } from './coco-types';

/** Detections kept per (image, category), as COCOeval's maxDets[-1]. */
export const MAX_DETS_PER_IMAGE = 100;

/** Ground truth flattened and grouped by (category, image). */
export interface GroundTruthIndex {
  imgIds: number[];
  imgRank: Map<number, number>;
  catIds: number[];
  catIndex: Map<number, number>;
  /** Boxes in (category, image rank, dataset order). */
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  area: Float64Array;
  crowd: Uint8Array;
  /** 1 where the annotation id is 0: pycocotools then records "matched to id 0", i.e. unmatched. */
  zeroId: Uint8Array;
  groups: GroupIndex;
}

/**
 * Contiguous runs of one (category, image): category k owns groups
 * catGroupStart[k] .. catGroupStart[k+1]-1; group j is image rank groupImg[j]
 * and items groupStart[j] .. groupStart[j+1]-1.
 */
export interface GroupIndex {
  catGroupStart: Int32Array;
  groupImg: Int32Array;
  groupStart: Int32Array;
}

/** Detections sorted by score inside each (category, image) and cut to 100. */
export interface DetectionIndex {
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  score: Float64Array;
  groups: GroupIndex;
}

function fail(message: string): never {
  throw new TypeError(message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function finiteNumber(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    fail(`${where}: expected a finite number, got ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'nothing (missing field)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return `a ${typeof v}`;
}

function readBox(v: unknown, where: string, out: Float64Array, at: number): void {
  if (!Array.isArray(v) || v.length !== 4) {
    fail(`${where}: expected [x, y, width, height], got ${describe(v)}`);
  }
  for (let c = 0; c < 4; c++) out[at + c] = finiteNumber(v[c], `${where}[${c}]`);
}

function readCrowd(v: unknown, where: string): number {
  if (v === undefined || v === 0 || v === false) return 0;
  if (v === 1 || v === true) return 1;
  fail(`${where}: expected 0, 1 or a boolean, got ${describe(v)}`);
}

function sortedUniqueIds(list: unknown, where: string): { ids: number[]; rank: Map<number, number> } {
  if (!Array.isArray(list)) fail(`${where}: expected an array, got ${describe(list)}`);
  const seen = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (!isRecord(item)) fail(`${where}[${i}]: expected an object, got ${describe(item)}`);
    seen.add(finiteNumber(item.id, `${where}[${i}].id`));
  }
  const ids = [...seen].sort((a, b) => a - b);
  const rank = new Map<number, number>();
  ids.forEach((id, i) => rank.set(id, i));
  return { ids, rank };
}

/**
 * Stable counting sort of item indices 0..n-1 by (cat, img) keys, then the
 * (category, image) runs. Items keep their relative order inside a run.
 */
function groupByCategoryImage(
  catOf: Int32Array, imgOf: Int32Array, numCats: number, numImgs: number,
): { order: Int32Array; groups: GroupIndex } {
  const n = catOf.length;
  // LSD radix: by image first, then (stably) by category.
  const byImg = countingSort(identity(n), imgOf, numImgs);
  const order = countingSort(byImg, catOf, numCats);
  const catGroupStart = new Int32Array(numCats + 1);
  const groupImg: number[] = [];
  const groupStart: number[] = [];
  let prevCat = -1, prevImg = -1;
  for (let p = 0; p < n; p++) {
    const i = order[p]!;
    const c = catOf[i]!, im = imgOf[i]!;
    if (c !== prevCat || im !== prevImg) {
      while (prevCat < c) catGroupStart[++prevCat] = groupImg.length;
      groupImg.push(im);
      groupStart.push(p);
      prevImg = im;
    }
  }
  while (prevCat < numCats) catGroupStart[++prevCat] = groupImg.length;
  groupStart.push(n);
  return {
    order,
    groups: { catGroupStart, groupImg: Int32Array.from(groupImg), groupStart: Int32Array.from(groupStart) },
  };
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

function countingSort(items: Int32Array, key: Int32Array, numKeys: number): Int32Array {
  const start = new Int32Array(numKeys + 1);
  for (let p = 0; p < items.length; p++) start[key[items[p]!]! + 1]!++;
  for (let k = 0; k < numKeys; k++) start[k + 1]! += start[k]!;
  const out = new Int32Array(items.length);
  for (let p = 0; p < items.length; p++) {
    const i = items[p]!;
    out[start[key[i]!]!++] = i;
  }
  return out;
}

/** Validates a COCO ground-truth dataset and indexes it. `name` prefixes error messages. */
export function indexGroundTruth(gt: unknown, name = 'groundTruth'): GroundTruthIndex {
  if (!isRecord(gt)) fail(`${name}: expected a COCO dataset object or a file path, got ${describe(gt)}`);
  const ds = gt as Partial<CocoDataset>;
  const images = sortedUniqueIds(ds.images, `${name}.images`);
  const cats = sortedUniqueIds(ds.categories, `${name}.categories`);
  const anns = ds.annotations;
  if (!Array.isArray(anns)) fail(`${name}.annotations: expected an array, got ${describe(anns)}`);
  const n = anns.length;
  const box = new Float64Array(4 * n);
  const areaIn = new Float64Array(n);
  const crowdIn = new Uint8Array(n);
  const zeroIn = new Uint8Array(n);
  const catOf = new Int32Array(n);
  const imgOf = new Int32Array(n);
  const annIds = new Set<number>();
  for (let i = 0; i < n; i++) {
    const where = `${name}.annotations[${i}]`;
    const a = anns[i];
    if (!isRecord(a)) fail(`${where}: expected an object, got ${describe(a)}`);
    const imgId = finiteNumber(a.image_id, `${where}.image_id`);
    const rank = images.rank.get(imgId);
    if (rank === undefined) fail(`${where}.image_id: ${imgId} is not the id of an entry of ${name}.images`);
    const catId = finiteNumber(a.category_id, `${where}.category_id`);
    const ci = cats.rank.get(catId);
    if (ci === undefined) fail(`${where}.category_id: ${catId} is not the id of an entry of ${name}.categories`);
    readBox(a.bbox, `${where}.bbox`, box, 4 * i);
    areaIn[i] = a.area === undefined ? box[4 * i + 2]! * box[4 * i + 3]! : finiteNumber(a.area, `${where}.area`);
    crowdIn[i] = readCrowd(a.iscrowd, `${where}.iscrowd`);
    if (a.id !== undefined) {
      const id = finiteNumber(a.id, `${where}.id`);
      if (annIds.has(id)) fail(`${where}.id: ${id} is used by another annotation (ids must be unique)`);
      annIds.add(id);
      zeroIn[i] = id === 0 ? 1 : 0;
    }
    imgOf[i] = rank;
    catOf[i] = ci;
  }
  const { order, groups } = groupByCategoryImage(catOf, imgOf, cats.ids.length, images.ids.length);
  const x = new Float64Array(n), y = new Float64Array(n), w = new Float64Array(n), h = new Float64Array(n);
  const area = new Float64Array(n), crowd = new Uint8Array(n), zeroId = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    const i = order[p]!;
    x[p] = box[4 * i]!; y[p] = box[4 * i + 1]!; w[p] = box[4 * i + 2]!; h[p] = box[4 * i + 3]!;
    area[p] = areaIn[i]!; crowd[p] = crowdIn[i]!; zeroId[p] = zeroIn[i]!;
  }
  return {
    imgIds: images.ids, imgRank: images.rank, catIds: cats.ids, catIndex: cats.rank,
    x, y, w, h, area, crowd, zeroId, groups,
  };
}

/**
 * Detections appended batch by batch into growable columns, in arrival
 * order (the "results file" order that breaks score ties).
 */
export class DetectionStore {
  private cap = 0;
  private len = 0;
  imgId: Float64Array = new Float64Array(0);
  catId: Float64Array = new Float64Array(0);
  box: Float64Array = new Float64Array(0);
  score: Float64Array = new Float64Array(0);

  get length(): number {
    return this.len;
  }

  clear(): void {
    this.len = 0;
  }

  /** Drops detections from index `length` on (undoes a rejected batch). */
  truncate(length: number): void {
    this.len = Math.min(this.len, length);
  }

  private reserve(extra: number): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    const cap = Math.max(need, this.cap * 2, 1024);
    const grow = (a: Float64Array, width: number): Float64Array => {
      const b = new Float64Array(cap * width);
      b.set(a.subarray(0, this.len * width));
      return b;
    };
    this.imgId = grow(this.imgId, 1);
    this.catId = grow(this.catId, 1);
    this.box = grow(this.box, 4);
    this.score = grow(this.score, 1);
    this.cap = cap;
  }

  /** Validates then appends; nothing is appended when a detection is malformed. */
  add(dets: CocoDetections, name = 'detections'): void {
    if (Array.isArray(dets)) this.addObjects(dets, name);
    else if (isRecord(dets)) this.addColumns(dets as unknown as CocoDetectionColumns, name);
    else fail(`${name}: expected an array of {image_id, category_id, bbox, score} or columns, got ${describe(dets)}`);
  }

  private addObjects(dets: CocoDetection[], name: string): void {
    const n = dets.length;
    this.reserve(n);
    const base = this.len;
    for (let i = 0; i < n; i++) {
      const where = `${name}[${i}]`;
      const d: unknown = dets[i];
      if (!isRecord(d)) fail(`${where}: expected an object, got ${describe(d)}`);
      const j = base + i;
      this.imgId[j] = finiteNumber(d.image_id, `${where}.image_id`);
      this.catId[j] = finiteNumber(d.category_id, `${where}.category_id`);
      readBox(d.bbox, `${where}.bbox`, this.box, 4 * j);
      this.score[j] = finiteNumber(d.score, `${where}.score`);
    }
    this.len += n;
  }

  private addColumns(cols: CocoDetectionColumns, name: string): void {
    const { imageIds, categoryIds, boxes, scores } = cols;
    const lengthOf = (v: unknown, field: string): number => {
      const len = (v as { length?: unknown } | null)?.length;
      if (typeof len !== 'number') fail(`${name}.${field}: expected an array or typed array, got ${describe(v)}`);
      return len;
    };
    const n = lengthOf(imageIds, 'imageIds');
    if (lengthOf(categoryIds, 'categoryIds') !== n) fail(`${name}.categoryIds: length ${categoryIds.length} differs from imageIds (${n})`);
    if (lengthOf(scores, 'scores') !== n) fail(`${name}.scores: length ${scores.length} differs from imageIds (${n})`);
    if (lengthOf(boxes, 'boxes') !== 4 * n) fail(`${name}.boxes: length ${boxes.length} should be 4 * ${n} (x, y, w, h per detection)`);
    this.reserve(n);
    const base = this.len;
    for (let i = 0; i < n; i++) {
      const j = base + i;
      this.imgId[j] = finiteNumber(imageIds[i], `${name}.imageIds[${i}]`);
      this.catId[j] = finiteNumber(categoryIds[i], `${name}.categoryIds[${i}]`);
      for (let c = 0; c < 4; c++) this.box[4 * j + c] = finiteNumber(boxes[4 * i + c], `${name}.boxes[${4 * i + c}]`);
      this.score[j] = finiteNumber(scores[i], `${name}.scores[${i}]`);
    }
    this.len += n;
  }
}

/**
 * Looks up the image rank and category index of stored detections [from, to);
 * throws a RangeError naming `${name}[i - from]` for an id the ground truth lacks.
 * Without output arrays it only checks.
 */
export function mapDetectionIds(
  store: DetectionStore, gt: GroundTruthIndex, from: number, to: number, name: string,
  imgOf?: Int32Array, catOf?: Int32Array,
): void {
  for (let i = from; i < to; i++) {
    const rank = gt.imgRank.get(store.imgId[i]!);
    if (rank === undefined) {
      throw new RangeError(`${name}[${i - from}].image_id: ${store.imgId[i]} is not an image of the ground truth`);
    }
    const ci = gt.catIndex.get(store.catId[i]!);
    if (ci === undefined) {
      throw new RangeError(`${name}[${i - from}].category_id: ${store.catId[i]} is not a category of the ground truth`);
    }
    if (imgOf) imgOf[i] = rank;
    if (catOf) catOf[i] = ci;
  }
}

/**
 * Maps stored detections onto the ground truth's images and categories, sorts
 * each (category, image) run by descending score (ties keep arrival order, as
 * numpy's mergesort) and keeps its first 100.
 */
export function indexDetections(store: DetectionStore, gt: GroundTruthIndex, name = 'detections'): DetectionIndex {
  const n = store.length;
  const catOf = new Int32Array(n);
  const imgOf = new Int32Array(n);
  mapDetectionIds(store, gt, 0, n, name, imgOf, catOf);
  const grouped = groupByCategoryImage(catOf, imgOf, gt.catIds.length, gt.imgIds.length);
  const src = grouped.groups;
  const numGroups = src.groupImg.length;
  const score = store.score;
  // Kept count is known only after truncation: size for the worst case, trim later.
  const keptStart = new Int32Array(numGroups + 1);
  let kept = 0;
  for (let j = 0; j < numGroups; j++) {
    keptStart[j] = kept;
    kept += Math.min(MAX_DETS_PER_IMAGE, src.groupStart[j + 1]! - src.groupStart[j]!);
  }
  keptStart[numGroups] = kept;
  const x = new Float64Array(kept), y = new Float64Array(kept), w = new Float64Array(kept), h = new Float64Array(kept);
  const outScore = new Float64Array(kept);
  const order = grouped.order;
  const byScore = (a: number, b: number): number => score[b]! - score[a]! || a - b;
  for (let j = 0; j < numGroups; j++) {
    const lo = src.groupStart[j]!, hi = src.groupStart[j + 1]!;
    const run = order.subarray(lo, hi);
    if (hi - lo > 1) sortRun(run, score, byScore);
    let p = keptStart[j]!;
    const end = keptStart[j + 1]!;
    for (let q = 0; p < end; q++, p++) {
      const i = run[q]!;
      x[p] = store.box[4 * i]!; y[p] = store.box[4 * i + 1]!;
      w[p] = store.box[4 * i + 2]!; h[p] = store.box[4 * i + 3]!;
      outScore[p] = score[i]!;
    }
  }
  return {
    x, y, w, h, score: outScore,
    groups: { catGroupStart: src.catGroupStart, groupImg: src.groupImg, groupStart: keptStart },
  };
}

/** Sorts a short run of indices in place: by descending score, then ascending index. */
function sortRun(run: Int32Array, score: Float64Array, cmp: (a: number, b: number) => number): void {
  const n = run.length;
  if (n > 32) {
    run.sort(cmp);
    return;
  }
  for (let i = 1; i < n; i++) {
    const v = run[i]!;
    const s = score[v]!;
    let k = i - 1;
    // Indices arrive ascending, so "after" on equal score is already right: move only past strictly smaller scores.
    while (k >= 0 && score[run[k]!]! < s) {
      run[k + 1] = run[k]!;
      k--;
    }
    run[k + 1] = v;
  }
}
