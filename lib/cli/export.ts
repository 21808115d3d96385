// `align-detr export`: a checkpoint to an ONNX file (lib/onnx), and the flags it takes.
import { AlignDetr } from '../model';
import type { ExportOnnxOptions } from '../onnx/export';
import { UsageError, digits, type Flags } from './flags';

/** The flags of `export` (booleans listed in EXPORT_BOOLEAN_FLAGS). */
export const EXPORT_FLAGS = ['checkpoint', 'out', 'height', 'width', 'dynamic-size', 'postprocess', 'opset', 'max-detections', 'msda'] as const;
export const EXPORT_BOOLEAN_FLAGS = ['dynamic-size', 'postprocess'] as const;

export const EXPORT_USAGE = `export:
  --checkpoint FILE            the model (.adetr) to export (required)
  --out FILE                   default ./model.onnx (weights over 2 GB go to FILE.data)
  --height N --width N         a fixed input size; without them the size is dynamic
  --dynamic-size               symbolic height and width (the default without --height/--width)
  --postprocess                uint8 RGB [N, H, W, 3] in; scores, labels (category ids) and boxes
                               (x, y, w, h in input pixels) of the top detections out. Without it:
                               normalised images and valid sizes in, per-query logits and boxes out
  --max-detections N           detections per image with --postprocess (default: the model's selectTopK)
  --opset N                    17 (default) to 21
  --msda gather|grid-sample    deformable-attention sampling (default gather: standard ops only)`;

/** Runs `export`; bad flags are UsageErrors (exit status 2). */
export async function runExport(flags: Flags): Promise<number> {
  if (typeof flags.checkpoint !== 'string') throw new UsageError('export: --checkpoint FILE is required');
  const out = typeof flags.out === 'string' ? flags.out : 'model.onnx';
  const msda = flags.msda;
  if (msda !== undefined && msda !== 'gather' && msda !== 'grid-sample') throw new UsageError(`--msda: expected gather or grid-sample, got '${String(msda)}'`);
  const options: ExportOnnxOptions = {
    height: digits(flags, 'height'),
    width: digits(flags, 'width'),
    opset: digits(flags, 'opset'),
    maxDetections: digits(flags, 'max-detections'),
    postprocess: flags.postprocess === true,
    ...(flags['dynamic-size'] === true ? { dynamicSize: true } : {}),
    ...(msda !== undefined ? { msda } : {}),
  };
  for (const key of Object.keys(options) as (keyof ExportOnnxOptions)[]) if (options[key] === undefined) delete options[key];
  const model = await AlignDetr.load(flags.checkpoint);
  try {
    const started = Date.now();
    const { files } = await model.exportOnnx(out, options);
    const size = options.height !== undefined ? `${options.height}×${options.width}` : 'dynamic size';
    console.log(`wrote ${files.join(' and ')} (${options.postprocess ? 'postprocess' : 'raw'} interface, ${size}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    model.dispose();
  }
  return 0;
}
