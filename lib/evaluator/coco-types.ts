// COCO JSON shapes accepted by the evaluator, and the result it returns.

/** One entry of a COCO dataset's `images` list (only `id` is read). */
export interface CocoImage {
  id: number;
  [key: string]: unknown;
}

/** One entry of a COCO dataset's `categories` list (only `id` is read). */
export interface CocoCategory {
  id: number;
  name?: string;
  [key: string]: unknown;
}

/** A ground-truth annotation. `bbox` is [x, y, width, height] in pixels. */
export interface CocoAnnotation {
  /** Unique annotation id. Optional here (pycocotools requires it); never reuse one. */
  id?: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number] | number[];
  /**
   * Object area used for the small/medium/large ranges (the mask area in COCO),
   * not w*h. Optional here: when absent, w*h of `bbox` is used.
   */
  area?: number;
  /** 1/true marks a crowd region: ignored, and it may absorb many detections. */
  iscrowd?: number | boolean;
  [key: string]: unknown;
}

/** A COCO ground-truth dataset (instances_*.json). */
export interface CocoDataset {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
  [key: string]: unknown;
}

/** One detection in the COCO results format. `bbox` is [x, y, width, height]. */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number] | number[];
  score: number;
  [key: string]: unknown;
}

/**
 * Detections in columns (for model outputs, avoids one object per box):
 * N image ids, N category ids, N*4 boxes (x, y, w, h row by row), N scores.
 */
export interface CocoDetectionColumns {
  imageIds: ArrayLike<number>;
  categoryIds: ArrayLike<number>;
  boxes: ArrayLike<number>;
  scores: ArrayLike<number>;
}

/** Detections in either accepted form. */
export type CocoDetections = CocoDetection[] | CocoDetectionColumns;

/**
 * COCOeval bbox result. `stats` holds the 12 numbers of COCOeval.summarize in
 * its order; the named fields repeat them. A statistic with no defined entry
 * (e.g. no large objects at all) is -1, as in pycocotools.
 */
export interface CocoEvalResult {
  stats: number[];
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
  /** Category ids in ascending order: the K axis of `precision` and `recall`. */
  catIds: number[];
  /**
   * COCOeval.eval['precision'], shape [T=10, R=101, K, A=4, M=3] in C order
   * (IoU threshold, recall threshold, category, area range, maxDets); -1 where undefined.
   */
  precision: Float64Array;
  /** COCOeval.eval['recall'], shape [T=10, K, A=4, M=3] in C order; -1 where undefined. */
  recall: Float64Array;
}
