// The library's own error classes. Argument errors stay TypeError / RangeError; these are for
// failures a caller may want to branch on.

/** Base class of align-detr's own errors. */
export class AlignDetrError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A checkpoint file is damaged: one of its records fails its checksum. */
export class CheckpointError extends AlignDetrError {
  /** The checkpoint's path. */
  readonly file: string;
  constructor(message: string, file: string, options?: { cause?: unknown }) {
    super(message, options);
    this.file = file;
  }
}

const CHECKPOINT_CODE = 'ERR_ALIGN_DETR_CHECKPOINT';

/** Runs a native checkpoint read, turning the addon's checkpoint errors into CheckpointError. */
export async function readingCheckpoint<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof Error && (e as { code?: unknown }).code === CHECKPOINT_CODE) throw new CheckpointError(e.message, file, { cause: e });
    throw e;
  }
}
