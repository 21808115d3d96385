// The data pipeline's public surface: dataset factories, loader, batching and augmentations.
import { coco } from './coco';
import { synthetic } from './synthetic';
import { voc } from './voc';

/** Dataset factories: each returns a Promise<Dataset>. */
export const datasets = { coco, voc, synthetic } as const;

export { DataLoader } from './loader';
export type { DataLoaderOptions } from './loader';
export { collate, pixelNormalization } from './batch';
export type { BatchInput, BatchTarget, CollateOptions, DetectionBatch } from './batch';
export {
  compose, cropBoxes, cropImage, detrTestAugmentation, detrTrainAugmentation, flipBoxes, flipImage,
  randomCrop, randomHorizontalFlip, resizeImage, resizeShortestEdge, sampleAbsoluteRangeCrop, scaleBoxes,
  shortestEdgeSize,
} from './transforms';
export type { AugSample, Augmentation, DetrAugmentationOptions, ResizeShortestEdgeOptions } from './transforms';
export { decodeImage, ImageDecodeError } from './decode';
export { CocoAnnotationError } from './coco';
export type { CocoJson, CocoOptions } from './coco';
export { VocAnnotationError } from './voc';
export type { VocOptions } from './voc';
export type { SyntheticOptions } from './synthetic';
export { mulberry32, deriveSeed } from './rng';
export type { Rng } from './rng';
export { XmlError } from './xml';
export type { Category, Dataset, DatasetWarnings, DetectionSample, LoadedSample, RgbImage } from './types';
