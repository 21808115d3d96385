// align-detr: public entry point.
export { Tensor } from './tensor';
export type { DType, DataTypeMap, TensorData } from './tensor';
export { buildInfo, setNumThreads, tensorMemory } from './runtime';
export type { BuildInfo, TensorMemory } from './runtime';
export type { TrainerOptionField } from './binding';
export { ops } from './ops/index';
export type {
  Assignment, CostInput, CostMatrix, LinearSumAssignmentOptions, MsDeformAttnGrads,
  AlignLossKind, AlignLossOptions, AlignLossResult, AlignTargetOptions, AlignTargets,
} from './ops/index';
export { Trainer, defaultLoss, recipeAugmentation, trainerOptionFields } from './trainer';
export type {
  EpochRecord, FitOptions, History, LossKind, ProgressEvent, StepReport, TrainerOptions, DataParallelOptions,
  EvaluateLossOptions, ImageMatching, LossReport, OutputMatching,
} from './trainer';
export { AlignDetr } from './model';
export type { ExportOnnxOptions, ExportOnnxResult } from './onnx/export';
export type {
  CreateOptions, Detection, ForwardOptions, ForwardOutput, StageTimings, ImageInput, ModelConfig, PredictOptions, Preset, StateDictReport,
} from './model';
export {
  datasets, DataLoader, collate, pixelNormalization, decodeImage, ImageDecodeError, CocoAnnotationError,
  VocAnnotationError, compose, randomHorizontalFlip, resizeShortestEdge, randomCrop, detrTrainAugmentation,
  detrTestAugmentation, flipBoxes, scaleBoxes, cropBoxes, shortestEdgeSize, flipImage, cropImage, resizeImage,
} from './data/index';
export type {
  Dataset, DetectionSample, LoadedSample, RgbImage, Category, DatasetWarnings, DetectionBatch, BatchTarget,
  DataLoaderOptions, Augmentation, AugSample, CocoOptions, CocoJson, VocOptions, SyntheticOptions,
} from './data/index';
export {
  evaluateCoco, CocoEvaluator, bestRegressedRecall, matchingInstability, IOU_THRESHOLDS, RECALL_THRESHOLDS,
  AREA_RANGES, MAX_DETS, evaluateModel, cocoGroundTruth,
} from './evaluator/index';
export type {
  CocoEvalResult, CocoDataset, CocoAnnotation, CocoImage, CocoCategory, CocoDetection, CocoDetectionColumns,
  CocoDetections, AlignmentSample, BestRegressedRecallResult, BoxFormat, ImageMatchings, LayerMatching,
  MatchingInstabilityResult, EvaluateModelOptions,
} from './evaluator/index';
export { AlignDetrError, CheckpointError, DatasetError, DistributedError, NonFiniteLossError } from './errors';
export { ProcessGroup, distributedBackends, groupOptionsFromEnv } from './dist/group';
export type { DistributedOptions, GroupOptions } from './dist/group';
export { DistributedSampler } from './data/sampler';
export type { DistributedSamplerOptions } from './data/sampler';
