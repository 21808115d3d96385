// Shared shapes of the data pipeline: annotated samples, decoded images, datasets.

/** A category as COCO writes it: `id` is what `labels` hold, `name` is for people. */
export interface Category {
  id: number;
  name: string;
}

/**
 * The annotations of one image. Boxes are xyxy in pixels of the image as decoded (N×4, row-major);
 * `labels[i]` is the category id of box i. Optional per-box arrays have length N too.
 */
export interface DetectionSample {
  /** Image id: COCO's `images[].id`; VOC: the position in the split; synthetic: the index. */
  id: number;
  /** Short name: the file's base name without extension (VOC id), or `synthetic-<i>`. */
  name: string;
  /** Absolute path of the image file (absent for generated images). */
  file?: string;
  width: number;
  height: number;
  boxes: Float32Array;
  labels: Int32Array;
  /** COCO `iscrowd` (1 = crowd region; the training recipe drops these). */
  iscrowd?: Uint8Array;
  /** COCO `area` (segment area); absent means box area. */
  area?: Float32Array;
  /** VOC `difficult` flag, kept for evaluation; training keeps the boxes as detectron2 does. */
  difficult?: Uint8Array;
}

/** A decoded 8-bit RGB image, HWC interleaved. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** A sample with its decoded pixels. */
export interface LoadedSample extends DetectionSample {
  image: RgbImage;
}

/** What a dataset's loader threw away or changed while reading annotations. */
export interface DatasetWarnings {
  /** Boxes dropped: zero or negative size, not finite, or wholly outside the image. */
  droppedBoxes: number;
  /** Boxes that stuck out of the image and were clipped to it. */
  clippedBoxes: number;
  /** Images left out because no valid box remained (only with `filterEmpty`). */
  droppedImages: number;
  /** The first few individual reasons, naming file and box. */
  details: string[];
}

export interface Dataset {
  readonly name: string;
  /** Categories in a fixed order; a category's position is its contiguous class index. */
  readonly categories: readonly Category[];
  readonly length: number;
  readonly warnings: DatasetWarnings;
  /** The annotations of sample i, without decoding the image. */
  annotation(i: number): DetectionSample;
  /** Sample i with its decoded image; rejects with an Error naming the file and the reason. */
  get(i: number): Promise<LoadedSample>;
}
