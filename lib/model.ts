// AlignDetr: the DINO-4scale detector trained with the Align-DETR recipe.
//
// The network lives in native memory (libtorch); this class is a handle with async methods
// that run off the JS thread. Create one with `await AlignDetr.create(...)` or
// `await AlignDetr.load(path)`, and free it with `dispose()`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeImage } from './data/decode';
import type { Category, RgbImage } from './data/types';
import { InFlight, checkSignal, raceAbort } from './abort';
import { binding } from './binding';
import type { ModelHandle, NativeLayerPrediction } from './binding';
import { readingCheckpoint } from './errors';
import { packageVersion } from './native';
import { exportOnnx, type ExportOnnxOptions, type ExportOnnxResult } from './onnx/export';
import { checkOptionKeys } from './options';
import { inputFile, outputFile } from './paths';
import { Tensor, handleOf, wrapHandle } from './tensor';
import { must } from './must';

/**
 * Built-in models: `dino-r50-4scale` (the paper's), `tiny` (CPU-sized), and the neighbouring
 * systems on the same R50 model: `stable-dino` (dense memory fusion) and `sd-detr` (the
 * decoupled decoder).
 */
export type Preset = 'dino-r50-4scale' | 'tiny' | 'stable-dino' | 'sd-detr';

/**
 * Every configurable field of the model (docs/numerical-contract.md §A); presets fill all of them. Integer fields must
 * be integers (a fraction or a non-finite value is a TypeError), and every field has a documented
 * range: a value outside it is a RangeError naming the field ("dnNumber: expected an integer in
 * [0, 1000], got 9007199254740992"), from `create` and from a loaded checkpoint alike (there a
 * CheckpointError). An unknown key is a TypeError naming it.
 */
export interface ModelConfig {
  /** Object classes, in [1, 100000]. */
  numClasses: number;
  /** ResNet depth: 18, 34, 50 or 101. */
  backboneDepth: number;
  /** Stem / res2 base width: a multiple of 8 in [8, 256]. */
  backboneWidth: number;
  /** Frozen backbone stages, in [0, 5]. */
  freezeAt: number;
  /** Trainable GroupNorm in the backbone instead of FrozenBatchNorm (the tiny preset, trained from scratch). */
  backboneGroupNorm: boolean;
  /** Transformer width: a multiple of 4 in [8, 4096]. */
  hiddenDim: number;
  /** Attention heads, in [1, 64], dividing hiddenDim. */
  numHeads: number;
  /** Feature levels: only 4 (the 4-scale model). */
  numLevels: number;
  /** Deformable-attention sampling points per head and level, in [1, 16]. */
  numPoints: number;
  /** Encoder layers, in [1, 24]. */
  encoderLayers: number;
  /** Decoder layers, in [1, 24]. */
  decoderLayers: number;
  /** Feed-forward width, in [1, 16384]. */
  ffnDim: number;
  /** Object queries, in [1, 10000]. */
  numQueries: number;
  /** GroupNorm groups of the neck, in [1, 4096], dividing hiddenDim. */
  neckGroups: number;
  /** Denoising queries in training, in [0, 1000]. */
  dnNumber: number;
  /** Denoising label-flip ratio, in [0, 1]. */
  labelNoiseRatio: number;
  /** Denoising box-noise scale, in [0, 10]. */
  boxNoiseScale: number;
  /** Inference short edge, in [16, 8192]. */
  testShortEdge: number;
  /** Inference long-edge cap, in [16, 8192] and at least testShortEdge. */
  testMaxSize: number;
  /** Detections kept per image by post-processing, in [1, 10000]. */
  selectTopK: number;
  /** Padded images give the same detections as the images alone (default true); false reproduces detrex exactly. */
  padInvariant: boolean;
  /**
   * Stable-DINO's memory fusion: 'dense' feeds the two-stage selection and the decoder
   * LayerNorm(Linear(concat[neck tokens, each encoder layer's output])) instead of the last
   * encoder layer's output (weights `transformer.encoder.fusion_layer.{0,1}.*`, as Stable-DINO
   * names them). Default 'none'.
   */
  memoryFusion: 'none' | 'dense';
  /**
   * 'decoupled': SD-DETR-style decoder with a classification and a localisation query stream
   * (shared self-attention over both, each its own cross-attention and FFN; the class heads read
   * the first, the box heads the second). SD-DETR has no public code: this DINO adaptation is the
   * proposal documented in the README. Default 'dino'.
   */
  decoder: 'dino' | 'decoupled';
}

export interface CreateOptions extends Partial<ModelConfig> {
  /** Which preset to start from (default 'dino-r50-4scale'). */
  preset?: Preset;
  /** Number of object classes (required unless `categories` is given). */
  numClasses?: number;
  /** Category ids and names, in class-index order; defaults to ids 1..numClasses. */
  categories?: readonly Category[];
  /**
   * Seed of the initialisation: the same seed gives bit-identical weights in any process (and
   * with any thread count), different seeds different weights. An integer in [0, 2^53 − 1].
   * Without it the weights come from libtorch's process-wide generator as before; a seeded
   * creation leaves that generator's stream as it was.
   */
  seed?: number;
  /**
   * Cancels the creation: an aborted signal rejects with its reason at once (before any work),
   * an abort while the model is being built rejects promptly, and the model built anyway is
   * disposed when it is done.
   */
  signal?: AbortSignal;
}

/** Options of {@link AlignDetr.load}. */
export interface LoadOptions {
  /** Cancels the load: the promise rejects with the signal's reason and a model read anyway is disposed. */
  signal?: AbortSignal;
}

/** An image to detect in: decoded RGB pixels, or a file path (decoded with sharp). */
export type ImageInput = RgbImage | string;

/** The most images one `predict` call takes (they run as one batch). */
export const MAX_PREDICT_IMAGES = 1024;

export interface PredictOptions {
  /** Drop detections scoring below this (default 0: keep the top `maxDetections`). */
  scoreThreshold?: number;
  /** At most this many detections per image (default: the config's selectTopK, 300 for the R50 preset). */
  maxDetections?: number;
  /**
   * `false` runs each image at its own size instead of resizing it to the test size (short side
   * `config.testShortEdge`, long side at most `config.testMaxSize`); for images already sized
   * by the caller, e.g. to compare with an exported graph of a fixed input size. Default true.
   */
  resize?: boolean;
  /**
   * Cancels the call: an aborted signal rejects with its reason at once (before any decoding),
   * an abort during decoding or the network rejects promptly (the native work finishes in the
   * background and its result is dropped).
   */
  signal?: AbortSignal;
}

/** One detection, in the COCO result convention. */
export interface Detection {
  /** [x, y, width, height] in pixels of the original image. */
  bbox: [number, number, number, number];
  score: number;
  categoryId: number;
}

/** What loadCheckpoint found in a PyTorch state dict. */
export interface StateDictReport {
  format: 'detrex' | 'torchvision-resnet';
  loadedKeys: string[];
  missingKeys: string[];
  unexpectedKeys: string[];
  mismatchedKeys: string[];
}

/** Wall-clock milliseconds of each stage of one forward (`forward(..., { profile: true })`). */
export interface StageTimings {
  backboneMs: number;
  neckMs: number;
  /** Flattening, position encoding, the encoder layers and the two-stage query selection. */
  encoderMs: number;
  /** The decoder layers with their class and box heads. */
  decoderMs: number;
  /** predict's post-processing (top-K over queries × classes, box scaling) on the final layer. */
  postprocessMs: number;
}

export interface ForwardOptions {
  /**
   * Times each stage and also runs (and times) the post-processing; on a GPU it waits for the
   * device between stages, so the figures are real but the stages no longer overlap.
   */
  profile?: boolean;
}

/** Raw predictions of a forward pass (normalised cxcywh boxes). */
export interface ForwardOutput {
  layers: { logits: Tensor; boxes: Tensor }[];
  encoder: { logits: Tensor; boxes: Tensor };
  levelFeatures: Tensor[];
  memory: Tensor;
  /** Present when called with `{ profile: true }`. */
  timings?: StageTimings;
}

interface Metadata {
  categories: Category[];
}

function defaultCategories(n: number): Category[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `class${i + 1}` }));
}

function checkCategories(categories: readonly Category[]): Category[] {
  if (!Array.isArray(categories) || categories.length === 0) {
    throw new TypeError('categories: expected a non-empty array of { id, name }');
  }
  const seen = new Set<number>();
  return categories.map((c, i) => {
    if (typeof c !== 'object' || c === null || !Number.isInteger(c.id) || typeof c.name !== 'string') {
      throw new TypeError(`categories[${i}]: expected { id: integer, name: string }`);
    }
    if (seen.has(c.id)) throw new RangeError(`categories[${i}]: duplicate id ${c.id}`);
    seen.add(c.id);
    return { id: c.id, name: c.name };
  });
}

/** @internal The native side of a model, for lib/trainer.ts only. */
/** The images of a predict/preprocess call, decoded (paths) and counted (1..MAX_PREDICT_IMAGES). */
async function decodeInputs(images: ImageInput | readonly ImageInput[], signal: AbortSignal | undefined): Promise<RgbImage[]> {
  const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
  if (list.length === 0) throw new RangeError('images: expected at least one image');
  // Checked before anything walks the list: a sparse array's length alone could be 2^32 − 1.
  if (list.length > MAX_PREDICT_IMAGES) {
    throw new RangeError(`images: at most ${MAX_PREDICT_IMAGES} images per call, got ${list.length}`);
  }
  signal?.throwIfAborted();
  return raceAbort(
    Promise.all(list.map((im, i) => (typeof im === 'string' ? decodeImage(im, `images[${i}]`) : Promise.resolve(im)))),
    signal,
  );
}

export interface ModelInternals {
  /** The native handle (TypeError when disposed). */
  handleOf(model: AlignDetr): ModelHandle;
  /** Wraps a native model handle (Trainer.resume). */
  fromHandle(handle: ModelHandle, categories: readonly Category[]): AlignDetr;
  /** The metadata string stored in a checkpoint. */
  readMetadata(file: string): Promise<string>;
}

/** @internal Assigned in AlignDetr's static block. */
export let modelInternals: ModelInternals;

export class AlignDetr {
  #handle: ModelHandle;
  #categories: Category[];
  readonly #inFlight = new InFlight();

  private constructor(handle: ModelHandle, categories: Category[]) {
    this.#handle = handle;
    this.#categories = categories;
  }

  /**
   * Builds a freshly initialised model (docs/numerical-contract.md §A.11) off the JS thread.
   * @throws TypeError / RangeError naming the option for bad options: an unknown key, a value of
   * the wrong kind, or one outside the field's range (see {@link ModelConfig}).
   * An aborted `signal` rejects with its reason (see {@link CreateOptions.signal}).
   */
  static async create(options: CreateOptions): Promise<AlignDetr> {
    if (typeof options !== 'object' || options === null) throw new TypeError('options: expected an options object');
    // `signal` is not a model field: kept out of the overrides the native layer checks.
    const { preset = 'dino-r50-4scale', categories, seed, signal: signalOption, ...overrides } = options;
    const signal = checkSignal(signalOption);
    if (typeof preset !== 'string') throw new TypeError("preset: expected 'dino-r50-4scale', 'tiny', 'stable-dino' or 'sd-detr'");
    if (seed !== undefined) {
      if (typeof seed !== 'number') throw new TypeError(`seed: expected an integer, got ${typeof seed}`);
      if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed: expected an integer in [0, 2^53 - 1], got ${seed}`);
    }
    let cats: Category[] | undefined;
    if (categories !== undefined) {
      cats = checkCategories(categories);
      if (overrides.numClasses !== undefined && overrides.numClasses !== cats.length) {
        throw new RangeError(`numClasses: ${overrides.numClasses} differs from categories.length (${cats.length})`);
      }
      overrides.numClasses = cats.length;
    }
    if (overrides.numClasses === undefined) throw new TypeError('numClasses: required (or give categories)');
    signal?.throwIfAborted();
    const handle = await raceAbort(
      binding().createModel(preset, overrides as Record<string, number | boolean | string>, seed),
      signal,
      (late) => late.dispose(),
    );
    return new AlignDetr(handle, cats ?? defaultCategories(handle.config().numClasses));
  }

  /**
   * Loads a checkpoint written by `save()`. A truncated, foreign or damaged file is a
   * CheckpointError naming the path (a path that cannot be opened is a TypeError). An aborted
   * `options.signal` rejects with its reason; a model read anyway is disposed.
   */
  static async load(file: string, options: LoadOptions = {}): Promise<AlignDetr> {
    if (typeof options !== 'object' || options === null) throw new TypeError('options: expected { signal? }');
    checkOptionKeys(options, 'options', ['signal']);
    const signal = checkSignal(options.signal);
    signal?.throwIfAborted();
    const resolved = await raceAbort(inputFile(file), signal);
    const { model, metadata } = await raceAbort(
      readingCheckpoint(resolved, () => binding().loadModel(resolved)),
      signal,
      (late) => late.model.dispose(),
    );
    let meta: Partial<Metadata> = {};
    try {
      meta = metadata ? (JSON.parse(metadata) as Metadata) : {};
    } catch {
      meta = {};
    }
    const n = model.config().numClasses;
    const cats = meta.categories && meta.categories.length === n ? meta.categories : defaultCategories(n);
    return new AlignDetr(model, cats);
  }

  static {
    // What lib/trainer.ts needs of a model's native side, kept off the public class (the
    // package exports only lib/index.ts, which does not re-export `modelInternals`).
    modelInternals = {
      handleOf: (model) => model.handle('train'),
      fromHandle: (handle, categories) => new AlignDetr(handle, [...categories]),
      // The metadata record alone: the weights are not read (native readCheckpointHeader).
      readMetadata: async (file) => {
        const resolved = await inputFile(file);
        return readingCheckpoint(resolved, () => binding().readCheckpointMetadata(resolved));
      },
    };
  }

  /** The full configuration. */
  get config(): ModelConfig {
    return this.handle('config').config();
  }

  /** Categories in class-index order (their ids are what detections carry). */
  get categories(): readonly Category[] {
    return this.#categories;
  }

  /** Parameter count (all, or only those that train). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    return this.handle('numParameters').numParameters(options.trainableOnly ?? false);
  }

  /** Parameter names, in detrex's state-dict naming. */
  parameterNames(): string[] {
    return this.handle('parameterNames').parameterNames();
  }

  /** A copy of one parameter or buffer (state-dict name); RangeError for an unknown name. */
  parameter(name: string): Tensor {
    return wrapHandle(this.handle('parameter').parameter(name));
  }

  /**
   * Detects objects. Images are resized as the recipe's test transform does (unless `resize: false`; short side to
   * `config.testShortEdge`, long side at most `config.testMaxSize`), batched, and run off the JS
   * thread. Returns, per image, detections sorted by score with boxes in original pixels.
   * At most MAX_PREDICT_IMAGES (1024) images per call. An aborted `options.signal` rejects
   * with its reason (see {@link PredictOptions.signal}).
   */
  async predict(images: ImageInput | readonly ImageInput[], options: PredictOptions = {}): Promise<Detection[][]> {
    const handle = this.handle('predict');
    // `signal` stays here: the native layer checks the other options and knows no such key.
    let nativeOptions: PredictOptions = options;
    let signal: AbortSignal | undefined;
    if (typeof options === 'object' && options !== null && Object.hasOwn(options, 'signal')) {
      const { signal: signalOption, ...rest } = options;
      signal = checkSignal(signalOption);
      nativeOptions = rest;
    }
    const decoded = await decodeInputs(images, signal);
    const raw = await raceAbort(this.#inFlight.track(handle.predict(decoded, nativeOptions)), signal);
    return raw.map(({ boxes, scores, labels }) => {
      const out: Detection[] = [];
      for (let k = 0; k < scores.length; k++) {
        out.push({
          bbox: [boxes[4 * k]!, boxes[4 * k + 1]!, boxes[4 * k + 2]!, boxes[4 * k + 3]!],
          score: scores[k]!,
          categoryId: must(this.#categories[labels[k]!], 'category of a predicted label').id,
        });
      }
      return out;
    });
  }

  /**
   * The input batch predict() feeds the network for these images: resized to the test size
   * (unless `resize: false`), normalised and zero-padded, from the same native preprocessing
   * the training batches use. `images` float32 [B, 3, H, W] and `validSizes` int64 [B, 2] (each
   * image's unpadded h, w), ready for {@link forward}.
   */
  async preprocess(
    images: ImageInput | readonly ImageInput[],
    options: { resize?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ images: Tensor; validSizes: Tensor }> {
    checkOptionKeys(options, 'options', ['resize', 'signal']);
    const signal = checkSignal(options.signal);
    if (options.resize !== undefined && typeof options.resize !== 'boolean') {
      throw new TypeError(`options.resize: expected a boolean, got ${typeof options.resize}`);
    }
    const { testShortEdge, testMaxSize } = this.config;
    this.handle('preprocess');
    const decoded = await decodeInputs(images, signal);
    const out = await raceAbort(
      binding().prepareImages(decoded, { resize: options.resize ?? true, shortEdge: testShortEdge, maxSize: testMaxSize }),
      signal,
    );
    return { images: wrapHandle(out.images), validSizes: wrapHandle(out.validSizes) };
  }

  /**
   * Runs the network on a prepared batch: `images` float32 [B, 3, H, W] normalised and zero-
   * padded, `validSizes` int64 [B, 2] with each image's unpadded (h, w). Inference mode.
   * `{ profile: true }` adds per-stage `timings`.
   */
  async forward(images: Tensor, validSizes: Tensor, options: ForwardOptions = {}): Promise<ForwardOutput> {
    const out = await this.#inFlight.track(
      this.handle('forward').forward(handleOf(images, 'images'), handleOf(validSizes, 'validSizes'), options),
    );
    const pair = (p: NativeLayerPrediction) => ({ logits: wrapHandle(p.logits), boxes: wrapHandle(p.boxes) });
    return {
      layers: out.layers.map(pair),
      encoder: pair(out.encoder),
      levelFeatures: out.levelFeatures.map((t) => wrapHandle(t)),
      memory: wrapHandle(out.memory),
      ...(out.timings ? { timings: out.timings } : {}),
    };
  }

  /** Writes config, weights and categories to `file` atomically (never a truncated file under that name). */
  async save(file: string): Promise<void> {
    const target = outputFile(file);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const metadata: Metadata = { categories: this.#categories };
    await this.#inFlight.track(this.handle('save').save(target, JSON.stringify(metadata)));
  }

  /**
   * Writes the inference network as an ONNX graph that onnxruntime (node, web) runs: the raw
   * interface (normalised images and valid sizes in, final-layer logits and boxes out) or with
   * `postprocess` uint8 RGB images in and the top-K detections out (see lib/onnx/export.ts).
   * Written atomically; a configuration the exporter cannot express is a RangeError naming the
   * field.
   */
  async exportOnnx(file: string, options: ExportOnnxOptions = {}): Promise<ExportOnnxResult> {
    const handle = this.handle('exportOnnx');
    return exportOnnx(
      { config: handle.config(), categories: this.#categories, parameter: (name) => this.parameter(name), version: packageVersion },
      file,
      options,
    );
  }

  /**
   * Loads weights from a PyTorch `.pth` state dict with detrex DINO / AlignDETR keys, or a
   * torchvision ResNet state dict (backbone only). Returns the keys loaded, missing, unexpected
   * and of mismatched shape. A damaged or hostile file (bad records, tensors outside their
   * storage, absurd sizes) is a CheckpointError naming the file.
   */
  async loadCheckpoint(file: string): Promise<StateDictReport> {
    const resolved = await inputFile(file);
    const handle = this.handle('loadCheckpoint');
    return readingCheckpoint(resolved, () => this.#inFlight.track(handle.loadPytorch(resolved)));
  }

  /**
   * Frees the native model. Further use throws a TypeError naming the method; work already in
   * flight finishes on its own reference (see `[Symbol.asyncDispose]` to wait for it).
   */
  dispose(): void {
    this.#handle.dispose();
  }

  /** `using model = ...`: dispose(). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `await using model = ...`: waits for the model's native work in flight (predict, forward, save, loadCheckpoint), then dispose(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#inFlight.settled();
    this.dispose();
  }

  get disposed(): boolean {
    return this.#handle.disposed;
  }

  private handle(what: string): ModelHandle {
    if (this.#handle.disposed) throw new TypeError(`model.${what}: model has been disposed`);
    return this.#handle;
  }
}
