// A dataset over image files whose annotations are already parsed (COCO and VOC share it).
import { decodeImage } from './decode';
import type { Category, Dataset, DatasetWarnings, DetectionSample, LoadedSample } from './types';
import * as fs from 'node:fs';
import { checkIndex } from './validate';
import { must } from '../must';

/**
 * Throws an Error naming `dir` unless it is an existing directory: the image folder is checked
 * when the dataset is made, not when training first reads from it.
 */
export function requireImageFolder(dir: string, option: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${option}: image folder ${dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}`);
  }
  if (!stat.isDirectory()) throw new Error(`${option}: image folder ${dir} is not a directory`);
}

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
    return must(this.samples[checkIndex(i, this.samples.length, this.name)], 'sample');
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
