// DataLoader: an async iterable over batches of one epoch that keeps `prefetch` batches loading
// ahead of the one being consumed (Trainer.fit iterates it too). Decoding (sharp) and resizing
// (the native preprocessing) run on libuv's thread pool, so keeping their promises in flight is
// enough for loading to overlap training. The order of
// samples and each sample's augmentation depend only on (seed, epoch, index), never on which
// load finishes first.
import { collate, type DetectionBatch, type BatchInput } from './batch';
import { deriveSeed, mulberry32 } from './rng';
import { DistributedSampler } from './sampler';
import type { Augmentation, AugSample } from './transforms';
import type { Dataset } from './types';
import { checkDataset, optionalBoolean, optionalInteger, requireObject } from './validate';

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle every epoch with a permutation drawn from (seed, epoch). Default false. */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Batches loading ahead of the one being consumed (default 2; 0 loads on demand). */
  prefetch?: number;
  /** Applied to every sample with its own seeded rng (e.g. detrTrainAugmentation()). */
  augment?: Augmentation;
  /** Drop iscrowd boxes before augmenting, as the recipe's mapper does. Default true. */
  dropCrowd?: boolean;
  /** Data-parallel sharding: this process takes every worldSize-th sample from `rank`. */
  rank?: number;
  worldSize?: number;
}

export class DataLoader implements AsyncIterable<DetectionBatch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly rank: number;
  readonly worldSize: number;
  private readonly augment?: Augmentation;
  private readonly dropCrowd: boolean;
  private readonly classIndex: Map<number, number>;
  /** The epoch the next iteration runs; advances by one after each complete pass. */
  epoch = 0;

  constructor(readonly dataset: Dataset, options: DataLoaderOptions) {
    checkDataset(dataset, 'dataset');
    const o = requireObject(options, 'options');
    if (o.batchSize === undefined) throw new TypeError('batchSize: required');
    this.batchSize = optionalInteger(o.batchSize, 'batchSize', 1, 1);
    this.shuffle = optionalBoolean(o.shuffle, 'shuffle', false);
    this.seed = optionalInteger(o.seed, 'seed', 0, 0, 0xffffffff);
    this.dropLast = optionalBoolean(o.dropLast, 'dropLast', false);
    this.prefetch = optionalInteger(o.prefetch, 'prefetch', 2, 0, 64);
    this.dropCrowd = optionalBoolean(o.dropCrowd, 'dropCrowd', true);
    this.worldSize = optionalInteger(o.worldSize, 'worldSize', 1, 1);
    this.rank = optionalInteger(o.rank, 'rank', 0, 0, this.worldSize - 1);
    if (o.augment !== undefined && typeof o.augment !== 'function') {
      throw new TypeError('augment: expected an augmentation function');
    }
    this.augment = o.augment as Augmentation | undefined;
    this.classIndex = new Map(dataset.categories.map((c, i) => [c.id, i]));
  }

  /** The dataset indices this process visits in `epoch`, in order (DistributedSampler's shard). */
  indices(epoch = this.epoch): number[] {
    return new DistributedSampler({
      length: this.dataset.length, rank: this.rank, worldSize: this.worldSize, shuffle: this.shuffle, seed: this.seed,
    }).indices(epoch);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.worldSize === 1 ? this.dataset.length : Math.ceil(this.dataset.length / this.worldSize);
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  setEpoch(epoch: number): void {
    this.epoch = optionalInteger(epoch, 'epoch', 0, 0);
  }

  /** One epoch (`this.epoch`, which then advances by one), `prefetch` batches loading ahead. */
  async *[Symbol.asyncIterator](): AsyncGenerator<DetectionBatch, void, undefined> {
    const epoch = this.epoch;
    yield* this.batches({ epoch });
    this.epoch = epoch + 1;
  }

  /**
   * The batches of `epoch` (default `this.epoch`) from batch `start` on (default 0: a run
   * resumed mid-epoch starts later), keeping `prefetch` batches loading while the current one is
   * used. Leaves `this.epoch` as it is. Stopping early (break, return) drops the loads in flight.
   */
  async *batches(options: { epoch?: number; start?: number } = {}): AsyncGenerator<DetectionBatch, void, undefined> {
    const epoch = optionalInteger(options.epoch, 'epoch', this.epoch, 0);
    const count = this.length;
    const start = optionalInteger(options.start, 'start', 0, 0, count);
    const order = this.indices(epoch);
    const pending: Promise<DetectionBatch>[] = [];
    let launched = start;
    const fill = (ahead: number): void => {
      while (pending.length < ahead && launched < count) {
        const batch = this.loadBatch(order.slice(launched * this.batchSize, (launched + 1) * this.batchSize), epoch);
        batch.catch(() => {}); // surfaced when this batch is awaited, not as an unhandled rejection
        pending.push(batch);
        launched++;
      }
    };
    for (let b = start; b < count; b++) {
      fill(1);
      const current = pending.shift() as Promise<DetectionBatch>;
      fill(this.prefetch); // keep `prefetch` batches loading while this one is awaited and used
      yield await current;
    }
  }

  /** Loads, augments and collates the samples at these dataset indices. */
  async loadBatch(indices: readonly number[], epoch = this.epoch): Promise<DetectionBatch> {
    const samples = await Promise.all(indices.map((i) => this.loadSample(i, epoch)));
    return collate(samples, { classIndex: this.classIndex });
  }

  private async loadSample(index: number, epoch: number): Promise<BatchInput> {
    const loaded = await this.dataset.get(index);
    let s: AugSample = {
      image: loaded.image,
      boxes: loaded.boxes,
      labels: loaded.labels,
      iscrowd: loaded.iscrowd,
      difficult: loaded.difficult,
    };
    if (this.dropCrowd && loaded.iscrowd && loaded.iscrowd.some((c) => c === 1)) {
      const keep = [...loaded.iscrowd.keys()].filter((k) => loaded.iscrowd![k] === 0);
      s = {
        image: s.image,
        boxes: Float32Array.from(keep.flatMap((k) => Array.from(loaded.boxes.subarray(4 * k, 4 * k + 4)))),
        labels: Int32Array.from(keep, (k) => loaded.labels[k]!),
        iscrowd: new Uint8Array(keep.length),
        difficult: loaded.difficult ? Uint8Array.from(keep, (k) => loaded.difficult![k]!) : undefined,
      };
    }
    if (this.augment) s = await this.augment(s, mulberry32(deriveSeed(this.seed, epoch, index, 0xa11)));
    return {
      id: loaded.id,
      image: s.image,
      boxes: s.boxes,
      labels: s.labels,
      originalSize: [loaded.height, loaded.width],
    };
  }
}
