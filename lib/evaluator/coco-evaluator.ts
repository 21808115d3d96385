// Public entry points: the CocoEvaluator accumulator and evaluateCoco().
import { promises as fs } from 'node:fs';
import { CocoEvalRun } from './coco-eval';
import { DetectionStore, indexDetections, indexGroundTruth, mapDetectionIds, type GroundTruthIndex } from './coco-input';
import type { CocoDataset, CocoDetections, CocoEvalResult } from './coco-types';

/** Longest stretch (ms) evaluate() computes before yielding to the event loop. */
const SLICE_MS = 10;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function readJson(path: string, name: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${name}: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${name}: ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Accumulates detections batch by batch (e.g. during a validation pass) and
 * evaluates them against a COCO ground truth exactly as pycocotools' COCOeval
 * does for bounding boxes.
 *
 * ```ts
 * const ev = new CocoEvaluator('instances_val2017.json');
 * for (const batch of batches) ev.add(toCocoDetections(batch));
 * const { AP, AP50 } = await ev.evaluate();
 * ```
 *
 * Differences from pycocotools, all on inputs it would reject or mishandle:
 * a missing `area` falls back to w*h and a missing `iscrowd` to 0 (pycocotools
 * raises); annotations or detections naming an image or category absent from
 * `images`/`categories` are errors (pycocotools silently drops them, except
 * detections on unknown images, which it also rejects); duplicate annotation
 * ids are errors (pycocotools then evaluates one annotation twice).
 */
export class CocoEvaluator {
  private gtIndex: GroundTruthIndex | null = null;
  private readonly gtLoading: Promise<GroundTruthIndex> | null = null;
  private readonly store = new DetectionStore();
  private batches = 0;

  /** @param groundTruth a COCO dataset object, or the path of its JSON file (read when first needed). */
  constructor(groundTruth: CocoDataset | string) {
    if (typeof groundTruth === 'string') {
      const path = groundTruth;
      this.gtLoading = readJson(path, 'groundTruth').then((json) => indexGroundTruth(json, 'groundTruth'));
      // Surface the failure from evaluate(), not as an unhandled rejection.
      this.gtLoading.catch(() => undefined);
    } else {
      this.gtIndex = indexGroundTruth(groundTruth, 'groundTruth');
    }
  }

  /** Number of detections added so far. */
  get size(): number {
    return this.store.length;
  }

  /**
   * Adds one batch: an array of {image_id, category_id, bbox: [x, y, w, h], score}
   * or the same in columns. Throws (adding nothing) on a malformed detection.
   * Arrival order breaks score ties, as the order of a results file does.
   */
  add(detections: CocoDetections): void {
    const name = this.batches === 0 ? 'detections' : `detections (batch ${this.batches})`;
    const from = this.store.length;
    this.store.add(detections, name);
    if (this.gtIndex) {
      try {
        mapDetectionIds(this.store, this.gtIndex, from, this.store.length, name);
      } catch (err) {
        this.store.truncate(from);
        throw err;
      }
    }
    this.batches++;
  }

  /** Forgets all detections added so far (the ground truth stays). */
  reset(): void {
    this.store.clear();
    this.batches = 0;
  }

  /** Evaluates everything added so far. Yields to the event loop between categories. */
  async evaluate(): Promise<CocoEvalResult> {
    const gt = this.gtIndex ?? (this.gtIndex = await this.gtLoading!);
    const dt = indexDetections(this.store, gt, 'detections (all batches)');
    const run = new CocoEvalRun(gt, dt);
    let sliceStart = Date.now();
    for (let k = 0; k < run.K; k++) {
      run.evaluateCategory(k);
      if (Date.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = Date.now();
      }
    }
    return run.summarize();
  }
}

/**
 * COCO bbox evaluation, identical to pycocotools' COCOeval (evaluate,
 * accumulate, summarize). Either argument may be a path to a JSON file.
 */
export async function evaluateCoco(
  groundTruth: CocoDataset | string,
  detections: CocoDetections | string,
): Promise<CocoEvalResult> {
  const gt = typeof groundTruth === 'string' ? await readJson(groundTruth, 'groundTruth') : groundTruth;
  const dets = typeof detections === 'string' ? await readJson(detections, 'detections') : detections;
  const evaluator = new CocoEvaluator(gt as CocoDataset);
  evaluator.add(dets as CocoDetections);
  return evaluator.evaluate();
}
