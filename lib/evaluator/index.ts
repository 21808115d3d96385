// COCO bbox evaluation (pycocotools-exact) and alignment diagnostics.
export { CocoEvaluator, evaluateCoco } from './coco-evaluator';
export { AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS } from './coco-eval';
export type {
  CocoAnnotation, CocoCategory, CocoDataset, CocoDetection, CocoDetectionColumns, CocoDetections,
  CocoEvalResult, CocoImage,
} from './coco-types';
export { bestRegressedRecall, matchingInstability } from './diagnostics';
export { cocoGroundTruth, evaluateModel } from './evaluate-model';
export type { EvaluateModelOptions } from './evaluate-model';
export type {
  AlignmentSample, BestRegressedRecallResult, BoxFormat, ImageMatchings, LayerMatching,
  MatchingInstabilityResult,
} from './diagnostics';
