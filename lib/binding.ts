// The native addon's whole surface, declared once: every function and handle class that
// native/binding/*.cc puts on `exports`, with the argument and result shapes the C++ reads and
// builds. lib/ modules call the addon only through `binding()`; none declares or casts its own
// slice. The names are also kept as runtime lists (ADDON_EXPORTS, HANDLE_MEMBERS), checked here
// against the types at compile time and in test/binding-surface.test.ts against the loaded addon.
import type { RgbImage } from './data/types';
import type { GroupOptions } from './dist/group';
import type { Assignment } from './ops/lsa';
import type { ModelConfig, PredictOptions, ForwardOptions, StageTimings, StateDictReport } from './model';
import { loadAddon } from './native';
import type { BuildInfo, TensorMemory } from './runtime';
import type { DType, TensorData } from './tensor';
import type { EvaluateLossOptions, LossReport, StepReport, TrainerOptions } from './trainer';

// ---- handle classes ---------------------------------------------------------------------------

/** A tensor handle (tensor_wrap.cc). Every member throws a TypeError once disposed, but `disposed` and `dispose`. */
export interface TensorHandle {
  readonly shape: number[];
  readonly dtype: string;
  readonly disposed: boolean;
  /** A copy (bool / half tensors come back as float32). */
  toTypedArray(): TensorData;
  dispose(): void;
  /** A reshaped copy; one dim may be -1. */
  reshape(shape: readonly number[]): TensorHandle;
}

/** The TensorHandle class: constructed only by the addon; `fromTypedArray` copies `data`. */
export interface TensorHandleClass {
  readonly prototype: TensorHandle;
  fromTypedArray(data: TensorData, shape: readonly number[], dtype?: DType): TensorHandle;
}

/** What ModelHandle.forward resolves to: TensorHandles where ForwardOutput has Tensors. */
export interface NativeForwardOutput {
  layers: NativeLayerPrediction[];
  encoder: NativeLayerPrediction;
  levelFeatures: TensorHandle[];
  memory: TensorHandle;
  /** Present with `{ profile: true }`. */
  timings?: StageTimings;
}

/** One output's raw predictions: logits [B, Q, C], boxes [B, Q, 4] (normalised cxcywh). */
export interface NativeLayerPrediction {
  logits: TensorHandle;
  boxes: TensorHandle;
}

/** One image's detections from ModelHandle.predict: k boxes (xyxy pixels), scores and class indices. */
export interface NativeDetections {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

/** A model handle (model_binding.cc). Every member but `dispose`/`disposed` throws a TypeError once disposed. */
export interface ModelHandle {
  readonly disposed: boolean;
  numParameters(trainableOnly?: boolean): number;
  config(): ModelConfig;
  /** Parameter names in detrex's state-dict naming. */
  parameterNames(): string[];
  /** A copy of one parameter or buffer; RangeError for an unknown name. */
  parameter(name: string): TensorHandle;
  /** Options: scoreThreshold, maxDetections only (any other key is a TypeError). */
  predict(images: readonly RgbImage[], options: Omit<PredictOptions, 'signal'>): Promise<NativeDetections[]>;
  forward(images: TensorHandle, validSizes: TensorHandle, options: ForwardOptions): Promise<NativeForwardOutput>;
  save(path: string, metadata: string): Promise<void>;
  loadPytorch(path: string): Promise<StateDictReport>;
  dispose(): void;
}

/** The ModelHandle class: constructed only by the addon (createModel, loadModel, loadTrainer). */
export interface ModelHandleClass {
  readonly prototype: ModelHandle;
}

/** The batch a TrainerHandle reads: a DetectionBatch's images and shape, and each target's boxes, labels and size. */
export interface NativeBatch {
  images: Float32Array;
  shape: [number, number, number, number];
  /** `id`: the sample's id (per-sample noise seeds derive from it). */
  targets: { boxes: Float32Array; labels: Int32Array; size: [number, number]; id?: number }[];
}

/** A trainer handle (trainer_binding.cc): optimizer, schedule and criterion around a model's state. */
export interface TrainerHandle {
  /** Optimisation steps done (0 once disposed). */
  readonly stepCount: number;
  step(batch: NativeBatch): Promise<StepReport>;
  evaluateLoss(batch: NativeBatch, options: EvaluateLossOptions): Promise<LossReport>;
  save(path: string, metadata: string): Promise<void>;
  dispose(): void;
  /** Joins a data-parallel run (rank 0's weights are broadcast) or, with null, leaves it; sets per-sample noise. */
  setDataParallel(group: ProcessGroupHandle | null, sampleSeededNoise: boolean): Promise<void>;
}

/** The TrainerHandle class: constructed only by the addon (createTrainer, loadTrainer). */
export interface TrainerHandleClass {
  readonly prototype: TrainerHandle;
}

/** A c10d process group (dist_binding.cc). Collectives resolve once every rank took part. */
export interface ProcessGroupHandle {
  readonly rank: number;
  readonly worldSize: number;
  readonly disposed: boolean;
  /** Every rank's facts must be equal, else a DistributedError (code ERR_ALIGN_DETR_DISTRIBUTED) naming the facts and ranks. */
  checkAgreement(facts: Record<string, string>): Promise<void>;
  /** Every rank's rows (`rows.length` a multiple of `cols`), concatenated in rank order. */
  allgatherRows(rows: Float64Array, cols: number): Promise<Float64Array>;
  /** The element-wise sum over ranks. */
  allreduceSum(values: Float64Array): Promise<Float64Array>;
  barrier(): Promise<void>;
  dispose(): void;
}

/** The ProcessGroupHandle class: constructed only by the addon (joinProcessGroup). */
export interface ProcessGroupHandleClass {
  readonly prototype: ProcessGroupHandle;
}

/** What joinProcessGroup reads (any other key is a TypeError): the public group options plus the thread count. */
export type NativeGroupOptions = GroupOptions & { threads?: number };

// ---- module functions -------------------------------------------------------------------------

/** One row of the config field table (configFields()), in DinoConfig's order. */
export interface ConfigFieldInfo {
  name: string;
  kind: 'integer' | 'number' | 'boolean' | 'choice';
  /** For 'integer' and 'number'. */
  min?: number;
  max?: number;
  /** For 'choice'. */
  choices?: string[];
}

/** One row of the trainer option table (native/train/trainer_options.h). */
export interface TrainerOptionField {
  name: keyof TrainerOptions;
  kind: 'number' | 'integer' | 'boolean' | 'choice' | 'integer-list';
  /** For the numeric kinds (an integer-list's elements). */
  min?: number;
  max?: number;
  /** For 'choice'. */
  choices?: string[];
  /** One line for help texts, with the default. */
  doc: string;
  /** The align recipe's default. */
  default: number | boolean | string | number[];
}

/** Everything the addon exports. */
export interface AddonBinding {
  // addon.cc / tensor_wrap.cc
  TensorHandle: TensorHandleClass;
  // runtime_binding.cc
  buildInfo(): BuildInfo;
  tensorMemory(): TensorMemory;
  setNumThreads(n: number): void;
  // model_binding.cc
  ModelHandle: ModelHandleClass;
  createModel(preset: string, overrides: Record<string, number | boolean | string>, seed?: number): Promise<ModelHandle>;
  loadModel(path: string): Promise<{ model: ModelHandle; metadata: string }>;
  readCheckpointMetadata(path: string): Promise<string>;
  configFields(): ConfigFieldInfo[];
  // trainer_binding.cc
  TrainerHandle: TrainerHandleClass;
  createTrainer(model: ModelHandle, options: TrainerOptions): TrainerHandle;
  loadTrainer(path: string, options: TrainerOptions): Promise<{ model: ModelHandle; trainer: TrainerHandle; metadata: string }>;
  trainerOptionFields(): TrainerOptionField[];
  // dist_binding.cc
  ProcessGroupHandle: ProcessGroupHandleClass;
  joinProcessGroup(options: NativeGroupOptions): Promise<ProcessGroupHandle>;
  distributedBackends(): string[];
  // lsa_binding.cc: `cost` is a TensorHandle or { data, rows, cols } (the addon checks which)
  lsaSolve(cost: unknown, maximize: boolean): Assignment;
  lsaSolveBatch(costs: unknown[], maximize: boolean): Assignment[];
  lsaSolveBatchAsync(costs: unknown[], maximize: boolean): Promise<Assignment[]>;
  lsaKernel(): string;
  // msda_binding.cc
  msDeformAttn(value: TensorHandle, spatialShapes: TensorHandle, levelStartIndex: TensorHandle,
    samplingLocations: TensorHandle, attentionWeights: TensorHandle): TensorHandle;
  msDeformAttnBackward(value: TensorHandle, spatialShapes: TensorHandle, levelStartIndex: TensorHandle,
    samplingLocations: TensorHandle, attentionWeights: TensorHandle, gradOutput: TensorHandle):
    { gradValue: TensorHandle; gradSamplingLocations: TensorHandle; gradAttentionWeights: TensorHandle };
  // align_loss_binding.cc: options are passed through (the addon checks their keys)
  alignLoss(logits: TensorHandle, target: TensorHandle, positive: TensorHandle, weights: TensorHandle | null,
    options: object): { loss: number; gradLogits: TensorHandle | null };
  alignTargets(prob: TensorHandle, iou: TensorHandle, groups: TensorHandle, options: object):
    { quality: TensorHandle; rank: TensorHandle; weight: TensorHandle; target: TensorHandle };
  // preprocess_binding.cc: the one image preprocessing (native/model/preprocess)
  resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage>;
  normalizeImages(images: readonly RgbImage[]): { images: Float32Array; shape: [number, number, number, number] };
  prepareImages(images: readonly RgbImage[], options: { resize: boolean; shortEdge: number; maxSize: number }):
    Promise<{ images: TensorHandle; validSizes: TensorHandle }>;
  shortestEdgeSize(h: number, w: number, shortEdge: number, maxSize?: number): [number, number];
  pixelNormalization(): { mean: [number, number, number]; std: [number, number, number] };
}

// ---- the names, at run time -------------------------------------------------------------------

/** The addon's export names, exactly the keys of AddonBinding (checked below). */
export const ADDON_EXPORTS = [
  'TensorHandle', 'buildInfo', 'tensorMemory', 'setNumThreads',
  'ModelHandle', 'createModel', 'loadModel', 'readCheckpointMetadata', 'configFields',
  'TrainerHandle', 'createTrainer', 'loadTrainer', 'trainerOptionFields',
  'ProcessGroupHandle', 'joinProcessGroup', 'distributedBackends',
  'lsaSolve', 'lsaSolveBatch', 'lsaSolveBatchAsync', 'lsaKernel',
  'msDeformAttn', 'msDeformAttnBackward',
  'alignLoss', 'alignTargets',
  'resizeImage', 'normalizeImages', 'prepareImages', 'shortestEdgeSize', 'pixelNormalization',
] as const;

/** The handle classes among the exports, with their prototype methods, getters and static methods. */
export const HANDLE_MEMBERS = {
  TensorHandle: {
    methods: ['toTypedArray', 'dispose', 'reshape'],
    getters: ['shape', 'dtype', 'disposed'],
    statics: ['fromTypedArray'],
  },
  ModelHandle: {
    methods: ['numParameters', 'config', 'predict', 'forward', 'save', 'loadPytorch', 'parameterNames', 'parameter', 'dispose'],
    getters: ['disposed'],
    statics: [],
  },
  TrainerHandle: {
    methods: ['step', 'evaluateLoss', 'save', 'dispose', 'setDataParallel'],
    getters: ['stepCount'],
    statics: [],
  },
  ProcessGroupHandle: {
    methods: ['checkAgreement', 'allgatherRows', 'allreduceSum', 'barrier', 'dispose'],
    getters: ['rank', 'worldSize', 'disposed'],
    statics: [],
  },
} as const;

// Compile-time checks that the lists and the types name the same members (a missing or extra
// name on either side fails the build).
type SameKeys<A extends PropertyKey, B extends PropertyKey> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
type Members<C extends keyof typeof HANDLE_MEMBERS> =
  | (typeof HANDLE_MEMBERS)[C]['methods'][number]
  | (typeof HANDLE_MEMBERS)[C]['getters'][number];
type Statics<C extends keyof typeof HANDLE_MEMBERS> = (typeof HANDLE_MEMBERS)[C]['statics'][number];
const surfaceChecks: {
  exports: SameKeys<keyof AddonBinding, (typeof ADDON_EXPORTS)[number]>;
  tensor: SameKeys<keyof TensorHandle, Members<'TensorHandle'>>;
  tensorStatics: SameKeys<Exclude<keyof TensorHandleClass, 'prototype'>, Statics<'TensorHandle'>>;
  model: SameKeys<keyof ModelHandle, Members<'ModelHandle'>>;
  modelStatics: SameKeys<Exclude<keyof ModelHandleClass, 'prototype'>, Statics<'ModelHandle'>>;
  trainer: SameKeys<keyof TrainerHandle, Members<'TrainerHandle'>>;
  trainerStatics: SameKeys<Exclude<keyof TrainerHandleClass, 'prototype'>, Statics<'TrainerHandle'>>;
  group: SameKeys<keyof ProcessGroupHandle, Members<'ProcessGroupHandle'>>;
  groupStatics: SameKeys<Exclude<keyof ProcessGroupHandleClass, 'prototype'>, Statics<'ProcessGroupHandle'>>;
  handles: SameKeys<keyof typeof HANDLE_MEMBERS, 'TensorHandle' | 'ModelHandle' | 'TrainerHandle' | 'ProcessGroupHandle'>;
} = {
  exports: true, tensor: true, tensorStatics: true, model: true, modelStatics: true, trainer: true, trainerStatics: true,
  group: true, groupStatics: true, handles: true,
};
void surfaceChecks;

/** The loaded addon (loaded on first use; see ./native.ts for how the binary is chosen). */
export function binding(): AddonBinding {
  return loadAddon() as unknown as AddonBinding;
}
