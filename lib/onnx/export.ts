// exportOnnx: options, the graph's two interfaces, and the write.
//
// Raw interface (default): inputs `images` float32 [N, 3, H, W] (normalised, zero-padded like
// `forward`'s) and `valid_sizes` int64 [N, 2] (each image's unpadded h, w); outputs `logits`
// [N, Q, C] and `boxes` [N, Q, 4] (cx, cy, w, h in [0, 1] of the unpadded image), the final
// decoder layer's, as `model.forward` gives them.
// `postprocess: true`: input `images` uint8 [N, H, W, 3] RGB filling the frame; outputs `scores`
// [N, K], `labels` [N, K] (category ids) and `boxes` [N, K, 4] (x, y, w, h in input pixels),
// sorted by score, as `predict(images, { resize: false })` gives them.
import type { Category } from '../data/types';
import { checkIntegerOption, checkOptionKeys } from '../options';
import { outputFile } from '../paths';
import type { Tensor } from '../tensor';
import { checkExportable, type ExportConfig } from './config';
import type { EmitContext } from './emit-layers';
import { emitDino } from './emit-dino';
import type { MsdaMode } from './emit-msda';
import { emitPostprocess, emitPreprocess } from './emit-postprocess';
import { GraphBuilder, type Dim } from './graph';
import { modelWeights } from './weights';
import { DEFAULT_EXTERNAL_DATA_THRESHOLD, writeModel } from './writer';

export interface ExportOnnxOptions {
  /** ONNX opset, 17 (default) to 21. */
  opset?: number;
  /** Fixed input height in pixels (with `width`); without both, the size is dynamic. */
  height?: number;
  /** Fixed input width in pixels (with `height`). */
  width?: number;
  /** Symbolic height and width (default when neither is given; an error with them). */
  dynamicSize?: boolean;
  /** uint8 RGB in, top-K detections out (see above). Default false: the raw interface. */
  postprocess?: boolean;
  /** Detections per image with `postprocess` (default and maximum: the config's selectTopK, at most queries × classes). */
  maxDetections?: number;
  /** Deformable-attention sampling: 'gather' (default, standard ops only) or 'grid-sample' (GridSample). */
  msda?: MsdaMode;
  /** Weights above this many bytes go to `<path>.data` as ONNX external data (default 2 GiB − 64 MiB). */
  externalDataThreshold?: number;
}

export interface ExportOnnxResult {
  /** The files written: the model, then its external data file when there is one. */
  files: string[];
}

/** What the exporter needs of a model. */
export interface ExportSource {
  config: ExportConfig;
  categories: readonly Category[];
  parameter(name: string): Tensor;
  version: string;
}

const KEYS = ['opset', 'height', 'width', 'dynamicSize', 'postprocess', 'maxDetections', 'msda', 'externalDataThreshold'];

function checkBoolean(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${name}: expected a boolean, got ${typeof v}`);
}

interface Resolved {
  opset: number;
  size?: { height: number; width: number };
  postprocess: boolean;
  maxDetections: number;
  msda: MsdaMode;
  threshold: number;
}

/** Tokens of the four levels for an H×W input (strides 8..64, ceil each halving). */
function tokenCount(height: number, width: number): number {
  let n = 0;
  for (let l = 3; l <= 6; l++) n += Math.ceil(height / 2 ** l) * Math.ceil(width / 2 ** l);
  return n;
}

function resolveOptions(cfg: ExportConfig, options: ExportOnnxOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new TypeError('options: expected an options object');
  checkOptionKeys(options, 'options', KEYS);
  const { opset = 17, height, width, dynamicSize, postprocess = false, msda = 'gather' } = options;
  checkIntegerOption(opset, 'opset', 17, 21);
  checkIntegerOption(height, 'height', 1, 8192);
  checkIntegerOption(width, 'width', 1, 8192);
  checkBoolean(dynamicSize, 'dynamicSize');
  checkBoolean(postprocess, 'postprocess');
  if ((height === undefined) !== (width === undefined)) throw new TypeError(`${height === undefined ? 'height' : 'width'}: required with ${height === undefined ? 'width' : 'height'}`);
  if (dynamicSize === true && height !== undefined) throw new TypeError('dynamicSize: true cannot be combined with height and width');
  if (dynamicSize === false && height === undefined) throw new TypeError('dynamicSize: false needs height and width');
  if (msda !== 'gather' && msda !== 'grid-sample') throw new TypeError(`msda: expected 'gather' or 'grid-sample', got ${JSON.stringify(msda)}`);
  const most = Math.min(cfg.selectTopK, cfg.numQueries * cfg.numClasses);
  checkIntegerOption(options.maxDetections, 'maxDetections', 1, most);
  if (options.maxDetections !== undefined && !postprocess) throw new TypeError('maxDetections: only with postprocess: true');
  checkIntegerOption(options.externalDataThreshold, 'externalDataThreshold', 0, Number.MAX_SAFE_INTEGER);
  if (height !== undefined && width !== undefined && tokenCount(height, width) < cfg.numQueries) {
    throw new RangeError(`height, width: ${height}×${width} gives ${tokenCount(height, width)} encoder tokens, fewer than the model's ${cfg.numQueries} queries`);
  }
  return {
    opset,
    size: height !== undefined && width !== undefined ? { height, width } : undefined,
    postprocess,
    maxDetections: options.maxDetections ?? most,
    msda,
    threshold: options.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD,
  };
}

/** Builds the graph of `source` with `options` (exported for tests and the CLI). */
export function buildGraph(source: ExportSource, options: ExportOnnxOptions = {}): GraphBuilder {
  const cfg = source.config;
  const opts = resolveOptions(cfg, options);
  checkExportable(cfg, !opts.postprocess);
  const g = new GraphBuilder(opts.opset);
  const ctx: EmitContext = { g, w: modelWeights((name) => source.parameter(name)) };
  const h: Dim = opts.size?.height ?? 'height';
  const w: Dim = opts.size?.width ?? 'width';
  if (opts.postprocess) {
    const raw = g.input('images', 'uint8', ['batch', h, w, 3]);
    const images = g.scoped('preprocess', () => emitPreprocess(g, raw));
    // Every image fills the frame: its valid size is the frame's.
    const frame = g.op1('Shape', [images], { start: 2, end: 4 });
    const validSizes = g.op1('Expand', [g.unsqueeze(frame, [0]), g.concat([g.dim(images, 0), g.ints([2])], 0)]);
    const out = emitDino(ctx, cfg, opts.msda, images, validSizes, false);
    const det = emitPostprocess(g, out.logits, out.boxes, images, {
      numClasses: cfg.numClasses,
      numQueries: cfg.numQueries,
      selectTopK: cfg.selectTopK,
      maxDetections: opts.maxDetections,
      categoryIds: source.categories.map((c) => c.id),
    });
    const k = opts.maxDetections;
    g.output(det.scores, 'scores', 'float32', ['batch', k]);
    g.output(det.labels, 'labels', 'int64', ['batch', k]);
    g.output(det.boxes, 'boxes', 'float32', ['batch', k, 4]);
  } else {
    const images = g.input('images', 'float32', ['batch', 3, h, w]);
    const validSizes = g.input('valid_sizes', 'int64', ['batch', 2]);
    const out = emitDino(ctx, cfg, opts.msda, images, validSizes, true);
    g.output(out.logits, 'logits', 'float32', ['batch', cfg.numQueries, cfg.numClasses]);
    g.output(out.boxes, 'boxes', 'float32', ['batch', cfg.numQueries, 4]);
  }
  return g;
}

/** Exports `source` to `file` (see the module comment for the graph's interface). */
export async function exportOnnx(source: ExportSource, file: string, options: ExportOnnxOptions = {}): Promise<ExportOnnxResult> {
  const target = outputFile(file);
  const threshold = resolveOptions(source.config, options).threshold;
  const g = buildGraph(source, options);
  const files = await writeModel(
    g,
    {
      producerVersion: source.version,
      graphName: 'align-detr',
      metadata: {
        categories: JSON.stringify(source.categories),
        config: JSON.stringify(source.config),
        interface: options.postprocess ? 'postprocess' : 'raw',
      },
    },
    target,
    threshold,
  );
  return { files };
}
