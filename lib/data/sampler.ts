// Which dataset indices each rank of a data-parallel run visits in an epoch, as PyTorch's
// DistributedSampler: one permutation of the dataset from (seed, epoch), shared by all ranks;
// padded by wrapping around to a multiple of worldSize (so every rank takes the same number of
// steps); rank r takes positions r, r + worldSize, ... The shards are disjoint but for the
// padding, and together cover the dataset. With batch size b per rank, step s of the ranks
// together sees positions [s·b·W, (s+1)·b·W) of the permutation: one process with batch b·W
// sees the same samples at the same step.
import { must } from '../must';
import { deriveSeed, mulberry32, permutation } from './rng';

export interface DistributedSamplerOptions {
  /** Dataset size. */
  length: number;
  rank?: number;
  worldSize?: number;
  /** Shuffle every epoch with a permutation drawn from (seed, epoch) (default false). */
  shuffle?: boolean;
  seed?: number;
}

export class DistributedSampler {
  readonly length: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly shuffle: boolean;
  readonly seed: number;

  constructor(options: DistributedSamplerOptions) {
    const int = (v: unknown, name: string, lo: number, hi: number, fallback: number): number => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number') throw new TypeError(`${name}: expected an integer, got ${typeof v}`);
      if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name}: expected an integer in [${lo}, ${hi}], got ${v}`);
      return v;
    };
    if (typeof options !== 'object' || options === null) throw new TypeError('options: expected { length, rank?, worldSize?, shuffle?, seed? }');
    this.length = int(options.length, 'length', 0, 2 ** 31, 0);
    this.worldSize = int(options.worldSize, 'worldSize', 1, 1 << 20, 1);
    this.rank = int(options.rank, 'rank', 0, this.worldSize - 1, 0);
    if (options.shuffle !== undefined && typeof options.shuffle !== 'boolean') throw new TypeError('shuffle: expected a boolean');
    this.shuffle = options.shuffle ?? false;
    this.seed = int(options.seed, 'seed', 0, 0xffffffff, 0);
  }

  /** Samples per rank per epoch: ceil(length / worldSize). */
  get perRank(): number {
    return Math.ceil(this.length / this.worldSize);
  }

  /** The epoch's order of the whole dataset (the same on every rank). */
  order(epoch: number): number[] {
    const n = this.length;
    return this.shuffle ? permutation(mulberry32(deriveSeed(this.seed, epoch, 0x5eed)), n) : [...Array(n).keys()];
  }

  /** The dataset indices this rank visits in `epoch`, in order. */
  indices(epoch: number): number[] {
    const all = this.order(epoch);
    if (this.worldSize === 1) return all;
    const out: number[] = [];
    for (let k = this.rank; k < this.perRank * this.worldSize; k += this.worldSize) out.push(must(all[k % this.length], 'sample index'));
    return out;
  }
}
