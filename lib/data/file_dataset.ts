// A dataset over image files whose annotations are already parsed (COCO and VOC share it).
import { decodeImage } from './decode';
import type { Category, Dataset, DatasetWarnings, DetectionSample, LoadedSample } from './types';
import { checkIndex } from './validate';

export class FileDataset implements Dataset {
  constructor(
    readonly name: string,
    readonly categories: readonly Category[],
    private readonly samples: readonly DetectionSample[],
    readonly warnings: DatasetWarnings,
  ) {}

  get length(): number {
    return this.samples.length;
  }

  annotation(i: number): DetectionSample {
    return this.samples[checkIndex(i, this.samples.length, this.name)];
  }

  async get(i: number): Promise<LoadedSample> {
    const sample = this.annotation(i);
    const file = sample.file as string;
    const image = await decodeImage(file);
    // Boxes are in the annotation's pixel frame; a different decoded size (a wrong size field,
    // or an EXIF rotation the annotator did not see) would misplace every box, so refuse it.
    if (image.width !== sample.width || image.height !== sample.height) {
      throw new Error(
        `image ${file}: decoded size ${image.width}x${image.height} differs from the annotated ` +
          `${sample.width}x${sample.height}`,
      );
    }
    return { ...sample, image };
  }
}
