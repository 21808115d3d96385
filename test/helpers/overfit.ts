// The overfit check the training tests share: a handful of synthetic images trained for a fixed
// number of steps must then be found again, every box at IoU > 0.7 with its class.
import type { ExecutionContext } from 'ava';
import { AlignDetr, Trainer, datasets } from '../../lib/index';
import type { CreateOptions, TrainerOptions } from '../../lib/index';
import { boxAt } from './boxes';

/** IoU of xyxy box `g` with xywh box `d`. */
function iou(g: ArrayLike<number>, d: readonly number[]): number {
  const [x1, y1, x2, y2] = boxAt(g, 0);
  const [x, y, w, h] = boxAt(d, 0);
  const ix = Math.max(0, Math.min(x2, x + w) - Math.max(x1, x));
  const iy = Math.max(0, Math.min(y2, y + h) - Math.max(y1, y));
  const inter = ix * iy;
  return inter / ((x2 - x1) * (y2 - y1) + w * h - inter);
}

/**
 * Trains the tiny preset (with `model` overrides) on 2 synthetic images for `steps` steps with
 * `trainer` options, asserts the loss fell and every box is found; returns the trainer.
 */
export async function overfitHandful(
  t: ExecutionContext,
  model: Partial<CreateOptions> = {},
  trainer: TrainerOptions = {},
  steps = 150,
): Promise<Trainer> {
  const data = await datasets.synthetic({ numImages: 2, seed: 3, numClasses: 3, minObjects: 1, maxObjects: 3, width: 192, height: 160 });
  const detector = await AlignDetr.create({ preset: 'tiny', categories: data.categories, testShortEdge: 160, testMaxSize: 192, ...model });
  const fit = new Trainer(detector, { lr: 5e-4, seed: 1, ...trainer });
  const history = await fit.fit(data, { epochs: steps, batchSize: 2, augment: 'none' });
  t.is(history.steps, steps);
  t.true(history.epochs[steps - 1]!.loss < history.epochs[0]!.loss / 1.5, 'the loss fell');
  let found = 0;
  let total = 0;
  for (let i = 0; i < data.length; i++) {
    const s = await data.get(i);
    const dets = (await detector.predict(s.image, { maxDetections: 10 }))[0]!;
    for (let k = 0; k < s.labels.length; k++) {
      const best = Math.max(0, ...dets.filter((d) => d.categoryId === s.labels[k]).map((d) => iou(s.boxes.subarray(4 * k, 4 * k + 4), d.bbox)));
      t.log(`image ${i} box ${k}: best IoU ${best.toFixed(3)}`);
      total++;
      if (best > 0.7) found++;
    }
  }
  t.is(found, total, 'every box found at IoU > 0.7 with its class');
  return fit;
}
