// Checks of annotation boxes shared by the COCO and VOC readers, and option checks for the
// public factories. Invalid boxes are counted, not fatal: a dataset keeps loading, and one
// process warning says how many were dropped.
import type { Dataset, DatasetWarnings } from './types';

const MAX_DETAILS = 20;

export function emptyWarnings(): DatasetWarnings {
  return { droppedBoxes: 0, clippedBoxes: 0, droppedImages: 0, details: [] };
}

function note(w: DatasetWarnings, message: string): void {
  if (w.details.length < MAX_DETAILS) w.details.push(message);
}

/**
 * Validates one xyxy box against an image of width×height. Returns the box to keep (clipped to
 * the image when it stuck out) or null when it must be dropped: not finite, zero or negative
 * width or height, or no area left inside the image. `where` names the file and the box.
 */
export function checkBox(
  x1: number, y1: number, x2: number, y2: number,
  width: number, height: number, where: string, w: DatasetWarnings,
): [number, number, number, number] | null {
  const coords = `[${x1}, ${y1}, ${x2}, ${y2}]`;
  if (![x1, y1, x2, y2].every(Number.isFinite)) {
    w.droppedBoxes++;
    note(w, `${where}: box ${coords} has a non-finite coordinate; dropped`);
    return null;
  }
  if (!(x2 > x1) || !(y2 > y1)) {
    w.droppedBoxes++;
    note(w, `${where}: box ${coords} has zero or negative size; dropped`);
    return null;
  }
  const cx1 = Math.max(0, x1), cy1 = Math.max(0, y1);
  const cx2 = Math.min(width, x2), cy2 = Math.min(height, y2);
  if (!(cx2 > cx1) || !(cy2 > cy1)) {
    w.droppedBoxes++;
    note(w, `${where}: box ${coords} lies outside the ${width}x${height} image; dropped`);
    return null;
  }
  if (cx1 !== x1 || cy1 !== y1 || cx2 !== x2 || cy2 !== y2) {
    w.clippedBoxes++;
    note(w, `${where}: box ${coords} extends outside the ${width}x${height} image; clipped`);
  }
  return [cx1, cy1, cx2, cy2];
}

/** One process warning per dataset summarising what was dropped (never one per box). */
export function reportWarnings(datasetName: string, w: DatasetWarnings): void {
  // Leaving out empty images is asked for (filterEmpty), so alone it is not worth a warning.
  if (w.droppedBoxes === 0 && w.clippedBoxes === 0) return;
  const parts: string[] = [];
  if (w.droppedBoxes) parts.push(`dropped ${w.droppedBoxes} invalid box${w.droppedBoxes === 1 ? '' : 'es'}`);
  if (w.clippedBoxes) parts.push(`clipped ${w.clippedBoxes} box${w.clippedBoxes === 1 ? '' : 'es'} to the image`);
  if (w.droppedImages) parts.push(`left out ${w.droppedImages} image${w.droppedImages === 1 ? '' : 's'} with no valid box`);
  const first = w.details.length ? ` (first: ${w.details[0]})` : '';
  process.emitWarning(`${datasetName}: ${parts.join(', ')}${first}; see dataset.warnings.details`, {
    code: 'ALIGN_DETR_INVALID_BOXES',
  });
}

// ---- option checks: messages start with the option's name ----

/**
 * The one check of a Dataset argument (fit's trainSet and valSet, evaluate's dataset, the
 * DataLoader's): an object with get() and a non-negative integer length, and annotation() where
 * the caller reads annotations without images (evaluation's ground truth).
 */
export function checkDataset(value: unknown, name: string, options: { annotations?: boolean; nonEmpty?: boolean } = {}): asserts value is Dataset {
  const d = value as Partial<Dataset> | null;
  if (typeof d !== 'object' || d === null || typeof d.get !== 'function' || (options.annotations && typeof d.annotation !== 'function')) {
    const shape = options.annotations ? '{ length, get(i), annotation(i) }' : '{ length, get(i) }';
    throw new TypeError(`${name}: expected a Dataset (from datasets.coco/voc/synthetic, or ${shape})`);
  }
  const min = options.nonEmpty ? 1 : 0;
  if (!Number.isSafeInteger(d.length) || (d.length as number) < min) {
    throw new RangeError(`${name}.length: expected a ${min ? 'positive' : 'non-negative'} integer, got ${String(d.length)}`);
  }
}

export function requireObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name}: expected an options object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${name}: expected a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function optionalInteger(
  value: unknown, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name}: expected an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name}: must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function optionalNumber(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name}: expected a number, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name}: must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

export function optionalBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name}: expected a boolean, got ${describe(value)}`);
  return value;
}

export function checkIndex(i: unknown, length: number, datasetName: string): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) {
    throw new TypeError(`index: expected an integer, got ${describe(i)}`);
  }
  if (i < 0 || i >= length) throw new RangeError(`index: ${i} is outside ${datasetName} (length ${length})`);
  return i;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return `${typeof value} ${String(value)}`;
}
