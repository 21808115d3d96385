// The checkpoint header read (native readCheckpointHeader): a checkpoint's metadata without its
// weights. It equals what a full load returns, succeeds where only a weight is damaged (so no
// weight was read), verifies its own records' checksums, and refuses foreign files as a full load does.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, CheckpointError, Trainer } from '../lib/index';
import { loadAddon } from '../lib/native';

const addon = loadAddon() as {
  readCheckpointMetadata(file: string): Promise<string>;
  loadModel(file: string): Promise<{ model: { dispose(): void }; metadata: string }>;
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-ckpt-meta-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const micro = {
  preset: 'tiny' as const, numClasses: 3, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

/** Offset of the first data byte of zip entry `name` (its local header: 30 bytes + name + extra). */
function entryDataOffset(bytes: Buffer, name: string): number {
  const signature = Buffer.from('PK\x03\x04', 'latin1');
  for (let pos = bytes.indexOf(signature); pos >= 0; pos = bytes.indexOf(signature, pos + 4)) {
    const nameLen = bytes.readUInt16LE(pos + 26), extraLen = bytes.readUInt16LE(pos + 28);
    if (bytes.toString('latin1', pos + 30, pos + 30 + nameLen) === name) return pos + 30 + nameLen + extraLen;
  }
  throw new Error(`no zip entry ${name}`);
}

test('the metadata of a model and of a training checkpoint, as a full load reads it', async (t) => {
  const model = await AlignDetr.create(micro);
  const modelFile = path.join(tmp, 'model.adetr');
  await model.save(modelFile);
  const full = await addon.loadModel(modelFile);
  full.model.dispose();
  t.is(await addon.readCheckpointMetadata(modelFile), full.metadata);
  t.true(full.metadata.includes('categories'));

  const trainer = new Trainer(model, { lr: 2e-4 });
  const trainFile = path.join(tmp, 'last.adetr');
  await trainer.saveCheckpoint(trainFile, { epoch: 3, stepInEpoch: 1, history: [] });
  const meta = JSON.parse(await addon.readCheckpointMetadata(trainFile)) as { epoch: number; options: { lr: number } };
  t.is(meta.epoch, 3);
  t.is(meta.options.lr, 2e-4);
  const resumed = await Trainer.resume(trainFile);
  t.is(resumed.options.lr, 2e-4);
  resumed.dispose();
  trainer.dispose();
  model.dispose();
});

test('no weight is read: a damaged weight fails the full load, not the metadata read', async (t) => {
  const model = await AlignDetr.create(micro);
  const file = path.join(tmp, 'damaged.adetr');
  await model.save(file);
  const bytes = fs.readFileSync(file);
  const offset = entryDataOffset(bytes, 'archive/data/2');
  bytes[offset] = (bytes[offset] as number) ^ 0xff;
  fs.writeFileSync(file, bytes);
  await t.throwsAsync(AlignDetr.load(file), { instanceOf: CheckpointError, message: /fails its checksum/ });
  t.true((await addon.readCheckpointMetadata(file)).includes('categories'));
  model.dispose();
});

test('the header\'s own records are checked; foreign and missing files are refused', async (t) => {
  const model = await AlignDetr.create(micro);
  const file = path.join(tmp, 'meta-damaged.adetr');
  await model.save(file);
  const bytes = fs.readFileSync(file);
  const at = bytes.indexOf(Buffer.from('{"categories"', 'latin1'));
  t.true(at > 0);
  bytes[at + 3] = 'C'.charCodeAt(0); // "categories" -> "cCtegories": the metadata's checksum fails
  fs.writeFileSync(file, bytes);
  await t.throwsAsync(addon.readCheckpointMetadata(file), { message: /record 'metadata' fails its checksum/ });
  const foreign = path.join(tmp, 'foreign.bin');
  fs.writeFileSync(foreign, Buffer.from('not a checkpoint at all'));
  await t.throwsAsync(addon.readCheckpointMetadata(foreign), { message: /not an align-detr checkpoint/ });
  await t.throwsAsync(Trainer.resume(foreign), { instanceOf: CheckpointError });
  await t.throwsAsync(addon.readCheckpointMetadata(path.join(tmp, 'missing.adetr')), { instanceOf: TypeError, message: /cannot open/ });
  model.dispose();
});
