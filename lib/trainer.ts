// Trainer: the Align-DETR recipe around an AlignDetr model.
//
// Each step runs off the JS thread (forward with denoising queries, matching, losses,
// backward, clipping, AdamW). fit() loops over epochs with a prefetching loader, reports
// progress, evaluates with COCO metrics, stops cleanly on an AbortSignal and writes resumable
// checkpoints atomically.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DetectionBatch } from './data/batch';
import { DataLoader } from './data/loader';
import { checkDataset } from './data/validate';
import { detrTrainAugmentation } from './data/transforms';
import type { Augmentation } from './data/transforms';
import type { Category, Dataset } from './data/types';
import { evaluateModel } from './evaluator/index';
import type { CocoEvalResult, EvaluateModelOptions } from './evaluator/index';
import { AlignDetr, modelInternals } from './model';
import type { ModelConfig } from './model';
import { InFlight, checkSignal } from './abort';
import { binding } from './binding';
import type { NativeBatch, TrainerHandle, TrainerOptionField } from './binding';
import { checkIntegerOption, checkOptionKeys } from './options';
import { collective, readingCheckpoint, trainingStep } from './errors';
import { ProcessGroup, checkGroupOptions } from './dist/group';
import type { DistributedOptions } from './dist/group';
import { inputFile, outputFile } from './paths';

/**
 * Classification losses (docs/numerical-contract.md §D.1–D.2c, §D.7), and `'sd-align'`: SD-DETR's task alignment loss
 * (docs/neighbour-methods.md §2.4, §2.6 stage C) with one-to-one matching and no prime weights.
 */
export type LossKind = 'align' | 'ia-bce' | 'focal' | 'qfl' | 'vfl' | 'stable-dino' | 'sd-align';

/** The loss a Trainer uses for `config` when none is given: the recipe of the model's system. */
export function defaultLoss(config: Pick<ModelConfig, 'memoryFusion' | 'decoder'>): LossKind {
  if (config.memoryFusion === 'dense') return 'stable-dino';
  if (config.decoder === 'decoupled') return 'sd-align';
  return 'align';
}

/**
 * How a Trainer takes part in data-parallel training (`new Trainer(model, { ...options, distributed })`).
 * Every rank runs the same program: parameters are broadcast from rank 0, each step's gradients
 * are averaged over the ranks (bucketed, during backward) before clipping, DETR's box count is
 * summed over the ranks, fit() shards the data (`batchSize` is per process), evaluation gathers
 * every rank's detections, and only rank 0 writes checkpoints.
 */
export interface DataParallelOptions {
  /** 'env' (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), explicit values, or a joined ProcessGroup. */
  distributed?: DistributedOptions | ProcessGroup;
  /**
   * Denoising noise drawn per sample from (seed, step, image id), so that an image gets the same
   * queries whichever process and batch it lands in (default: true when distributed).
   */
  sampleSeededNoise?: boolean;
}

export interface TrainerOptions {
  /** Learning rate of everything but the backbone (default 1e-4). */
  lr?: number;
  /** Backbone learning rate (default lr × 0.1). */
  backboneLr?: number;
  /** AdamW weight decay (default 1e-4; none on norms and embeddings). */
  weightDecay?: number;
  /** Global L2 gradient clipping (default 0.1; 0 disables). */
  clipMaxNorm?: number;
  /** Steps at which the learning rate is multiplied by `gamma` (default none). */
  milestones?: number[];
  /** Learning-rate factor at each milestone (default 0.1). */
  gamma?: number;
  /** Linear warmup steps (default 0, as the recipe). */
  warmupSteps?: number;
  /** Learning-rate factor at the first warmup step (default 1e-3). */
  warmupFactor?: number;
  /**
   * Classification loss. The default follows the model, so each preset trains with its own
   * recipe: 'stable-dino' for a model with dense memory fusion (the stable-dino preset; with its
   * position-modulated matching cost), 'sd-align' for the decoupled decoder (sd-detr), 'align'
   * otherwise. See `defaultLoss`.
   */
  loss?: LossKind;
  /** 'mixed' (k GT copies on all but the last layer; default for align/ia-bce) or 'one-to-one'. */
  matching?: 'mixed' | 'one-to-one';
  /** GT copies of mixed matching (default 2). */
  k?: number;
  /** Prime-sample temperature τ (default 1.5). */
  tau?: number;
  /** Seed of the denoising noise and of data order/augmentation in fit() (default 42). */
  seed?: number;
  /** Use the fused native classification-loss kernel (default true). */
  fusedLoss?: boolean;
}

/**
 * Loss terms of one step (unweighted, detrex names) and their weighted total. In a data-parallel
 * run (`distributed`) both are the mean over the ranks (DETR's `reduce_dict`), the same on every
 * rank: the loss of the whole step's batch, as one process with all of it would report.
 */
export interface StepReport {
  loss: number;
  losses: Record<string, number>;
  gradNorm: number;
  lr: number;
  /** Optimisation steps done so far. */
  step: number;
}

/** Options of {@link Trainer.evaluateLoss}; any other key is a TypeError naming it. */
export interface EvaluateLossOptions {
  /** Also return every output's matched (query, GT) pairs with their ranks and prime weights (default false). */
  returnMatching?: boolean;
  /**
   * Add the denoising (CDN) queries and their loss terms (`loss_*_dn`, `loss_*_dn_<i>`) as a
   * training step does (default false: eval mode, no denoising). The noise comes from a
   * generator of its own seeded with `seed`, so the training stream is never touched.
   */
  denoising?: boolean;
  /** Seed of the denoising noise, an integer in [0, 2^53 − 1] (default: the trainer's `seed`); needs `denoising: true`. Same seed → identical losses. */
  seed?: number;
}

/** One image's matched pairs in one output; entry n pairs query `queries[n]` with GT `gts[n]`. */
export interface ImageMatching {
  /** Query index in the output (for denoising, the DN slot: group·2·G_max + GT). */
  queries: Int32Array;
  /** GT index in the image's targets; grouped by GT with queries ascending (denoising: slot order). */
  gts: Int32Array;
  /**
   * Rank among the predictions matched to the same GT by quality q = p^α·IoU^(1−α) descending
   * (α = 0.25; IA-BCE clamps q at 0.01 first), 0 = best; ties go to the lower query index.
   */
  ranks: Int32Array;
  /** The prime-sample weight the losses applied: e^(−rank/τ) on k > 1 outputs of 'align' / 'ia-bce', else 1. */
  primeWeights: Float64Array;
  /** GT copies this image was matched with: max(1, min(k, Q // G)) (denoising: the DN groups). */
  k: number;
}

/** The assignment of one output of the criterion. */
export interface OutputMatching {
  output: 'encoder' | 'decoder' | 'denoising';
  /** Decoder layer (0-based; -1 for the encoder). */
  layer: number;
  /** Suffix of this output's loss terms: '_enc', '_0' … (intermediate layers), '' (last layer), '_dn_0' …, '_dn'. */
  suffix: string;
  /** GT copies asked for: the trainer's k on the encoder and intermediate layers of mixed matching, 1 on the last layer; denoising: the DN groups. */
  k: number;
  /** Per image of the batch. */
  images: ImageMatching[];
}

/** What evaluateLoss returns: the losses, and with `returnMatching` the matching of every output (encoder, decoder layers in order, then denoising layers). */
export interface LossReport extends StepReport {
  matching?: OutputMatching[];
}

/**
 * The trainer option table, from its one owner (native/train/trainer_options): every option's
 * name, kind, range, one-line doc and default (the align recipe's).
 */
export function trainerOptionFields(): readonly TrainerOptionField[] {
  return binding().trainerOptionFields();
}

/** The names of {@link TrainerOptions}; any other key is a TypeError naming it. */
function trainerOptionKeys(): string[] {
  return trainerOptionFields().map((f) => f.name);
}

const DATA_PARALLEL_KEYS = ['distributed', 'sampleSeededNoise'];

/** The data-parallel options checked; undefined when neither is set. */
function checkDataParallel(
  distributed: unknown,
  sampleSeededNoise: unknown,
): { distributed?: DistributedOptions | ProcessGroup; sampleSeededNoise: boolean } | undefined {
  if (sampleSeededNoise !== undefined && typeof sampleSeededNoise !== 'boolean') {
    throw new TypeError(`options.sampleSeededNoise: expected a boolean, got ${typeof sampleSeededNoise}`);
  }
  if (distributed === undefined) return sampleSeededNoise ? { sampleSeededNoise: true } : undefined;
  if (!(distributed instanceof ProcessGroup) && distributed !== 'env') checkGroupOptions(distributed, 'options.distributed');
  return { distributed: distributed as DistributedOptions | ProcessGroup, sampleSeededNoise: sampleSeededNoise ?? true };
}

const FIT_OPTION_KEYS: readonly string[] = [
  'epochs', 'batchSize', 'valSet', 'signal', 'onProgress', 'checkpointDir', 'augment', 'maxMinutes', 'prefetch',
  'evalBatchSize', 'runInfo',
];

function checkEvaluateLossOptions(options: unknown): EvaluateLossOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('options: expected { returnMatching?, denoising?, seed? }');
  }
  const known = new Set(['returnMatching', 'denoising', 'seed']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`options: unknown option '${key}' (expected returnMatching, denoising, seed)`);
  }
  const o = options as Record<string, unknown>;
  for (const key of ['returnMatching', 'denoising']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new TypeError(`options.${key}: expected a boolean`);
  }
  if (o.seed !== undefined) {
    if (typeof o.seed !== 'number') throw new TypeError('options.seed: expected an integer');
    if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new RangeError(`options.seed: expected an integer in [0, 2^53 - 1], got ${o.seed}`);
    if (o.denoising !== true) throw new TypeError('options.seed: seeds the denoising noise; pass denoising: true with it');
  }
  return o as EvaluateLossOptions;
}

export interface FitOptions {
  epochs: number;
  /** Images per step; in a data-parallel run per process (DETR's convention: 8 GPUs × 2). */
  batchSize: number;
  valSet?: Dataset;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Folder for `last.adetr` (written after every epoch and when stopped). */
  checkpointDir?: string;
  /** 'recipe' (flip + multi-scale resize + random crop, scaled to the model's test size; default), 'none', or a function. */
  augment?: 'recipe' | 'none' | Augmentation;
  /** Stop (with a checkpoint) once this much time has passed. */
  maxMinutes?: number;
  /** Batches loading ahead of training (default 2). */
  prefetch?: number;
  /** Images per predict call during evaluation (default 2). */
  evalBatchSize?: number;
  /**
   * Caller's JSON-serialisable notes stored in every checkpoint this fit writes (the CLI keeps
   * its data flags here); `Trainer.resume` gives them back as `trainer.runInfo`. Default: the
   * resumed checkpoint's.
   */
  runInfo?: Record<string, unknown>;
}

/**
 * fit()'s progress. In a data-parallel run a step's `loss` and `losses`, and so an epoch's mean
 * `loss`, are the mean over the ranks (see {@link StepReport}), the same on every rank.
 */
export type ProgressEvent =
  | { type: 'step'; epoch: number; stepInEpoch: number; stepsPerEpoch: number; step: number; totalSteps: number; loss: number; losses: Record<string, number>; lr: number; elapsedMs: number }
  | { type: 'epoch'; epoch: number; loss: number; eval?: CocoEvalResult; elapsedMs: number }
  | { type: 'checkpoint'; path: string };

export interface EpochRecord {
  epoch: number;
  /** Mean total loss over the epoch's steps. */
  loss: number;
  eval?: { stats: number[]; AP: number; AP50: number; AP75: number };
}

export interface History {
  epochs: EpochRecord[];
  steps: number;
  stopped: 'completed' | 'aborted' | 'time-limit';
  checkpoint?: string;
}

/** What a training checkpoint remembers besides the weights and optimizer. */
interface TrainingMetadata {
  categories: Category[];
  /** Next epoch to run and how many of its batches are done. */
  epoch: number;
  stepInEpoch: number;
  history: EpochRecord[];
  options: TrainerOptions;
  /** FitOptions.runInfo (absent in checkpoints written before it existed). */
  runInfo?: Record<string, unknown>;
}

/** A trainer's native state as Trainer.resume restored it (handed to the constructor by #restore). */
interface Restored {
  handle: TrainerHandle;
  progress: TrainingMetadata;
}

/** Set by Trainer's private #restore for the duration of one `new Trainer` (never seen by users). */
let restoring: Restored | undefined;

function toNativeBatch(batch: DetectionBatch): NativeBatch {
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.targets)) {
    throw new TypeError('batch: expected a DetectionBatch ({ images, shape, targets[] }, from DataLoader or collate)');
  }
  return {
    images: batch.images,
    shape: batch.shape,
    targets: batch.targets.map((t) => ({ boxes: t.boxes, labels: t.labels, size: t.size, id: t.id })),
  };
}

/**
 * The recipe's training augmentation (docs/numerical-contract.md §E) scaled to a model whose test size is
 * `shortEdge`/`maxSize` instead of 800/1333: every size of the recipe is multiplied by shortEdge/800.
 */
export function recipeAugmentation(shortEdge: number, maxSize: number): Augmentation {
  const s = shortEdge / 800;
  const r = (v: number): number => Math.max(1, Math.round(v * s));
  const shortEdges: number[] = [];
  for (let v = 480; v <= 800; v += 32) shortEdges.push(r(v));
  return detrTrainAugmentation({
    shortEdges: [...new Set(shortEdges)],
    maxSize,
    cropShortEdges: [400, 500, 600].map(r),
    cropRange: [r(384), r(600)],
  });
}

export class Trainer {
  readonly model: AlignDetr;
  readonly options: TrainerOptions;
  #handle: TrainerHandle;
  #disposed = false;
  readonly #inFlight = new InFlight();
  #resume?: TrainingMetadata;
  #runInfo?: Record<string, unknown>;
  #parallel?: Promise<void>;
  #group?: ProcessGroup;

  /**
   * Binds a trainer to `model` (its weights are trained in place).
   * @throws TypeError / RangeError naming the option for bad options.
   */
  constructor(model: AlignDetr, options: TrainerOptions & DataParallelOptions = {}) {
    // Trainer.resume's state, when this instance is built by #restore (taken before any check
    // can throw, so it never leaks into a later construction).
    const restored = restoring;
    restoring = undefined;
    if (!(model instanceof AlignDetr)) throw new TypeError('model: expected an AlignDetr');
    if (typeof options !== 'object' || options === null) throw new TypeError('options: expected an options object');
    const { distributed, sampleSeededNoise, ...training } = options;
    checkOptionKeys(options, 'options', [...trainerOptionKeys(), ...DATA_PARALLEL_KEYS]);
    const parallel = checkDataParallel(distributed, sampleSeededNoise);
    this.model = model;
    this.options = { ...training };
    if (this.options.loss === undefined && !restored) this.options.loss = defaultLoss(model.config);
    this.#handle = restored ? restored.handle : binding().createTrainer(modelInternals.handleOf(model), this.options);
    this.#resume = restored?.progress;
    this.#runInfo = restored?.progress.runInfo;
    if (parallel) {
      this.#parallel = this.#joinRun(parallel.distributed, parallel.sampleSeededNoise);
      this.#parallel.catch(() => {}); // surfaced by the first step, fit or ready()
    }
  }

  /** Joins the group (unless given one) and attaches the native trainer to it. */
  async #joinRun(distributed: DistributedOptions | ProcessGroup | undefined, seeded: boolean): Promise<void> {
    const group = distributed === undefined || distributed instanceof ProcessGroup ? distributed : await ProcessGroup.join(distributed);
    // Models of different shapes cannot share a broadcast: compare them first (fit compares the rest).
    if (group) {
      await group.checkAgreement({
        'model config': JSON.stringify(this.model.config),
        'parameter count': String(this.model.numParameters()),
      });
    }
    await collective(() => this.#handle.setDataParallel(group ? group.nativeHandle() : null, seeded));
    this.#group = group;
  }

  /**
   * Resolves once the trainer has joined its data-parallel run (rank 0's weights broadcast);
   * rejects with DistributedError when it cannot. At once without `distributed`.
   */
  async ready(): Promise<void> {
    await this.#parallel;
  }

  /** The data-parallel run's process group (after ready()); undefined when training alone. */
  get processGroup(): ProcessGroup | undefined {
    return this.#group;
  }

  /** This process's rank (0 when training alone). */
  get rank(): number {
    return this.#group?.rank ?? 0;
  }

  /** The `runInfo` of the checkpoint this trainer was resumed from (or of its latest fit); undefined when none was stored. */
  get runInfo(): Record<string, unknown> | undefined {
    return this.#runInfo;
  }

  /** Restores model, optimizer, schedule, random state and progress from a checkpoint written by fit(). */
  static async resume(file: string, options?: TrainerOptions & DataParallelOptions): Promise<Trainer> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError('options: expected an options object');
    if (options !== undefined) checkOptionKeys(options, 'options', [...trainerOptionKeys(), ...DATA_PARALLEL_KEYS]);
    const { distributed, sampleSeededNoise, ...training } = options ?? {};
    checkDataParallel(distributed, sampleSeededNoise);
    const resolved = await inputFile(file);
    // The trainer options saved with the progress rebuild the same optimizer and criterion.
    const probe = await modelInternals.readMetadata(resolved);
    let saved: TrainingMetadata;
    try {
      saved = JSON.parse(probe) as TrainingMetadata;
      if (typeof saved.epoch !== 'number') throw new Error('no epoch');
    } catch {
      throw new TypeError(`path: ${file} has no training progress (not written by Trainer.fit)`);
    }
    // Keys outside TrainerOptions in an older checkpoint were ignored when it was written: drop
    // them (the caller's own options are checked, unknown keys included).
    const stored = Object.fromEntries(
      Object.entries(typeof saved.options === 'object' && saved.options !== null ? saved.options : {}).filter(([k]) =>
        trainerOptionKeys().includes(k),
      ),
    ) as TrainerOptions;
    const merged = { ...stored, ...training };
    const { model, trainer, metadata } = await readingCheckpoint(resolved, () => binding().loadTrainer(resolved, merged));
    const meta = JSON.parse(metadata) as TrainingMetadata;
    const detector = modelInternals.fromHandle(model, meta.categories);
    const parallel: DataParallelOptions = {};
    if (distributed !== undefined) parallel.distributed = distributed;
    if (sampleSeededNoise !== undefined) parallel.sampleSeededNoise = sampleSeededNoise;
    return Trainer.#restore(detector, { ...merged, ...parallel }, { handle: trainer, progress: meta });
  }

  /** A trainer around a restored native state (Trainer.resume): the constructor, given `restored`. */
  static #restore(model: AlignDetr, options: TrainerOptions & DataParallelOptions, restored: Restored): Trainer {
    restoring = restored;
    try {
      return new Trainer(model, options);
    } finally {
      restoring = undefined;
    }
  }

  /** Optimisation steps done so far. */
  get stepCount(): number {
    return this.handle('stepCount').stepCount;
  }

  /**
   * One optimisation step on a collated batch (from DataLoader / collate). A NaN or infinite
   * loss term rejects with a NonFiniteLossError carrying the step and the term; the weights are
   * left as they were.
   */
  async step(batch: DetectionBatch): Promise<StepReport> {
    const handle = this.handle('step');
    const native = toNativeBatch(batch);
    return trainingStep(() => this.#inFlight.track((async () => {
      await this.#parallel;
      return handle.step(native);
    })()));
  }

  /**
   * The losses of a batch without updating (eval mode, no denoising queries unless
   * `options.denoising`). With `returnMatching`, `matching` lists every output's matched pairs,
   * ranks and prime weights.
   * @throws TypeError for an unknown option key or a wrong type, RangeError for a bad seed.
   */
  async evaluateLoss(batch: DetectionBatch, options?: EvaluateLossOptions): Promise<LossReport> {
    const handle = this.handle('evaluateLoss');
    const checked = checkEvaluateLossOptions(options);
    return this.#inFlight.track(handle.evaluateLoss(toNativeBatch(batch), checked));
  }

  /**
   * COCO bbox metrics of the model on `dataset`: a convenience for {@link evaluateModel}
   * (`evaluateModel(trainer.model, dataset, options)`, which needs no trainer), tracked as this
   * trainer's work (its async dispose waits for it). An aborted `options.signal` rejects with
   * its reason: at once when already aborted, else promptly (the batch in flight is dropped).
   */
  async evaluate(dataset: Dataset, options: EvaluateModelOptions = {}): Promise<CocoEvalResult> {
    return this.#inFlight.track(this.#evaluate(dataset, options));
  }

  async #evaluate(dataset: Dataset, options: EvaluateModelOptions): Promise<CocoEvalResult> {
    this.handle('evaluate');
    await this.#parallel;
    // In a data-parallel run every rank evaluates its share and all get the whole set's metrics.
    return evaluateModel(this.model, dataset, this.#group && options.processGroup === undefined ? { ...options, processGroup: this.#group } : options);
  }

  /** Writes a resumable checkpoint (weights, optimizer, schedule, random state, progress) atomically. */
  async saveCheckpoint(
    file: string,
    progress: { epoch: number; stepInEpoch: number; history: EpochRecord[]; runInfo?: Record<string, unknown> },
  ): Promise<void> {
    const handle = this.handle('saveCheckpoint');
    if (this.rank !== 0) return; // in a data-parallel run rank 0 writes for everyone
    const { runInfo = this.#runInfo, ...rest } = progress;
    const meta: TrainingMetadata = { categories: [...this.model.categories], ...rest, options: this.options };
    if (runInfo !== undefined) meta.runInfo = runInfo;
    const target = outputFile(file);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await this.#inFlight.track(handle.save(target, JSON.stringify(meta)));
  }

  /**
   * Trains for `epochs` epochs (counting those a resumed checkpoint already did). Returns the
   * per-epoch history; `stopped` says whether it completed, was aborted, or hit maxMinutes.
   * A NaN or infinite loss rejects with a NonFiniteLossError naming the step and the loss term
   * (its `step` and `term` fields); the last checkpoint written stays as it was.
   */
  async fit(trainSet: Dataset, options: FitOptions): Promise<History> {
    return this.#inFlight.track(this.#fit(trainSet, options));
  }

  async #fit(trainSet: Dataset, options: FitOptions): Promise<History> {
    this.handle('fit');
    if (typeof options !== 'object' || options === null) throw new TypeError('options: expected { epochs, batchSize, ... }');
    checkOptionKeys(options, 'options', FIT_OPTION_KEYS);
    const { epochs, batchSize } = options;
    if (!Number.isSafeInteger(epochs) || epochs < 1) throw new RangeError(`epochs: expected a positive integer below 2^53, got ${epochs}`);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024) throw new RangeError(`batchSize: expected an integer in [1, 1024], got ${batchSize}`);
    checkDataset(trainSet, 'trainSet', { nonEmpty: true });
    if (options.maxMinutes !== undefined) {
      if (typeof options.maxMinutes !== 'number') throw new TypeError('maxMinutes: expected a positive number of minutes');
      if (!(options.maxMinutes > 0)) throw new RangeError(`maxMinutes: expected a positive number, got ${options.maxMinutes}`);
    }
    checkIntegerOption(options.prefetch, 'prefetch', 0, 64);
    checkIntegerOption(options.evalBatchSize, 'evalBatchSize', 1, 1024);
    if (options.checkpointDir !== undefined && typeof options.checkpointDir !== 'string') {
      throw new TypeError(`checkpointDir: expected a folder path string, got ${typeof options.checkpointDir}`);
    }
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
      throw new TypeError(`onProgress: expected a function, got ${typeof options.onProgress}`);
    }
    checkSignal(options.signal, 'signal');
    if (options.valSet !== undefined) checkDataset(options.valSet, 'valSet', { annotations: true });
    if (options.runInfo !== undefined && (typeof options.runInfo !== 'object' || options.runInfo === null || Array.isArray(options.runInfo))) {
      throw new TypeError('runInfo: expected a plain object of JSON-serialisable notes');
    }
    const aug: unknown = options.augment;
    if (aug !== undefined && aug !== 'recipe' && aug !== 'none' && typeof aug !== 'function') {
      throw new TypeError(`augment: expected 'recipe', 'none' or a function, got ${JSON.stringify(aug) ?? typeof aug}`);
    }
    const cfg = this.model.config;
    const augment: Augmentation | undefined =
      options.augment === 'none'
        ? undefined
        : typeof options.augment === 'function'
          ? options.augment
          : recipeAugmentation(cfg.testShortEdge, cfg.testMaxSize);
    await this.#parallel;
    const group = this.#group;
    // In a data-parallel run each rank takes its shard (DistributedSampler); batchSize is per process.
    const loader = new DataLoader(trainSet, {
      batchSize,
      shuffle: true,
      seed: this.options.seed ?? 42,
      augment,
      prefetch: options.prefetch ?? 2,
      ...(group ? { rank: group.rank, worldSize: group.worldSize } : {}),
    });
    const stepsPerEpoch = loader.length;
    const start = Date.now();
    const deadline = options.maxMinutes ? start + options.maxMinutes * 60_000 : Infinity;
    const history: EpochRecord[] = this.#resume ? [...this.#resume.history] : [];
    let epoch = this.#resume?.epoch ?? 0;
    let skip = this.#resume?.stepInEpoch ?? 0;
    this.#resume = undefined;
    if (options.runInfo !== undefined) this.#runInfo = options.runInfo;
    const checkpoint = options.checkpointDir ? path.join(options.checkpointDir, 'last.adetr') : undefined;
    const save = async (e: number, s: number): Promise<void> => {
      if (!checkpoint) return;
      await this.saveCheckpoint(checkpoint, { epoch: e, stepInEpoch: s, history });
      options.onProgress?.({ type: 'checkpoint', path: checkpoint });
    };
    const localStop = (): History['stopped'] | undefined =>
      options.signal?.aborted ? 'aborted' : Date.now() >= deadline ? 'time-limit' : undefined;
    // Every rank stops at the same step (a rank that stopped alone would leave the others
    // waiting in a collective): the reasons are summed over the ranks before each step.
    const stopReason = async (): Promise<History['stopped'] | undefined> => {
      const mine = localStop();
      if (!group) return mine;
      const [aborted, timeLimit] = await group.allreduceSum(Float64Array.from([mine === 'aborted' ? 1 : 0, mine === 'time-limit' ? 1 : 0]));
      return (aborted ?? 0) > 0 ? 'aborted' : (timeLimit ?? 0) > 0 ? 'time-limit' : undefined;
    };
    if (group) {
      // Ranks started with different settings or data fail here, all of them, naming the difference.
      await group.checkAgreement({
        'model config': JSON.stringify(this.model.config),
        categories: JSON.stringify(this.model.categories),
        'trainer options': JSON.stringify(Object.entries(this.options).sort(([a], [b]) => a.localeCompare(b))),
        'dataset size': String(trainSet.length),
        'batch size per process': String(batchSize),
        epochs: String(epochs),
        'steps done': String(this.stepCount),
        'resume position': `${epoch}/${skip}`,
        augment: options.augment === undefined || typeof options.augment === 'string' ? String(options.augment ?? 'recipe') : 'function',
        'validation set size': String(options.valSet?.length ?? 0),
      });
    }

    for (; epoch < epochs; epoch++) {
      let lossSum = 0;
      let lossCount = 0;
      let b = skip;
      for await (const batch of loader.batches({ epoch, start: Math.min(skip, stepsPerEpoch) })) {
        const stop = await stopReason();
        if (stop) {
          await save(epoch, b);
          return { epochs: history, steps: this.stepCount, stopped: stop, checkpoint };
        }
        const report = await this.step(batch);
        lossSum += report.loss;
        lossCount++;
        b++;
        options.onProgress?.({
          type: 'step', epoch, stepInEpoch: b, stepsPerEpoch, step: report.step,
          totalSteps: epochs * stepsPerEpoch, loss: report.loss, losses: report.losses, lr: report.lr,
          elapsedMs: Date.now() - start,
        });
      }
      skip = 0;
      const record: EpochRecord = { epoch, loss: lossCount ? lossSum / lossCount : NaN };
      let evalResult: CocoEvalResult | undefined;
      if (options.valSet) {
        evalResult = await this.evaluate(options.valSet, { batchSize: options.evalBatchSize, signal: options.signal }).catch((e) => {
          if (options.signal?.aborted) return undefined;
          throw e;
        });
        if (evalResult) record.eval = { stats: evalResult.stats, AP: evalResult.AP, AP50: evalResult.AP50, AP75: evalResult.AP75 };
      }
      history.push(record);
      options.onProgress?.({ type: 'epoch', epoch, loss: record.loss, eval: evalResult, elapsedMs: Date.now() - start });
      await save(epoch + 1, 0);
    }
    return { epochs: history, steps: this.stepCount, stopped: 'completed', checkpoint };
  }

  /**
   * Frees the trainer's native state (optimizer, schedule, random state); the model stays
   * usable. Further use of the trainer throws a TypeError naming the method; a second dispose()
   * does nothing.
   */
  dispose(): void {
    this.#disposed = true;
    this.#handle.dispose();
  }

  /** Whether dispose() was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** `using trainer = ...`: dispose(). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `await using trainer = ...`: waits for the trainer's work in flight (fit, step, evaluate, saves), then dispose(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#inFlight.settled();
    this.dispose();
  }

  private handle(what: string): TrainerHandle {
    if (this.#disposed) throw new TypeError(`trainer.${what}: trainer has been disposed`);
    return this.#handle;
  }
}
