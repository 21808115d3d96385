// The library's own error classes. Argument errors stay TypeError / RangeError; these are for
// failures a caller may want to branch on. Every one extends AlignDetrError.

/** Base class of align-detr's own errors. */
export class AlignDetrError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A checkpoint file cannot be used: it is truncated or foreign (not an align-detr checkpoint,
 * not a PyTorch state dict where one is read), or damaged (a record fails its checksum).
 */
export class CheckpointError extends AlignDetrError {
  /** The checkpoint's path. */
  readonly file: string;
  constructor(message: string, file: string, options?: { cause?: unknown }) {
    super(message, options);
    this.file = file;
  }
}

/**
 * A training step's loss (or gradient norm) is NaN or infinite: the step was abandoned before
 * any update. The message reads "step N: loss term 'loss_giou_1' is NaN; ...".
 */
export class NonFiniteLossError extends AlignDetrError {
  /** Optimisation steps done before the failing one. */
  readonly step: number;
  /** The loss term (detrex name, e.g. 'loss_giou_1'), or 'gradient norm'. */
  readonly term: string;
  constructor(message: string, step: number, term: string, options?: { cause?: unknown }) {
    super(message, options);
    this.step = step;
    this.term = term;
  }
}

/** A dataset file (annotations, an image) cannot be read; subclasses say which format. */
export class DatasetError extends AlignDetrError {
  /** The file that failed ('<buffer>' for encoded image bytes). */
  readonly file: string;
  constructor(message: string, file: string, options?: { cause?: unknown }) {
    super(message, options);
    this.file = file;
  }
}

/**
 * A data-parallel run failed: a rank exited or hung past the collective timeout, a rank could
 * not join, or the ranks were started with different settings. `ranks` names the ranks found
 * responsible (empty when none could be named). The message reads "the gradient all-reduce
 * failed on rank 0 of 2: rank 1 stopped responding (exited or hung); ...".
 */
export class DistributedError extends AlignDetrError {
  readonly ranks: number[];
  constructor(message: string, ranks: number[], options?: { cause?: unknown }) {
    super(message, options);
    this.ranks = ranks;
  }
}

const CHECKPOINT_CODE = 'ERR_ALIGN_DETR_CHECKPOINT';
const DISTRIBUTED_CODE = 'ERR_ALIGN_DETR_DISTRIBUTED';
const NON_FINITE_LOSS_CODE = 'ERR_ALIGN_DETR_NON_FINITE_LOSS';

function codeOf(e: unknown): unknown {
  return e instanceof Error ? (e as { code?: unknown }).code : undefined;
}

/** Runs a native checkpoint read, turning the addon's checkpoint errors into CheckpointError. */
export async function readingCheckpoint<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (codeOf(e) === CHECKPOINT_CODE) throw new CheckpointError((e as Error).message, file, { cause: e });
    throw e;
  }
}

/** Runs a native collective, turning the addon's distributed errors into DistributedError. */
export async function collective<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw asDistributedError(e);
  }
}

function asDistributedError(e: unknown): unknown {
  if (codeOf(e) !== DISTRIBUTED_CODE) return e;
  const ranks = (e as { ranks?: unknown }).ranks;
  return new DistributedError((e as Error).message, Array.isArray(ranks) ? ranks.filter((r) => typeof r === 'number') : [], { cause: e });
}

/**
 * Runs a native training step, turning the addon's non-finite-loss errors into
 * NonFiniteLossError (and, in a data-parallel run, its distributed errors into DistributedError).
 */
export async function trainingStep<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (codeOf(e) === DISTRIBUTED_CODE) throw asDistributedError(e);
    if (codeOf(e) === NON_FINITE_LOSS_CODE) {
      const { message, step, term } = e as Error & { step?: unknown; term?: unknown };
      throw new NonFiniteLossError(message, typeof step === 'number' ? step : NaN, typeof term === 'string' ? term : '', { cause: e });
    }
    throw e;
  }
}
