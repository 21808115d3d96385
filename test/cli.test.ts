// The command line as a user runs it: `node dist/lib/cli/main.js ...` in a child process on a few
// small synthetic images written as a COCO dataset. Flag checking (unknown and misspelt flags,
// flags of another command, --version, --help), resuming on the dataset the checkpoint remembers,
// Ctrl-C (save and exit; a second one exits at once; --eval-on-stop), the training plot of a run
// shorter than one epoch, predict skipping unreadable images, the image-folder check at load,
// one `align-detr:` prefix on errors, and --seed reaching the model's weight initialisation.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { closest, editDistance, errorLine, main } from '../lib/cli/main';
import { PLOT_COLORS, plotLayout } from '../lib/cli/plot';
import { AlignDetr, Trainer, datasets } from '../lib/index';
import { writeSyntheticCoco } from './helpers/coco-folder';

const CLI = path.resolve(__dirname, '../lib/cli/main.js');
const PACKAGE_JSON = path.resolve(__dirname, '../../package.json');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-cli-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (cwd: the test folder, so relative paths are relative to it). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts the CLI and sends `signals` (a few ms apart) once the progress line of the first step
 * is on stderr; resolves when it exits.
 */
function cliInterrupted(args: string[], signals: NodeJS.Signals[]): Promise<Run & { afterSignalMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', sentAt = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sentAt && /^train 1\//m.test(stderr)) {
        sentAt = Date.now();
        signals.forEach((s, i) => setTimeout(() => child.kill(s), 20 * i));
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, afterSignalMs: sentAt ? Date.now() - sentAt : NaN });
    });
  });
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';

// ---------------------------------------------------------------- a tiny COCO dataset

const DATA = path.join(tmp, 'data');
const IMAGES = path.join(DATA, 'images');
/** 4 synthetic 96×80 images with shapes (test/helpers/coco-folder.ts): 2 steps per epoch at batch size 2. */
const dataset = writeSyntheticCoco(DATA).then((json) => {
  fs.writeFileSync(path.join(DATA, 'ann-copy.json'), JSON.stringify(json));
});
/** The data flags, relative to the test folder (the CLI's cwd). */
const DATA_FLAGS = ['--coco', 'data/ann.json', '--images', 'data/images'];

/** A training run of one step into one-step/ (model.adetr, last.adetr, ...), made once, by the first test that needs it. */
let oneStepRun: Promise<Run> | undefined;
const oneStep = (): Promise<Run> =>
  (oneStepRun ??= dataset.then(() => cli(['train', ...DATA_FLAGS, '--max-steps', '1', '--out', 'one-step'])));

// ---------------------------------------------------------------- flags (no training)

test('unknown and misspelt flags are errors naming the closest flag; no training starts', (t) => {
  const misspelt = cli(['train', '--epoch', '5', '--out', 'never-a']);
  t.is(misspelt.code, 2);
  t.regex(misspelt.stderr, /^align-detr: unknown flag --epoch \(did you mean --epochs\?\)$/m);
  t.false(fs.existsSync(path.join(tmp, 'never-a')), 'no training ran');
  t.notRegex(misspelt.stdout, /align-detr train:/);

  const bogus = cli(['train', '--bogus', '3', '--out', 'never-b']);
  t.is(bogus.code, 2);
  t.regex(bogus.stderr, /^align-detr: unknown flag --bogus$/m, 'no far-fetched suggestion');
  t.false(fs.existsSync(path.join(tmp, 'never-b')));

  t.regex(cli(['train', '--batchsize', '2']).stderr, /unknown flag --batchsize \(did you mean --batch-size\?\)/);
  t.regex(cli(['eval', '--chekpoint', 'x']).stderr, /unknown flag --chekpoint \(did you mean --checkpoint\?\)/);
  const command = cli(['trian']);
  t.is(command.code, 2);
  t.regex(command.stderr, /unknown command 'trian' \(did you mean 'train'\?\)/);
});

test("a flag of another command is rejected for the wrong one", (t) => {
  const predictFlag = cli(['train', '--score-threshold', '0.5', '--out', 'never-c']);
  t.is(predictFlag.code, 2);
  t.regex(predictFlag.stderr, /--score-threshold is a flag of predict, not of train/);
  t.false(fs.existsSync(path.join(tmp, 'never-c')));
  const trainFlag = cli(['predict', '--epochs', '3', '--checkpoint', 'x.adetr', 'a.png']);
  t.is(trainFlag.code, 2);
  t.regex(trainFlag.stderr, /--epochs is a flag of train, not of predict/);
  t.regex(cli(['eval', '--resume', 'x']).stderr, /--resume is a flag of train, not of eval/);
  t.regex(cli(['info', '--out', 'x']).stderr, /--out is a flag of train, predict, export, not of info/);
  // Missing values and stray operands.
  t.regex(cli(['train', '--out']).stderr, /--out needs a value/);
  t.regex(cli(['train', '--out', '--epochs', '3']).stderr, /--out needs a value, got the flag --epochs/);
  t.regex(cli(['train', 'extra']).stderr, /unexpected argument 'extra'/);
});

test('edit distance and the suggestion threshold', (t) => {
  t.is(editDistance('epoch', 'epochs'), 1);
  t.is(editDistance('', 'abc'), 3);
  t.is(editDistance('seed', 'sede'), 1, 'an adjacent swap counts once');
  t.is(editDistance('kitten', 'sitting'), 3);
  t.is(closest('lr', ['loss', 'lr', 'out']), 'lr');
  t.is(closest('max-minute', ['max-steps', 'max-minutes']), 'max-minutes');
  t.is(closest('bogus', ['epochs', 'loss', 'out', 'seed']), undefined);
});

test('--version prints the package version; -h and --help print the usage', (t) => {
  const version = JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8')).version as string;
  const v = cli(['--version']);
  t.is(v.code, 0);
  t.is(v.stdout.trim(), version);
  for (const args of [['-h'], ['--help'], ['train', '--help']]) {
    const h = cli(args);
    t.is(h.code, 0, args.join(' '));
    t.true(h.stdout.startsWith('usage: align-detr <command>'), args.join(' '));
    for (const flag of ['--max-steps', '--eval-on-stop', '--version', '--synthetic']) t.true(h.stdout.includes(flag), flag);
  }
});

test('errors carry one align-detr: prefix, also when the message has its own', (t) => {
  t.is(errorLine('align-detr: the native addon failed to load'), 'align-detr: the native addon failed to load');
  t.is(errorLine('align-detr: align-detr: x'), 'align-detr: x');
  t.is(errorLine('path: no such file'), 'align-detr: path: no such file');
  // The addon loader's errors start with "align-detr:" themselves.
  const r = cli(['info'], { ALIGN_DETR_ADDON: path.join(tmp, 'no-such-addon.node') });
  t.is(r.code, 1);
  t.true(r.stderr.startsWith('align-detr: '), r.stderr);
  t.notRegex(r.stderr, /align-detr:\s*align-detr:/);
  t.regex(r.stderr, /no-such-addon\.node/);
});

test("a missing image folder is an error naming it when the dataset is loaded", async (t) => {
  await dataset;
  const start = Date.now();
  const r = cli(['train', '--coco', 'data/ann.json', '--images', 'data/no-such-folder', '--out', 'never-d']);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`images: image folder ${path.join(tmp, 'data', 'no-such-folder').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not exist`));
  t.notRegex(r.stdout, /align-detr train:/, 'failed before training started');
  t.false(fs.existsSync(path.join(tmp, 'never-d')));
  t.log(`${Date.now() - start} ms`);
  // The library: COCO and VOC readers check the folder when the dataset is made.
  await t.throwsAsync(datasets.coco({ annotations: path.join(DATA, 'ann.json'), images: path.join(DATA, 'gone') }), {
    message: `images: image folder ${path.join(DATA, 'gone')} does not exist`,
  });
  await t.throwsAsync(datasets.coco({ annotations: path.join(DATA, 'ann.json'), images: path.join(DATA, 'ann.json') }), {
    message: `images: image folder ${path.join(DATA, 'ann.json')} is not a directory`,
  });
  const voc = path.join(tmp, 'voc-no-images');
  fs.mkdirSync(path.join(voc, 'Annotations'), { recursive: true });
  fs.mkdirSync(path.join(voc, 'ImageSets', 'Main'), { recursive: true });
  fs.writeFileSync(path.join(voc, 'ImageSets', 'Main', 'train.txt'), 'a\n');
  fs.writeFileSync(path.join(voc, 'Annotations', 'a.xml'),
    '<annotation><size><width>10</width><height>10</height></size><object><name>c</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>');
  await t.throwsAsync(datasets.voc({ root: voc }), { message: `root: image folder ${path.join(voc, 'JPEGImages')} does not exist` });
  fs.mkdirSync(path.join(voc, 'JPEGImages'));
  t.is((await datasets.voc({ root: voc })).length, 1, 'loads once the folder is there');
});

test('--seed is passed to AlignDetr.create as the weight seed', async (t) => {
  await dataset;
  const seen: unknown[] = [];
  const original = AlignDetr.create;
  AlignDetr.create = async (options) => {
    seen.push(options);
    throw new Error('stub: no model');
  };
  const cwd = process.cwd();
  try {
    process.chdir(tmp);
    await t.throwsAsync(main(['train', ...DATA_FLAGS, '--seed', '1234', '--out', 'never-e']), { message: 'stub: no model' });
    await t.throwsAsync(main(['train', ...DATA_FLAGS, '--out', 'never-e']), { message: 'stub: no model' });
  } finally {
    process.chdir(cwd);
    AlignDetr.create = original;
  }
  t.is(seen.length, 2);
  t.like(seen[0], { preset: 'tiny', seed: 1234 });
  t.like(seen[1], { seed: 42 }, 'the default seed');
});

// ---------------------------------------------------------------- training runs

test.serial('a run shorter than one epoch plots its per-step loss', async (t) => {
  const r = await oneStep();
  t.is(r.code, 0, r.stderr);
  const out = path.join(tmp, 'one-step');
  const history = JSON.parse(fs.readFileSync(path.join(out, 'history.json'), 'utf8'));
  t.is(history.stopped, 'max-steps');
  t.is(history.steps, 1);
  t.deepEqual(history.epochs, [], 'no epoch finished');
  // The loss the progress line printed is drawn where the plot's mapping puts step 1 of 2 (epoch 0.5).
  const loss = Number(/^train 1\/\d+ .* loss=(\S+)/m.exec(r.stderr)?.[1]);
  t.true(Number.isFinite(loss), r.stderr);
  const { data, info } = await sharp(path.join(out, 'training.png')).raw().toBuffer({ resolveWithObject: true });
  // (The printed loss has 4 digits: the y mapping from it may be off by a pixel, the x mapping is exact.)
  const layout = plotLayout([], { steps: [{ epoch: 0.5, loss }] });
  const px = (x: number, y: number) => [...data.subarray(3 * (y * info.width + x), 3 * (y * info.width + x) + 3)].join();
  const column = Math.floor(layout.loss.xToPixel(0.5));
  const rows: number[] = [];
  for (let y = layout.loss.top; y < layout.loss.bottom; y++) if (px(column, y) === PLOT_COLORS.stepLoss.join()) rows.push(y);
  t.true(rows.length >= 3, 'the step marker is drawn');
  t.true(Math.abs((rows[0]! + rows[rows.length - 1]!) / 2 - layout.loss.yToPixel(loss)) < 2, `marker rows ${rows}`);
  // Planned stops (--max-steps, --max-minutes) still evaluate: the last line is the stats.
  t.deepEqual(Object.keys(JSON.parse(lastLine(r.stdout))).slice(0, 3), ['AP', 'AP50', 'AP75']);
});

test.serial('resume remembers the dataset; differing flags win with a note; an old checkpoint is refused', async (t) => {
  const first = await oneStep();
  t.is(first.code, 0, first.stderr);
  const last = path.join(tmp, 'one-step', 'last.adetr');
  const saved = await Trainer.resume(last);
  t.deepEqual(saved.runInfo, { data: { kind: 'coco', coco: path.join(tmp, 'data', 'ann.json'), images: path.join(tmp, 'data', 'images') } },
    'absolute paths');
  saved.dispose();
  const resumeOut = path.join(tmp, 'resumed');
  fs.mkdirSync(resumeOut);
  fs.copyFileSync(last, path.join(resumeOut, 'last.adetr'));

  // No data flags: the remembered COCO set, not the synthetic shapes; output next to the checkpoint.
  const again = cli(['train', '--resume', 'resumed/last.adetr', '--max-steps', '1']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, new RegExp(`align-detr train: COCO ${path.join(tmp, 'data', 'ann.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(4 images\\)`));
  t.notRegex(again.stdout, /synthetic/);
  t.notRegex(again.stderr, /note:/);
  t.regex(again.stdout, /stopped: max-steps after 2 steps/, 'continued from step 1');
  t.true(fs.existsSync(path.join(resumeOut, 'model.adetr')));

  // Other data flags: they are used, with a one-line note naming both.
  const other = cli(['train', '--resume', 'resumed/last.adetr', '--coco', 'data/ann-copy.json', '--images', 'data/images', '--max-steps', '1']);
  t.is(other.code, 0, other.stderr);
  const notes = other.stderr.split('\n').filter((l) => l.includes('note:'));
  t.is(notes.length, 1, other.stderr);
  t.regex(notes[0]!, /training on the data flags given \(--coco \S*ann-copy\.json --images \S+\), not the checkpoint's \(--coco \S*ann\.json /);
  t.regex(other.stdout, /align-detr train: COCO \S*ann-copy\.json/);
  const after = await Trainer.resume(path.join(resumeOut, 'last.adetr'));
  t.is((after.runInfo as { data: { coco: string } }).data.coco, path.join(tmp, 'data', 'ann-copy.json'), 'the checkpoint now remembers the new flags');
  t.is(after.stepCount, 3);
  after.dispose();

  // A checkpoint from before datasets were remembered (no runInfo): refused, naming the flags to pass.
  const model = await AlignDetr.load(path.join(tmp, 'one-step', 'model.adetr'));
  const old = new Trainer(model, { lr: 1e-4 });
  await old.saveCheckpoint(path.join(tmp, 'old', 'last.adetr'), { epoch: 0, stepInEpoch: 1, history: [] });
  old.dispose();
  const refused = cli(['train', '--resume', 'old/last.adetr', '--max-steps', '1']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /does not record the dataset it was trained on .*--voc DIR .*--coco FILE --images DIR.*--synthetic/);
  t.false(fs.existsSync(path.join(tmp, 'old', 'model.adetr')), 'no training');
  // ... and accepted with the flags.
  const withFlags = cli(['train', '--resume', 'old/last.adetr', ...DATA_FLAGS, '--max-steps', '1']);
  t.is(withFlags.code, 0, withFlags.stderr);
});

test.serial('Ctrl-C saves and exits without evaluating; --eval-on-stop evaluates; a second Ctrl-C exits at once', async (t) => {
  await dataset;
  const run = await cliInterrupted(['train', ...DATA_FLAGS, '--epochs', '50', '--out', 'sigint'], ['SIGINT']);
  t.is(run.code, 130, run.stderr);
  t.regex(run.stdout, /stopped: aborted after \d+ steps/);
  t.notRegex(run.stdout, /evaluating/);
  t.notRegex(lastLine(run.stdout), /"AP"/, 'no stats without --eval-on-stop');
  t.regex(run.stdout, /resume with: align-detr train --resume \S+sigint\/last\.adetr/);
  t.true(fs.existsSync(path.join(tmp, 'sigint', 'last.adetr')));
  t.true(fs.existsSync(path.join(tmp, 'sigint', 'training.png')));

  const evaluated = await cliInterrupted(['train', ...DATA_FLAGS, '--epochs', '50', '--eval-on-stop', '--out', 'sigint-eval'], ['SIGINT']);
  t.is(evaluated.code, 130, evaluated.stderr);
  t.regex(evaluated.stdout, /evaluating on the training set \(4 images\)/);
  t.deepEqual(Object.keys(JSON.parse(lastLine(evaluated.stdout))).slice(0, 2), ['AP', 'AP50']);

  const twice = await cliInterrupted(['train', ...DATA_FLAGS, '--epochs', '50', '--out', 'sigint-twice'], ['SIGINT', 'SIGINT']);
  // Ended by SIGINT's default action (the shell reports 130), not after the step in flight.
  t.is(twice.signal, 'SIGINT', `${twice.code} ${twice.stderr}`);
  t.regex(twice.stderr, /SIGINT again: exiting now/);
  t.notRegex(twice.stdout, /stopped:/, 'did not wait for the step and the files');
  t.log(`first Ctrl-C run exited ${run.afterSignalMs} ms after the signal; twice: ${twice.afterSignalMs} ms`);
});

test.serial('predict skips an unreadable image, names it, and writes the rest; fails only when none is read', async (t) => {
  const first = await oneStep();
  t.is(first.code, 0, first.stderr);
  fs.writeFileSync(path.join(tmp, 'garbage.jpg'), 'not an image');
  const model = path.join('one-step', 'model.adetr');
  const r = cli(['predict', '--checkpoint', model, '--out', 'preds', 'garbage.jpg', 'data/images/img0.png', 'missing.png', 'data/images/img1.png']);
  t.is(r.code, 0, r.stderr);
  const skipped = r.stderr.split('\n').filter((l) => l.startsWith('align-detr: skipping'));
  t.is(skipped.length, 2, r.stderr);
  t.regex(skipped[0]!, /^align-detr: skipping garbage\.jpg: \S/);
  t.regex(skipped[1]!, /^align-detr: skipping missing\.png: .*missing/i);
  t.notRegex(r.stderr, /images\[0\]/);
  t.true(fs.existsSync(path.join(tmp, 'preds', 'img0.png')));
  t.true(fs.existsSync(path.join(tmp, 'preds', 'img1.png')));
  const ids = new Set((JSON.parse(fs.readFileSync(path.join(tmp, 'preds', 'detections.json'), 'utf8')) as { image_id: number }[]).map((d) => d.image_id));
  t.true([...ids].every((id) => id === 2 || id === 4), `image ids ${[...ids]}`);
  t.regex(r.stdout, /for 2 of 4 image\(s\) \(2 skipped\)/);

  const none = cli(['predict', '--checkpoint', model, '--out', 'preds-none', 'garbage.jpg', 'missing.png']);
  t.is(none.code, 1);
  t.regex(none.stderr, /none of the 2 image\(s\) could be read/);
  t.false(fs.existsSync(path.join(tmp, 'preds-none', 'detections.json')));
});

test.serial("--seed is the weight seed: the trained weights are one step from create({ seed })'s initialisation", async (t) => {
  await dataset;
  const run = cli(['train', ...DATA_FLAGS, '--seed', '43', '--max-steps', '1', '--out', 'seed-43']);
  t.is(run.code, 0, run.stderr);
  const { categories } = await datasets.coco({ annotations: path.join(DATA, 'ann.json'), images: IMAGES });
  const weights = async (model: AlignDetr) => {
    const all = model.parameterNames().map((n) => model.parameter(n).toTypedArray() as Float32Array);
    model.dispose();
    return all;
  };
  const trained = await weights(await AlignDetr.load(path.join(tmp, 'seed-43', 'model.adetr')));
  // (Typed loosely so that this compiles against a model.ts from before CreateOptions had `seed`.)
  const seeded = (seed: number): Parameters<typeof AlignDetr.create>[0] & { seed?: number } => ({ preset: 'tiny', categories, seed });
  const init43 = await weights(await AlignDetr.create(seeded(43)));
  const init42 = await weights(await AlignDetr.create(seeded(42)));
  // One AdamW step moves each weight by at most lr (4e-4 for tiny; ×0.1 on the backbone), plus a
  // negligible decay; two initialisations differ by about the weights' own scale.
  const bound = 4e-4 * 1.01 + 1e-6;
  let maxFrom43 = 0, farFrom42 = 0, total = 0;
  trained.forEach((w, i) => {
    for (let k = 0; k < w.length; k++) {
      maxFrom43 = Math.max(maxFrom43, Math.abs(w[k]! - init43[i]![k]!));
      if (Math.abs(w[k]! - init42[i]![k]!) > bound) farFrom42++;
    }
    total += w.length;
  });
  t.true(maxFrom43 <= bound, `max |trained - init(seed 43)| = ${maxFrom43}`);
  t.true(farFrom42 > total / 4, `${farFrom42} of ${total} weights more than one step from init(seed 42)`);
});
