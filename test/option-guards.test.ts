// Options that were once truncated or ignored (issue 12): fractional Trainer integers, unknown
// Trainer / fit / evaluate keys, model config sizes without a maximum (from create and from an
// edited checkpoint), and config override keys that injected other fields into the config text.
// Each must be a TypeError/RangeError (or, for a checkpoint, a CheckpointError) naming the argument.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, CheckpointError, Trainer, datasets } from '../lib/index';
import type { CreateOptions, FitOptions, TrainerOptions } from '../lib/index';
import { loadAddon } from '../lib/native';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-options-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};
const create = (o: Record<string, unknown>) => AlignDetr.create({ ...micro, numClasses: 3, ...o } as CreateOptions);

test('trainer integers are integers: a fraction is a RangeError, never truncated', async (t) => {
  const model = await create({});
  const bad = (o: Record<string, unknown>) => () => new Trainer(model, o as TrainerOptions);
  t.throws(bad({ k: 2.5 }), { instanceOf: RangeError, message: /^options\.k: expected an integer in \[1, 16\], got 2\.5$/ });
  t.throws(bad({ k: 17 }), { instanceOf: RangeError, message: /^options\.k: expected an integer in \[1, 16\], got 17$/ });
  t.throws(bad({ k: '2' }), { instanceOf: TypeError, message: /^options\.k: expected an integer$/ });
  t.throws(bad({ seed: 1.5 }), { instanceOf: RangeError, message: /^options\.seed: expected an integer in \[0, 9007199254740991\], got 1\.5$/ });
  t.throws(bad({ seed: 2 ** 53 }), { instanceOf: RangeError, message: /^options\.seed: / });
  t.throws(bad({ warmupSteps: 10.5 }), { instanceOf: RangeError, message: /^options\.warmupSteps: expected an integer in \[0, 1000000000000\], got 10\.5$/ });
  t.throws(bad({ warmupSteps: Number.NaN }), { instanceOf: RangeError, message: /^options\.warmupSteps: / });
  // The edges are accepted, and so is every documented option at once (the TS and native key lists agree).
  new Trainer(model, { k: 16, seed: 2 ** 53 - 1, warmupSteps: 0 }).dispose();
  new Trainer(model, { k: 1, seed: 0, warmupSteps: 1e12 }).dispose();
  const all: Required<TrainerOptions> = {
    lr: 1e-4, backboneLr: 1e-5, weightDecay: 1e-4, clipMaxNorm: 0.1, milestones: [10], gamma: 0.1, warmupSteps: 5,
    warmupFactor: 1e-3, loss: 'align', matching: 'mixed', k: 2, tau: 1.5, seed: 3, fusedLoss: true,
  };
  new Trainer(model, all).dispose();
  model.dispose();
});

test('unknown Trainer option keys are a TypeError naming the key, in TS and in the addon', async (t) => {
  const model = await create({});
  const bad = (o: Record<string, unknown>) => () => new Trainer(model, o as TrainerOptions);
  t.throws(bad({ lerning_rate: 1e-4 }), { instanceOf: TypeError, message: /^options: unknown option 'lerning_rate'$/ });
  t.throws(bad({ lr: 1e-4, warmupStep: 10 }), { instanceOf: TypeError, message: /^options: unknown option 'warmupStep'; did you mean 'warmupSteps'\?$/ });
  t.throws(bad({ K: 2 }), { instanceOf: TypeError, message: /^options: unknown option 'K'; did you mean 'k'\?$/ });
  // The addon checks on its own too (a caller of the raw binding gets the same answer).
  const addon = loadAddon() as {
    createModel(preset: string, overrides: unknown): Promise<unknown>;
    createTrainer(model: unknown, options: unknown): { dispose(): void };
  };
  const { preset, ...sizes } = micro;
  const handle = await addon.createModel(preset, { ...sizes, numClasses: 3 });
  t.throws(() => addon.createTrainer(handle, { lerning_rate: 1 }), { instanceOf: TypeError, message: /^options: unknown option 'lerning_rate'$/ });
  t.throws(() => addon.createTrainer(handle, { seeed: 1 }), { instanceOf: TypeError, message: /^options: unknown option 'seeed'; did you mean 'seed'\?$/ });
  t.throws(() => addon.createTrainer(handle, { k: 2.5 }), { instanceOf: RangeError, message: /^options\.k: expected an integer in \[1, 16\], got 2\.5$/ });

  // resume: the caller's keys are checked; a stray key an older checkpoint stored is dropped.
  const trainer = new Trainer(model, { lr: 2e-4 });
  (trainer.options as Record<string, unknown>).legacyNote = 'ignored when written';
  const file = path.join(tmp, 'legacy.ckpt');
  await trainer.saveCheckpoint(file, { epoch: 1, stepInEpoch: 0, history: [] });
  const resumed = await Trainer.resume(file);
  t.is(resumed.options.lr, 2e-4);
  t.false('legacyNote' in resumed.options);
  await t.throwsAsync(Trainer.resume(file, { lerning_rate: 1 } as TrainerOptions), { instanceOf: TypeError, message: /^options: unknown option 'lerning_rate'$/ });
  await t.throwsAsync(Trainer.resume(file, { k: 1.5 }), { instanceOf: RangeError, message: /^options\.k: / });
  resumed.dispose();
  resumed.model.dispose();
  model.dispose();
});

test('fit and evaluate reject unknown keys and options of the wrong kind', async (t) => {
  const data = await datasets.synthetic({ numImages: 2, seed: 1, numClasses: 3, minObjects: 1, maxObjects: 2, width: 96, height: 96 });
  const model = await AlignDetr.create({ ...micro, categories: data.categories });
  const trainer = new Trainer(model, { lr: 1e-4 });
  const bad = (o: Record<string, unknown>) => trainer.fit(data, { epochs: 1, batchSize: 1, ...o } as FitOptions);
  await t.throwsAsync(bad({ epoch: 2 }), { instanceOf: TypeError, message: /^options: unknown option 'epoch'; did you mean 'epochs'\?$/ });
  await t.throwsAsync(bad({ checkpointdir: tmp }), { instanceOf: TypeError, message: /^options: unknown option 'checkpointdir'; did you mean 'checkpointDir'\?$/ });
  await t.throwsAsync(bad({ 'bad\nkey': 1 }), { instanceOf: TypeError, message: /^options: unknown option 'bad\\nkey'$/ });
  await t.throwsAsync(bad({ prefetch: 1.5 }), { instanceOf: RangeError, message: /^prefetch: expected an integer in \[0, 64\], got 1\.5$/ });
  await t.throwsAsync(bad({ evalBatchSize: 0 }), { instanceOf: RangeError, message: /^evalBatchSize: / });
  await t.throwsAsync(bad({ evalBatchSize: '2' }), { instanceOf: TypeError, message: /^evalBatchSize: / });
  await t.throwsAsync(bad({ checkpointDir: 5 }), { instanceOf: TypeError, message: /^checkpointDir: / });
  await t.throwsAsync(bad({ onProgress: 'log' }), { instanceOf: TypeError, message: /^onProgress: / });
  await t.throwsAsync(bad({ signal: {} }), { instanceOf: TypeError, message: /^signal: / });
  await t.throwsAsync(bad({ valSet: [] }), { instanceOf: TypeError, message: /^valSet: / });
  await t.throwsAsync(bad({ runInfo: 'notes' }), { instanceOf: TypeError, message: /^runInfo: / });
  t.is(trainer.stepCount, 0);
  // evaluate's batchSize of 0 looped for ever; a misspelt key was ignored.
  await t.throwsAsync(trainer.evaluate(data, { batchSize: 0 }), { instanceOf: RangeError, message: /^options\.batchSize: expected an integer in \[1, 1024\], got 0$/ });
  await t.throwsAsync(trainer.evaluate(data, { batchsize: 2 } as never), { instanceOf: TypeError, message: /^options: unknown option 'batchsize'; did you mean 'batchSize'\?$/ });
  trainer.dispose();
  model.dispose();
});

// Each size field, a value just above its maximum.
const aboveMax: [string, number][] = [
  ['numClasses', 100001], ['backboneWidth', 264], ['freezeAt', 6], ['hiddenDim', 4100], ['numHeads', 128],
  ['numPoints', 17], ['encoderLayers', 25], ['decoderLayers', 25], ['ffnDim', 16385], ['numQueries', 10001],
  ['neckGroups', 8192], ['dnNumber', 1001], ['testShortEdge', 8193], ['testMaxSize', 8193], ['selectTopK', 10001],
];

test('every size field of the model config has a maximum', async (t) => {
  await t.throwsAsync(create({ dnNumber: 2 ** 53 }), { instanceOf: RangeError, message: /^dnNumber: expected an integer in \[0, 1000\], got 9007199254740992$/ });
  await t.throwsAsync(create({ selectTopK: 2 ** 53 }), { instanceOf: RangeError, message: /^selectTopK: expected an integer in \[1, 10000\], got 9007199254740992$/ });
  for (const [field, value] of aboveMax) {
    await t.throwsAsync(create({ [field]: value }), { instanceOf: RangeError, message: new RegExp(`^${field}: expected an integer in \\[\\d+, \\d+\\]`) }, field);
    await t.throwsAsync(create({ [field]: 2 ** 53 }), { instanceOf: RangeError, message: new RegExp(`^${field}: `) }, `${field} 2^53`);
  }
  await t.throwsAsync(create({ numLevels: 5 }), { instanceOf: RangeError, message: /^numLevels: / });
  await t.throwsAsync(create({ backboneDepth: 152 }), { instanceOf: RangeError, message: /^backboneDepth: expected 18, 34, 50 or 101, got 152$/ });
  await t.throwsAsync(create({ testShortEdge: 256, testMaxSize: 192 }), { instanceOf: RangeError, message: /^testMaxSize: .*at least testShortEdge \(256\), got 192$/ });
  // Non-integers and non-finite values.
  await t.throwsAsync(create({ dnNumber: 2.5 }), { instanceOf: TypeError, message: /^config\.dnNumber: expected an integer in \[0, 1000\], got 2\.5$/ });
  await t.throwsAsync(create({ numQueries: Number.NaN }), { instanceOf: TypeError, message: /^config\.numQueries: / });
  await t.throwsAsync(create({ hiddenDim: Infinity }), { instanceOf: TypeError, message: /^config\.hiddenDim: / });
  await t.throwsAsync(create({ labelNoiseRatio: Number.NaN }), { instanceOf: RangeError, message: /^labelNoiseRatio: expected a number in \[0, 1\], got nan$/i });
  await t.throwsAsync(create({ boxNoiseScale: Infinity }), { instanceOf: RangeError, message: /^boxNoiseScale: expected a number in \[0, 10\], got inf/ });
  await t.throwsAsync(create({ boxNoiseScale: 10.5 }), { instanceOf: RangeError, message: /^boxNoiseScale: expected a number in \[0, 10\], got 10\.5$/ });
  // Values of the wrong kind.
  await t.throwsAsync(create({ dnNumber: '5' }), { instanceOf: TypeError, message: /^dnNumber: expected an integer$/ });
  await t.throwsAsync(create({ padInvariant: 1 }), { instanceOf: TypeError, message: /^padInvariant: expected a boolean$/ });
  await t.throwsAsync(create({ numQueries: true }), { instanceOf: TypeError, message: /^numQueries: expected an integer$/ });
});

test('the maxima themselves are accepted, by create and by a checkpoint load', async (t) => {
  const edges = {
    dnNumber: 1000, selectTopK: 10000, numQueries: 10000, numPoints: 16, encoderLayers: 24, testShortEdge: 8192,
    testMaxSize: 8192, boxNoiseScale: 10, labelNoiseRatio: 1,
  };
  const model = await create(edges);
  t.like(model.config, edges);
  const file = path.join(tmp, 'edges.adetr');
  await model.save(file);
  const back = await AlignDetr.load(file);
  t.like(back.config, edges);
  back.dispose();
  model.dispose();
});

test('a config override key cannot inject other fields; unknown keys are named', async (t) => {
  // 'hiddenDim=8\nnumQueries' once became the lines "hiddenDim=8=5" … and "numQueries=5".
  await t.throwsAsync(create({ 'hiddenDim=8\nnumQueries': 5 }), { instanceOf: TypeError, message: /^options: unknown field 'hiddenDim=8\\nnumQueries'$/ });
  await t.throwsAsync(create({ 'numQueries\n': 5 }), { instanceOf: TypeError, message: /^options: unknown field 'numQueries\\n'; did you mean 'numQueries'\?$/ });
  await t.throwsAsync(create({ 'dnNumber=5': 1 }), { instanceOf: TypeError, message: /^options: unknown field 'dnNumber=5'/ });
  await t.throwsAsync(create({ numQuerys: 5 }), { instanceOf: TypeError, message: /^options: unknown field 'numQuerys'; did you mean 'numQueries'\?$/ });
  // Through the raw binding too (lib/ forwards the overrides as they are).
  const addon = loadAddon() as { createModel(preset: string, overrides: unknown): Promise<unknown> };
  t.throws(() => addon.createModel('tiny', { numClasses: 3, 'selectTopK=1\nhiddenDim': 8 }), { instanceOf: TypeError, message: /^options: unknown field/ });
});

// ---- an edited checkpoint ------------------------------------------------------------------

/** FNV-1a 64 of a string's bytes, as native/model/checksum.cpp computes a record's checksum. */
function fnv1a(bytes: Buffer): string {
  let h = 14695981039346656037n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffffffffffffffffn;
  return h.toString(16);
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Recomputes the CRC-32 of every stored (uncompressed) entry of a zip in place: central directory, local header and data descriptor. */
function fixZipCrcs(zip: Buffer): void {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(eocd + 16);
  const entries = zip.readUInt16LE(eocd + 10);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('zip: bad central directory');
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28), extraLen = zip.readUInt16LE(at + 30), commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (method === 0 && size !== 0xffffffff && local !== 0xffffffff) {
      const flags = zip.readUInt16LE(local + 6);
      const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const crc = crc32(zip.subarray(dataAt, dataAt + size));
      zip.writeUInt32LE(crc, at + 16);
      zip.writeUInt32LE(crc, local + 14);
      if (flags & 8) {
        const d = dataAt + size;
        zip.writeUInt32LE(crc, zip.readUInt32LE(d) === 0x08074b50 ? d + 4 : d);
      }
    }
    at += 46 + nameLen + extraLen + commentLen;
  }
}

/**
 * The checkpoint at `file` with its config's `padInvariant=true` line replaced by `line` of the
 * same length, and the config's checksum and the zip's CRCs recomputed: a file whose only fault
 * is the edited value. `line` holds a {N} filled with numbers from `from` until the line has the
 * right length and the checksum's hex the stored one's (so no byte offset moves).
 */
function editConfig(file: string, line: string, from: number): Buffer {
  const bytes = fs.readFileSync(file);
  const replaced = 'padInvariant=true\n';
  const lastLine = 'decoder=dino\n';  // the config text's last field
  const end = bytes.indexOf(lastLine) + lastLine.length;
  const start = bytes.lastIndexOf('numClasses=', end);
  if (end < lastLine.length || start < 0) throw new Error('config text not found');
  const oldText = bytes.subarray(start, end);
  const at = oldText.indexOf(replaced);
  if (at < 0) throw new Error(`no '${replaced.trim()}' line in the config`);
  const oldSum = `config ${fnv1a(oldText)}\n`;
  const sumAt = bytes.indexOf(oldSum);
  if (sumAt < 0) throw new Error('config checksum not found');
  for (let n = from; n < from + 90; n++) {
    const edited = line.replace('{N}', String(n));
    if (edited.length !== replaced.length - 1) continue;
    const newText = Buffer.concat([oldText.subarray(0, at), Buffer.from(`${edited}\n`), oldText.subarray(at + replaced.length)]);
    const newSum = `config ${fnv1a(newText)}\n`;
    if (newSum.length !== oldSum.length) continue;
    const out = Buffer.from(bytes);
    newText.copy(out, start);
    Buffer.from(newSum).copy(out, sumAt);
    fixZipCrcs(out);
    return out;
  }
  throw new Error(`no value for '${line}' is ${replaced.length - 1} characters with a checksum of the same length`);
}

test('a checkpoint whose config was edited past a maximum is refused, not loaded', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 2, seed: 3 });
  const file = path.join(tmp, 'tiny.adetr');
  await model.save(file);
  // An in-range edit with the checksums recomputed loads (so the repair below is right, and only
  // the value can be what refuses the others).
  const fine = path.join(tmp, 'fine.adetr');
  fs.writeFileSync(fine, editConfig(file, 'boxNoiseScale=.{N}', 10));
  const loaded = await AlignDetr.load(fine);
  t.true(loaded.config.boxNoiseScale >= 0.1 && loaded.config.boxNoiseScale < 1);
  loaded.dispose();
  // Past the maxima: a CheckpointError naming the file and the field, before any weight is made.
  for (const [line, from, field] of [
    ['dnNumber=9999{N}', 1000, 'dnNumber'],
    ['numQueries=99{N}', 1000, 'numQueries'],
    ['selectTopK=99{N}', 1000, 'selectTopK'],
    ['hiddenDim=999{N}', 1000, 'hiddenDim'],
  ] as const) {
    const bad = path.join(tmp, `edited-${field}.adetr`);
    fs.writeFileSync(bad, editConfig(file, line, from));
    const err = await t.throwsAsync(AlignDetr.load(bad), { instanceOf: CheckpointError });
    t.is(err?.file, bad);
    t.regex(err?.message ?? '', new RegExp(`is damaged: its model config is invalid \\(${field}: expected an integer in \\[\\d+, \\d+\\].*, got \\d+\\)$`), field);
  }
  // Edited without recomputing the checksum: refused by the checksum first.
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf('dnNumber=20\n');
  bytes.write('99', at + 'dnNumber='.length, 'latin1');
  fixZipCrcs(bytes);
  const unsummed = path.join(tmp, 'unsummed.adetr');
  fs.writeFileSync(unsummed, bytes);
  await t.throwsAsync(AlignDetr.load(unsummed), { instanceOf: CheckpointError, message: /record 'config' fails its checksum$/ });
  model.dispose();
});

test('a training checkpoint with an edited config is refused by Trainer.resume', async (t) => {
  const model = await create({});
  const trainer = new Trainer(model, { lr: 1e-4 });
  const file = path.join(tmp, 'train.ckpt');
  await trainer.saveCheckpoint(file, { epoch: 1, stepInEpoch: 0, history: [] });
  const bad = path.join(tmp, 'train-edited.ckpt');
  fs.writeFileSync(bad, editConfig(file, 'numQueries=99{N}', 1000));
  await t.throwsAsync(Trainer.resume(bad), { instanceOf: CheckpointError, message: /its model config is invalid \(numQueries: / });
  trainer.dispose();
  model.dispose();
});
