// COCO bbox metrics of a model on a dataset: predict over the images in batches and score the
// detections with CocoEvaluator. Needs only the model (no Trainer, no optimizer state).
import { checkSignal, raceAbort } from '../abort';
import { checkDataset } from '../data/validate';
import type { Dataset } from '../data/types';
import type { ProcessGroup } from '../dist/group';
import type { AlignDetr } from '../model';
import { checkIntegerOption, checkOptionKeys } from '../options';
import { CocoEvaluator } from './coco-evaluator';
import type { CocoDataset, CocoEvalResult } from './coco-types';
import { must } from '../must';

/** Options of {@link evaluateModel}; any other key is a TypeError naming it. */
export interface EvaluateModelOptions {
  /** Images per predict call, an integer in [1, 1024] (default 2). */
  batchSize?: number;
  /**
   * Cancels the evaluation: an aborted signal rejects with its reason at once, an abort while
   * it runs rejects promptly (the batch in flight is dropped).
   */
  signal?: AbortSignal;
  /**
   * Data-parallel evaluation: every rank of the group calls evaluateModel with the same dataset
   * and batch size; each predicts every worldSize-th batch, the detections are gathered, and
   * every rank gets the metrics a single process computes (the detections are added in the
   * single process's order).
   */
  processGroup?: ProcessGroup;
}

/** Columns of a gathered detection row: dataset index, position in its image's list, image id, category id, x, y, w, h, score. */
const ROW = 9;

/** COCO ground truth of a dataset (boxes as annotated, before any augmentation). */
export function cocoGroundTruth(dataset: Dataset): CocoDataset {
  const images = [];
  const annotations = [];
  let annId = 1;
  for (let i = 0; i < dataset.length; i++) {
    const a = dataset.annotation(i);
    images.push({ id: a.id, width: a.width, height: a.height, file_name: a.file ?? a.name });
    for (let k = 0; k < a.labels.length; k++) {
      // boxes holds 4 numbers per label.
      const x1 = a.boxes[4 * k]!, y1 = a.boxes[4 * k + 1]!, x2 = a.boxes[4 * k + 2]!, y2 = a.boxes[4 * k + 3]!;
      annotations.push({
        id: annId++,
        image_id: a.id,
        category_id: a.labels[k]!,
        bbox: [x1, y1, x2 - x1, y2 - y1],
        area: a.area ? a.area[k]! : (x2 - x1) * (y2 - y1),
        iscrowd: a.iscrowd ? a.iscrowd[k]! : 0,
      });
    }
  }
  return { images, annotations, categories: dataset.categories.map((c) => ({ id: c.id, name: c.name })) };
}

/**
 * COCO bbox metrics of `model` on `dataset` (images at the model's test size, at most 100
 * detections per image). An aborted `options.signal` rejects with its reason: at once when
 * already aborted, else promptly (the batch in flight is dropped).
 * @throws TypeError for something other than a model or a Dataset with annotation(i);
 *         TypeError / RangeError naming the option for bad options.
 */
export async function evaluateModel(
  model: AlignDetr,
  dataset: Dataset,
  options: EvaluateModelOptions = {},
): Promise<CocoEvalResult> {
  if (typeof model !== 'object' || model === null || typeof (model as Partial<AlignDetr>).predict !== 'function') {
    throw new TypeError('model: expected an AlignDetr');
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('options: expected { batchSize?, signal? }');
  checkOptionKeys(options, 'options', ['batchSize', 'signal', 'processGroup']);
  const group = options.processGroup;
  if (group !== undefined && (typeof group !== 'object' || group === null || typeof group.allgatherRows !== 'function')) {
    throw new TypeError('options.processGroup: expected a ProcessGroup');
  }
  checkIntegerOption(options.batchSize, 'options.batchSize', 1, 1024);
  const signal = checkSignal(options.signal);
  checkDataset(dataset, 'dataset', { annotations: true });
  signal?.throwIfAborted();
  const evaluator = new CocoEvaluator(cocoGroundTruth(dataset));
  const batchSize = options.batchSize ?? 2;
  // With a group, this rank's batches are every worldSize-th one (whole batches, so that each
  // image is predicted in the same company as by a single process).
  const first = group ? group.rank * batchSize : 0;
  const stride = group ? group.worldSize * batchSize : batchSize;
  const rows: number[] = [];
  for (let i = first; i < dataset.length; i += stride) {
    signal?.throwIfAborted();
    const idx = [...Array(Math.min(batchSize, dataset.length - i)).keys()].map((k) => i + k);
    const samples = await raceAbort(Promise.all(idx.map((k) => dataset.get(k))), signal);
    const results = await model.predict(samples.map((s) => s.image), { maxDetections: 100, signal });
    if (group) {
      results.forEach((dets, j) => {
        const index = must(idx[j], 'index of a prediction');
        const imageId = must(samples[j], 'sample of a prediction').id;
        dets.forEach((d, pos) => rows.push(index, pos, imageId, d.categoryId, ...d.bbox, d.score));
      });
      continue;
    }
    evaluator.add(
      results.flatMap((dets, j) => {
        const imageId = must(samples[j], 'sample of a prediction').id;
        return dets.map((d) => ({ image_id: imageId, category_id: d.categoryId, bbox: d.bbox, score: d.score }));
      }),
    );
  }
  if (group) {
    const all = await group.allgatherRows(Float64Array.from(rows), ROW);
    const at = (i: number): number => must(all[i], 'gathered detection value');
    const order = [...Array(all.length / ROW).keys()].sort((a, b) => at(a * ROW) - at(b * ROW) || at(a * ROW + 1) - at(b * ROW + 1));
    evaluator.add(
      order.map((r) => {
        const o = r * ROW;
        return {
          image_id: at(o + 2), category_id: at(o + 3),
          bbox: [at(o + 4), at(o + 5), at(o + 6), at(o + 7)] as [number, number, number, number], score: at(o + 8),
        };
      }),
    );
  }
  return evaluator.evaluate();
}
