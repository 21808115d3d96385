#!/usr/bin/env node
// The `align-detr` command line: train, eval, predict, info.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { datasets } from '../data/index';
import { decodeImage, ImageDecodeError } from '../data/decode';
import type { Category, Dataset, RgbImage } from '../data/types';
import { AlignDetr } from '../model';
import type { Preset } from '../model';
import { packageVersion } from '../native';
import { buildInfo } from '../runtime';
import { Trainer } from '../trainer';
import { trainerOptionFields } from '../trainer';
import type { EpochRecord, LossKind } from '../trainer';
import { evaluateModel } from '../evaluator/index';
import type { CocoEvalResult } from '../evaluator/index';
import { writeDetectionsImage, toCocoResults } from './draw';
import { writeTrainingPlot, type StepPoint } from './plot';
import { launch, watchLauncher } from './launch';
import { ProgressReporter } from './progress';
import { doctorReport } from './doctor';
import { installLibtorch } from './install-libtorch';
import { EXPORT_BOOLEAN_FLAGS, EXPORT_FLAGS, EXPORT_USAGE, runExport } from './export';
import { UsageError, digits, num, str, type Flags } from './flags';
import { DEMO_FLAGS, DEMO_USAGE, runDemo } from './demo';
import { must } from '../must';

function usage(): string {
  const { lrLine, lossLine } = trainerOptionHelp();
  return `usage: align-detr <command> [options]

commands:
  train     train a detector (default: the tiny preset on built-in synthetic data), then evaluate it
  eval      evaluate a checkpoint: --checkpoint FILE plus the same data flags as train
  predict   --checkpoint FILE IMAGE...: write detections.json (COCO results) and one PNG per image
  info      print the native build (libtorch version, CUDA, threads)
  doctor    platform, Node, installed variants, the libtorch each resolves to, GPU, which binary loads
  export    --checkpoint FILE --out model.onnx: the model as an ONNX graph (onnxruntime node/web)
  demo      --checkpoint FILE [--port N]: a web page running the model in the browser (onnxruntime-web)
  install-libtorch --cuda X.Y [--libtorch-version V] [--url URL | --zip FILE] [--sha256 HEX | --no-verify]
            put a CUDA libtorch in the per-user cache for the CUDA variant (checksum verified)

  -h, --help                   print this and exit
  --version                    print the package version and exit

data (train and eval; nothing = the built-in synthetic shapes):
  --coco FILE --images DIR     COCO JSON annotations and their image folder
  --voc DIR [--split NAME]     Pascal VOC root and split (train: 'train', eval: 'test')
  --val-split NAME             VOC split evaluated after each epoch (default 'val' when it exists)
  --val-coco FILE              COCO JSON evaluated after each epoch (images from --images)
  --synthetic                  the built-in synthetic shapes (seeded by --seed)
  --seed N                     default 42: synthetic data; for train also weight init, data order, augmentation

train:
  --preset NAME                tiny (default) | dino-r50-4scale
  --epochs N                   default 12 (synthetic: 6)
  --batch-size N               default 2
  --lr X                       ${lrLine}
  --loss NAME                  ${lossLine}
  --max-minutes M              stop with a checkpoint after M minutes (then evaluate)
  --max-steps N                stop with a checkpoint after N steps of this run (then evaluate)
  --out DIR                    default ./align-detr-out (with --resume: the checkpoint's folder):
                               last.adetr, model.adetr, history.json, training.png
  --resume FILE                continue from a last.adetr, on the dataset it remembers (data flags
                               given here win, with a note); its preset, lr, loss and seed are kept
  --eval-on-stop               after Ctrl-C, still evaluate before exiting
  --nproc N                    data-parallel training: N worker processes here (c10d Gloo on CPU;
                               threads divided between them unless OMP_NUM_THREADS is set);
                               --batch-size is per process
  --nnodes M --node-rank K     spread over M machines (this one is K; run the same command on each)
  --master-addr HOST --master-port P   rank 0's machine and a free port there (needed with --nnodes;
                               one machine: default 127.0.0.1 and any free port)
  --dist-timeout S             a collective waits at most S seconds (default 60); a worker that dies
                               or hangs makes the others fail within it, naming its rank
  Under torchrun (torchrun --nproc-per-node N --no-python align-detr train ...), each worker
  reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT. Progress and the final JSON line come from
  rank 0 only; rank 0 writes the checkpoints; --resume restores every rank.
  Ctrl-C (or SIGTERM) stops after the current step, writes last.adetr and model.adetr and exits
  with status 130 (143 for SIGTERM) without evaluating; a second one ends the process at once.

predict:
  --score-threshold X          default 0.3
  --out DIR                    default ./align-detr-predictions
  An image that cannot be read is skipped with a message on stderr naming it; the exit status
  is non-zero only when no image could be read. image_id = the image's position on the command line.

${EXPORT_USAGE}

${DEMO_USAGE}

Unknown flags, and flags of another command, are errors (exit status 2).
The last line that train and eval print is one JSON object with the 12 COCO stats by name
(not after a Ctrl-C stop without --eval-on-stop).`;
}

/** The CLI's learning rate for the tiny preset, which trains from scratch (see runTrain). */
const TINY_LR = 4e-4;

/** --lr and --loss help from the trainer option table (the defaults' one owner). */
function trainerOptionHelp(): { lrLine: string; lossLine: string } {
  try {
    const fields = trainerOptionFields();
    const lr = fields.find((f) => f.name === 'lr');
    const loss = fields.find((f) => f.name === 'loss');
    return {
      lrLine: `default ${TINY_LR.toExponential()} for tiny, ${Number(lr?.default).toExponential()} (the recipe's) otherwise; backbone ×0.1`,
      lossLine: `${(loss?.choices ?? []).join(' | ')} (default: the preset's recipe, align for tiny and dino-r50-4scale)`,
    };
  } catch {
    // The addon did not load: help still prints (doctor explains the loading problem).
    return { lrLine: 'see the README (the native addon did not load)', lossLine: 'see the README (the native addon did not load)' };
  }
}

const STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;

// ---------------------------------------------------------------- flags

const GLOBAL_FLAGS = ['help', 'version'];
/** Data-parallel flags of train (the launcher's; a worker never sees them). */
const LAUNCH_FLAGS = ['nproc', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'dist-timeout'];
const DATA_FLAGS = ['coco', 'images', 'voc', 'split', 'val-split', 'val-coco', 'synthetic', 'seed'];
/** The flags each command accepts (besides --help and --version). */
export const COMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  train: [...DATA_FLAGS, 'preset', 'epochs', 'batch-size', 'lr', 'loss', 'max-minutes', 'max-steps', 'out', 'resume', 'eval-on-stop',
    ...LAUNCH_FLAGS],
  eval: [...DATA_FLAGS, 'checkpoint'],
  predict: ['checkpoint', 'score-threshold', 'out'],
  info: [],
  doctor: [],
  'install-libtorch': ['cuda', 'libtorch-version', 'url', 'zip', 'sha256', 'no-verify'],
  export: EXPORT_FLAGS,
  demo: DEMO_FLAGS,
};
const BOOLEAN_FLAGS = new Set(['help', 'version', 'synthetic', 'eval-on-stop', 'no-verify', ...EXPORT_BOOLEAN_FLAGS]);
const ALL_FLAGS = [...new Set([...GLOBAL_FLAGS, ...Object.values(COMMAND_FLAGS).flat()])];

/** Optimal-string-alignment edit distance (insertions, deletions, substitutions, adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  // Every index below stays inside the (a.length + 1) × (b.length + 1) table.
  for (let i = 1; i <= a.length; i++) {
    const row = d[i]!, up = d[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate nearest to `word`, when near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

interface ParsedArgs {
  command?: string;
  operands: string[];
  flags: Flags;
}

/** Parses and checks the command line: unknown flags, flags of another command, missing values. */
export function parseCommandLine(argv: string[]): ParsedArgs {
  const { positionals, values, tokens } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: Object.fromEntries(
      ALL_FLAGS.map((k) => [k, BOOLEAN_FLAGS.has(k) ? { type: 'boolean' as const, ...(k === 'help' ? { short: 'h' } : {}) } : { type: 'string' as const }]),
    ),
  });
  const flags = values as Flags;
  const [command, ...operands] = positionals;
  if (flags.help || flags.version) return { command, operands, flags };
  const commandFlags = command !== undefined && Object.hasOwn(COMMAND_FLAGS, command) ? COMMAND_FLAGS[command] : undefined;
  const known = commandFlags !== undefined;
  const allowed = new Set([...GLOBAL_FLAGS, ...(commandFlags ?? ALL_FLAGS)]);
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const { name, rawName } = token;
    if (!ALL_FLAGS.includes(name)) {
      const guess = closest(name, [...allowed]);
      throw new UsageError(`unknown flag ${rawName}${guess ? ` (did you mean --${guess}?)` : ''}`);
    }
    if (!allowed.has(name)) {
      const owners = Object.entries(COMMAND_FLAGS).filter(([, cf]) => cf.includes(name)).map(([c]) => c);
      throw new UsageError(`${rawName} is a flag of ${owners.join(', ')}, not of ${command}`);
    }
    if (BOOLEAN_FLAGS.has(name)) {
      if (token.value !== undefined) throw new UsageError(`${rawName} takes no value`);
    } else if (token.value === undefined) {
      throw new UsageError(`${rawName} needs a value`);
    } else if (!token.inlineValue && token.value.startsWith('--')) {
      throw new UsageError(`${rawName} needs a value, got the flag ${token.value}`);
    }
  }
  if (command !== undefined && !known) {
    const guess = closest(command, Object.keys(COMMAND_FLAGS));
    throw new UsageError(`unknown command '${command}'${guess ? ` (did you mean '${guess}'?)` : ''}`);
  }
  if (command !== undefined && command !== 'predict' && operands.length > 0) {
    throw new UsageError(`unexpected argument '${operands[0]}' (${command} takes flags only)`);
  }
  return { command, operands, flags };
}

function seedOf(flags: Flags): number {
  const seed = num(flags, 'seed', 42, true, true);
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed: expected an integer in [0, 2^53 - 1], got '${flags.seed}'`);
  return seed;
}

function statsObject(result: CocoEvalResult): Record<string, number> {
  return Object.fromEntries(STAT_NAMES.map((name, i) => [name, must(result.stats[i], 'COCO statistic')]));
}

/** The package's version, from its package.json. */
export function readPackageVersion(): string {
  return packageVersion;
}

// ---------------------------------------------------------------- data

/** A dataset as the data flags name it, paths absolute; what a training checkpoint remembers. */
export type DataSpec =
  | { kind: 'coco'; coco: string; images: string; valCoco?: string }
  | { kind: 'voc'; voc: string; split?: string; valSplit?: string }
  | { kind: 'synthetic'; seed: number };

/** The data flags as a DataSpec; undefined when none is given. */
function dataSpecFromFlags(flags: Flags): DataSpec | undefined {
  const coco = str(flags, 'coco');
  const voc = str(flags, 'voc');
  const images = str(flags, 'images');
  const split = str(flags, 'split');
  const valSplit = str(flags, 'val-split');
  const valCoco = str(flags, 'val-coco');
  const synthetic = flags.synthetic === true;
  if ([coco, voc, synthetic || undefined].filter((v) => v !== undefined).length > 1) {
    throw new UsageError('give one of --coco, --voc and --synthetic');
  }
  if (!coco && (images || valCoco)) throw new UsageError(`${images ? '--images' : '--val-coco'} needs --coco FILE`);
  if (!voc && (split || valSplit)) throw new UsageError(`${split ? '--split' : '--val-split'} needs --voc DIR`);
  if (coco) {
    if (!images) throw new UsageError('--coco needs --images DIR');
    return { kind: 'coco', coco: path.resolve(coco), images: path.resolve(images), ...(valCoco ? { valCoco: path.resolve(valCoco) } : {}) };
  }
  if (voc) return { kind: 'voc', voc: path.resolve(voc), ...(split ? { split } : {}), ...(valSplit ? { valSplit } : {}) };
  // --seed alone is no data flag (on resume it would otherwise replace the remembered dataset).
  if (synthetic) return { kind: 'synthetic', seed: seedOf(flags) };
  return undefined;
}

/** A DataSpec read back from a checkpoint's runInfo (undefined when it has none or it is malformed). */
function storedDataSpec(runInfo: Record<string, unknown> | undefined): DataSpec | undefined {
  const d = runInfo?.data as Record<string, unknown> | undefined;
  if (typeof d !== 'object' || d === null) return undefined;
  const s = (k: string): boolean => d[k] === undefined || typeof d[k] === 'string';
  if (d.kind === 'coco' && typeof d.coco === 'string' && typeof d.images === 'string' && s('valCoco')) return d as DataSpec;
  if (d.kind === 'voc' && typeof d.voc === 'string' && s('split') && s('valSplit')) return d as DataSpec;
  if (d.kind === 'synthetic' && Number.isInteger(d.seed)) return d as DataSpec;
  return undefined;
}

/** The spec as the flags that give it. */
export function dataFlagsText(spec: DataSpec): string {
  switch (spec.kind) {
    case 'coco':
      return `--coco ${spec.coco} --images ${spec.images}${spec.valCoco ? ` --val-coco ${spec.valCoco}` : ''}`;
    case 'voc':
      return `--voc ${spec.voc}${spec.split ? ` --split ${spec.split}` : ''}${spec.valSplit ? ` --val-split ${spec.valSplit}` : ''}`;
    default:
      return `--synthetic --seed ${spec.seed}`;
  }
}

/** Whether two specs name the same data (defaults filled in: VOC's training split is 'train'). */
function sameData(a: DataSpec, b: DataSpec): boolean {
  const norm = (d: DataSpec): string => {
    const o: Record<string, unknown> = d.kind === 'voc' ? { ...d, split: d.split ?? 'train' } : { ...d };
    return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  };
  return norm(a) === norm(b);
}

interface DataChoice {
  train: Dataset;
  val?: Dataset;
  description: string;
}

/** The datasets a spec names; `role` picks VOC's default split. */
async function loadData(spec: DataSpec, role: 'train' | 'eval'): Promise<DataChoice> {
  if (spec.kind === 'coco') {
    const train = await datasets.coco({ annotations: spec.coco, images: spec.images, filterEmpty: role === 'train' });
    const val = spec.valCoco ? await datasets.coco({ annotations: spec.valCoco, images: spec.images }) : undefined;
    return { train, val, description: `COCO ${spec.coco} (${train.length} images)` };
  }
  if (spec.kind === 'voc') {
    const split = spec.split ?? (role === 'train' ? 'train' : 'test');
    const train = await datasets.voc({ root: spec.voc, split, filterEmpty: role === 'train' });
    let val: Dataset | undefined;
    if (role === 'train') {
      try {
        val = await datasets.voc({ root: spec.voc, split: spec.valSplit ?? 'val' });
      } catch (err) {
        if (spec.valSplit) throw err; // an explicit split must exist; the default one may not
      }
    }
    return { train, val, description: `VOC ${spec.voc} split '${split}' (${train.length} images)` };
  }
  const train = await datasets.synthetic({ numImages: 96, seed: spec.seed, numClasses: 3, varySize: true });
  const val = await datasets.synthetic({ numImages: 32, seed: spec.seed + 1000, numClasses: 3, varySize: true });
  return {
    train: role === 'train' ? train : val,
    val: role === 'train' ? val : undefined,
    description: `built-in synthetic shapes (${role === 'train' ? `${train.length} train / ${val.length} val` : `${val.length} eval`} images)`,
  };
}

const categoriesText = (cats: readonly Category[]): string => cats.map((c) => `${c.id}:${c.name}`).join(', ');

// ---------------------------------------------------------------- train

/** `train --nproc N [...]`: the local launcher runs N workers of the same command without the launcher flags. */
async function launchTrain(flags: Flags, argv: string[]): Promise<number> {
  if (flags.nproc === undefined) throw new UsageError('--nnodes, --node-rank, --master-addr, --master-port and --dist-timeout go with --nproc N');
  const nproc = num(flags, 'nproc', 1, true);
  const nnodes = num(flags, 'nnodes', 1, true);
  // The first machine is 0: digits, as num takes positive numbers only.
  const nodeRank = digits(flags, 'node-rank', 'a non-negative integer') ?? 0;
  if (nodeRank >= nnodes) {
    throw new UsageError(`--node-rank: expected 0..${nnodes - 1} (this machine's index among --nnodes ${nnodes}), got ${nodeRank}`);
  }
  if (nnodes > 1) {
    // Every machine must name the same rendezvous: a default (each machine's own loopback, a
    // guessed port) would leave the others waiting for the timeout instead of failing here.
    const missing = ['master-addr', 'master-port'].filter((k) => flags[k] === undefined).map((k) => `--${k}`);
    if (missing.length) {
      throw new UsageError(`--nnodes ${nnodes} needs ${missing.join(' and ')}: rank 0's machine and a port free there, the same on every machine`);
    }
  }
  const masterPort = flags['master-port'] !== undefined ? num(flags, 'master-port', 0, true) : undefined;
  if (masterPort !== undefined && (masterPort < 1 || masterPort > 65535)) throw new UsageError('--master-port: expected 1..65535');
  const timeoutS = num(flags, 'dist-timeout', 60);
  if (!(timeoutS > 0)) throw new UsageError('--dist-timeout: expected a positive number of seconds');
  // The worker's command line: this one without the launcher's flags (and their values).
  const workerArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = must(argv[i], 'argument');
    const m = /^--([^=]+)(=.*)?$/.exec(arg);
    if (m && LAUNCH_FLAGS.includes(must(m[1], 'flag name'))) {
      if (m[2] === undefined) i++; // the value follows
      continue;
    }
    workerArgs.push(arg);
  }
  return launch({
    nproc, nnodes, nodeRank, masterPort, timeoutS: Math.ceil(timeoutS),
    masterAddr: str(flags, 'master-addr'),
    command: [must(process.argv[1], 'the CLI script'), ...workerArgs],
  });
}

/** torchrun's (or the launcher's) worker: WORLD_SIZE is set. */
function distributedWorker(): boolean {
  return process.env.WORLD_SIZE !== undefined && process.env.WORLD_SIZE !== '';
}

async function train(flags: Flags): Promise<number> {
  const distributed = distributedWorker() ? ('env' as const) : undefined;
  if (distributed) watchLauncher();
  // Progress, notes and the final JSON line from rank 0 only (errors from every rank).
  const rank = distributed ? Number(process.env.RANK ?? 0) : 0;
  const log = rank === 0 ? console.log : () => {};
  const resume = str(flags, 'resume');
  const given = dataSpecFromFlags(flags);
  const epochsFlag = flags.epochs !== undefined ? num(flags, 'epochs', 1, true) : undefined;
  const batchSize = num(flags, 'batch-size', 2, true);
  const maxMinutes = flags['max-minutes'] !== undefined ? num(flags, 'max-minutes', 1) : undefined;
  const maxSteps = flags['max-steps'] !== undefined ? num(flags, 'max-steps', 1, true) : undefined;
  const out = path.resolve(str(flags, 'out') ?? (resume ? path.dirname(path.resolve(resume)) : 'align-detr-out'));
  let resumed: Trainer | undefined;
  let spec: DataSpec;
  if (resume) {
    const ignored = ['preset', 'lr', 'loss', ...(given?.kind === 'synthetic' ? [] : ['seed'])].filter((k) => flags[k] !== undefined);
    resumed = await Trainer.resume(resume, distributed ? { distributed } : undefined);
    const stored = storedDataSpec(resumed.runInfo);
    if (!given && !stored) {
      throw new UsageError(
        `${resume} does not record the dataset it was trained on (written by an older align-detr): pass its data ` +
          'flags, e.g. --voc DIR [--split NAME], --coco FILE --images DIR, or --synthetic [--seed N]',
      );
    }
    if (given && stored && !sameData(given, stored)) {
      console.error(`align-detr: note: training on the data flags given (${dataFlagsText(given)}), not the checkpoint's (${dataFlagsText(stored)})`);
    }
    spec = given ?? (stored as DataSpec);
    if (ignored.length) {
      console.error(`align-detr: note: ${ignored.map((k) => `--${k}`).join(', ')} ignored with --resume (the checkpoint's are kept)`);
    }
  } else {
    spec = given ?? { kind: 'synthetic', seed: seedOf(flags) };
  }
  if (spec.kind === 'voc' && !spec.split) spec = { ...spec, split: 'train' }; // remembered explicitly
  const data = await loadData(spec, 'train');
  let trainer: Trainer;
  if (resumed) {
    if (categoriesText(data.train.categories) !== categoriesText(resumed.model.categories)) {
      throw new Error(
        `the dataset's categories (${categoriesText(data.train.categories)}) differ from those ${resume} was trained on ` +
          `(${categoriesText(resumed.model.categories)})`,
      );
    }
    trainer = resumed;
  } else {
    const preset = (str(flags, 'preset') ?? 'tiny') as Preset;
    const seed = seedOf(flags);
    // `seed` also seeds the weight initialisation (AlignDetr.create's `seed` option; the
    // `& { seed? }` keeps this compiling against a model.ts from before CreateOptions had it).
    const createOptions: Parameters<typeof AlignDetr.create>[0] & { seed?: number } = { preset, categories: data.train.categories, seed };
    const model = await AlignDetr.create(createOptions);
    // The recipe's 1e-4 suits pretrained backbones; the tiny preset trains from scratch and
    // converges faster at 4e-4 (BCCD: AP50 0.66 vs 0.33 after 20 CPU minutes).
    const recipeLr = trainerOptionFields().find((f) => f.name === 'lr')?.default as number;
    const defaultLr = preset === 'tiny' ? TINY_LR : recipeLr;
    const lossName = str(flags, 'loss') as LossKind | undefined;
    // No --loss: the Trainer picks the preset's recipe (defaultLoss).
    trainer = new Trainer(model, { lr: num(flags, 'lr', defaultLr), ...(lossName ? { loss: lossName } : {}), seed, ...(distributed ? { distributed } : {}) });
  }
  const epochs = epochsFlag ?? (spec.kind === 'synthetic' ? 6 : 12);
  const info = buildInfo();
  await trainer.ready();
  const world = trainer.processGroup ? `; rank ${trainer.rank} of ${trainer.processGroup.worldSize}, batch ${batchSize} per process` : '';
  log(`align-detr train: ${data.description}; ${trainer.model.numParameters()} parameters; ` +
    `libtorch ${info.libtorchVersion}, ${info.numThreads} threads${world}; output in ${out}`);

  // First Ctrl-C / SIGTERM: stop after the current step with a checkpoint; a second one: exit now.
  const controller = new AbortController();
  const evalController = new AbortController(); // the final evaluation's
  let stopCause: 'signal' | 'max-steps' | undefined;
  let signalCode = 130;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopCause === 'signal') {
      console.error(`\nalign-detr: ${signal} again: exiting now`);
      // process.exit() would wait for the step running in native code (seconds); the signal's
      // default action ends the process at once (status 128 + signal number, as the shell reports).
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(signal === 'SIGTERM' ? 143 : 130), 2000).unref();
      return;
    }
    stopCause = 'signal';
    signalCode = signal === 'SIGTERM' ? 143 : 130;
    console.error(`\nalign-detr: stopping after the current step (writing last.adetr; ${signal === 'SIGINT' ? 'Ctrl-C' : signal} again exits at once)…`);
    controller.abort();
    evalController.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const worldSize = trainer.processGroup?.worldSize ?? 1;
    const stepsPerEpoch = Math.ceil(Math.ceil(data.train.length / worldSize) / batchSize);
    const progress = new ProgressReporter({
      total: epochs * stepsPerEpoch, label: 'train',
      ...(rank === 0 ? {} : { stream: { write: () => true, isTTY: false } }),
    });
    const steps: StepPoint[] = [];
    const history = await trainer.fit(data.train, {
      epochs,
      batchSize,
      valSet: data.val,
      signal: controller.signal,
      checkpointDir: out,
      maxMinutes,
      runInfo: { data: spec },
      onProgress: (e) => {
        if (e.type === 'step') {
          steps.push({ epoch: e.epoch + e.stepInEpoch / e.stepsPerEpoch, loss: e.loss });
          progress.update(e.epoch * e.stepsPerEpoch + e.stepInEpoch, { epoch: e.epoch + 1, loss: e.loss, lr: e.lr });
          if (maxSteps !== undefined && steps.length >= maxSteps && !controller.signal.aborted) {
            stopCause = 'max-steps';
            controller.abort();
          }
        } else if (e.type === 'epoch') {
          const ap = e.eval ? ` AP=${e.eval.AP.toFixed(4)} AP50=${e.eval.AP50.toFixed(4)}` : '';
          progress.log(`epoch ${e.epoch + 1}/${epochs}: mean loss ${e.loss.toFixed(4)}${ap}`);
        }
      },
    });
    progress.finish();
    const interrupted = stopCause === 'signal';
    const stopped = history.stopped === 'aborted' && stopCause === 'max-steps' ? 'max-steps' : history.stopped;
    if (rank === 0) await trainer.model.save(path.join(out, 'model.adetr'));
    if (rank === 0) await fs.promises.writeFile(path.join(out, 'history.json'), JSON.stringify({ ...history, stopped }, null, 2));
    if (rank === 0) await writeTrainingPlot(
      path.join(out, 'training.png'),
      history.epochs.map((r: EpochRecord) => ({ epoch: r.epoch + 1, loss: r.loss, ap: r.eval?.AP, ap50: r.eval?.AP50 })),
      { steps },
    );
    log(`stopped: ${stopped} after ${history.steps} steps; wrote model.adetr, last.adetr, history.json, training.png`);
    // The final weights' metrics: the last epoch's evaluation when it ran on them, else a new one
    // (but not after a Ctrl-C unless --eval-on-stop asks for it).
    const last = history.epochs[history.epochs.length - 1];
    if (stopped === 'completed' && last?.eval) {
      log(JSON.stringify(statsObject({ stats: last.eval.stats } as CocoEvalResult)));
      return 0;
    }
    if (stopCause === 'signal' && !flags['eval-on-stop']) {
      // (also when the signal came while the files above were written)
      log(`resume with: align-detr train --resume ${path.join(out, 'last.adetr')}`);
      return signalCode;
    }
    const evalSet = data.val ?? data.train;
    log(`evaluating on ${data.val ? 'the validation set' : 'the training set'} (${evalSet.length} images)…`);
    // A first Ctrl-C during this evaluation ends it without stats; after the Ctrl-C that stopped
    // training (--eval-on-stop) only a second one, which exits.
    let result: CocoEvalResult;
    try {
      result = await trainer.evaluate(evalSet, { signal: interrupted ? undefined : evalController.signal });
    } catch (err) {
      if (evalController.signal.aborted && !interrupted) {
        console.error('align-detr: evaluation stopped');
        return signalCode;
      }
      throw err;
    }
    log(JSON.stringify(statsObject(result)));
    return stopCause === 'signal' ? signalCode : 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------- eval, predict

async function evaluate(flags: Flags): Promise<number> {
  const checkpoint = str(flags, 'checkpoint');
  if (!checkpoint) throw new UsageError('eval needs --checkpoint FILE');
  const spec = dataSpecFromFlags(flags) ?? { kind: 'synthetic', seed: seedOf(flags) };
  const model = await AlignDetr.load(checkpoint);
  const data = await loadData(spec, 'eval');
  console.log(`align-detr eval: ${checkpoint} on ${data.description}`);
  const result = await evaluateModel(model, data.train);
  console.log(JSON.stringify(statsObject(result)));
  return 0;
}

async function predict(flags: Flags, images: string[]): Promise<number> {
  const checkpoint = str(flags, 'checkpoint');
  if (!checkpoint) throw new UsageError('predict needs --checkpoint FILE');
  if (images.length === 0) throw new UsageError('predict needs at least one IMAGE');
  const thresholdText = flags['score-threshold'];
  const threshold = thresholdText !== undefined ? Number(thresholdText) : 0.3;
  if (typeof thresholdText === 'string' && thresholdText.trim() === '') throw new UsageError('--score-threshold: expected a number in [0, 1]');
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError('--score-threshold: expected a number in [0, 1]');
  const out = path.resolve(str(flags, 'out') ?? 'align-detr-predictions');
  const model = await AlignDetr.load(checkpoint);
  await fs.promises.mkdir(out, { recursive: true });
  const results: object[] = [];
  const used = new Set<string>();
  let done = 0;
  const skipped: string[] = [];
  for (const [i, file] of images.entries()) {
    try {
      let image: RgbImage;
      try {
        image = await decodeImage(file);
      } catch (err) {
        throw new Error(err instanceof ImageDecodeError ? err.reason : (err as Error).message);
      }
      const dets = must((await model.predict(image, { scoreThreshold: threshold }))[0], 'detections of the image');
      // Two inputs with the same base name (a/x.jpg, b/x.jpg) get distinct PNGs.
      let base = path.parse(file).name;
      if (used.has(base)) base = `${base}-${i + 1}`;
      used.add(base);
      const png = path.join(out, `${base}.png`);
      await writeDetectionsImage(image, dets, [...model.categories], png);
      results.push(...toCocoResults(i + 1, dets));
      done++;
      console.log(`${file}: ${dets.length} detection(s) → ${png}`);
    } catch (err) {
      skipped.push(file);
      console.error(`align-detr: skipping ${file}: ${(err as Error).message}`);
    }
  }
  if (done === 0) {
    console.error(`align-detr: none of the ${images.length} image(s) could be read; nothing written`);
    return 1;
  }
  const json = path.join(out, 'detections.json');
  await fs.promises.writeFile(json, JSON.stringify(results, null, 1));
  console.log(`wrote ${json} for ${done} of ${images.length} image(s)` +
    `${skipped.length ? ` (${skipped.length} skipped)` : ''} (image_id = position of the image on the command line, from 1)`);
  return 0;
}

// ---------------------------------------------------------------- main

/** An error's message for the terminal: one `align-detr:` prefix (some library messages carry their own). */
export function errorLine(message: string): string {
  return `align-detr: ${message.replace(/^(align-detr:\s*)+/, '')}`;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const { command, operands, flags } = parseCommandLine(argv);
    if (flags.version) {
      console.log(readPackageVersion());
      return 0;
    }
    if (flags.help || !command) {
      console.log(usage());
      return command || flags.help ? 0 : 1;
    }
    // A new command needs its entry in COMMAND_FLAGS too (parseCommandLine rejects others).
    switch (command) {
      case 'info':
        console.log(JSON.stringify(buildInfo(), null, 2));
        return 0;
      case 'doctor':
        console.log(doctorReport().join('\n'));
        return 0;
      case 'install-libtorch': {
        if (typeof flags.cuda !== 'string') throw new UsageError('install-libtorch: --cuda X.Y is required (12.6, 12.8 or 13.0)');
        const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
        await installLibtorch({ cuda: flags.cuda, version: str('libtorch-version'), url: str('url'), zip: str('zip'), sha256: str('sha256'), verify: flags['no-verify'] !== true });
        return 0;
      }
      case 'train':
        if (LAUNCH_FLAGS.some((k) => flags[k] !== undefined)) return await launchTrain(flags, argv);
        return await train(flags);
      case 'eval':
        return await evaluate(flags);
      case 'predict':
        return await predict(flags, operands);
      case 'export':
        return await runExport(flags);
      case 'demo':
        return await runDemo(flags);
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${errorLine(err.message)}\n(align-detr --help lists the commands and flags)`);
      return 2;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      console.error(errorLine(err instanceof Error ? err.message : String(err)));
      process.exitCode = 1;
    },
  );
}
