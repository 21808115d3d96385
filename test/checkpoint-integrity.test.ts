// Damaged checkpoints are refused: a checkpoint carries a checksum of every record (config,
// metadata, each weight), so a flipped bit anywhere in the weights is a CheckpointError rather
// than a model that predicts garbage.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, AlignDetrError, CheckpointError, Trainer } from '../lib/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-integrity-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

test('a bit flipped in the weights is a CheckpointError naming the file and the record', async (t) => {
  const model = await AlignDetr.create({ ...micro, numClasses: 3, seed: 9 });
  const file = path.join(tmp, 'clean.adetr');
  await model.save(file);
  const clean = fs.readFileSync(file);
  // The intact file loads, and gives back the same weights.
  const back = await AlignDetr.load(file);
  t.deepEqual(back.parameter('class_embed.0.bias').toTypedArray(), model.parameter('class_embed.0.bias').toTypedArray());
  back.dispose();
  // 14 flips spread over the file's middle, where the weight bytes are (the zip headers are a
  // tiny fraction of it): each must be refused, never loaded.
  let checksumRefusals = 0;
  for (let i = 0; i < 14; i++) {
    const damaged = Buffer.from(clean);
    const at = Math.floor(clean.length * (0.1 + (0.8 * i) / 13));
    damaged[at]! ^= 1 << i % 8;
    const bad = path.join(tmp, `flip-${i}.adetr`);
    fs.writeFileSync(bad, damaged);
    const err = await t.throwsAsync(AlignDetr.load(bad));
    if (err instanceof CheckpointError) {
      checksumRefusals++;
      t.true(err instanceof AlignDetrError);
      t.is(err.name, 'CheckpointError');
      t.is(err.file, bad);
      t.regex(err.message, /is damaged: record '(state\/[\w.]+|config|metadata)' fails its checksum$/);
    }
  }
  t.true(checksumRefusals >= 12, `${checksumRefusals} of 14 refused by checksum`);
  model.dispose();
});

test('a training checkpoint with a flipped weight bit is refused by Trainer.resume', async (t) => {
  const model = await AlignDetr.create({ ...micro, numClasses: 3, seed: 4 });
  const trainer = new Trainer(model, { lr: 1e-4 });
  const file = path.join(tmp, 'train.ckpt');
  await trainer.saveCheckpoint(file, { epoch: 1, stepInEpoch: 0, history: [] });
  const bytes = fs.readFileSync(file);
  const resumed = await Trainer.resume(file);
  t.is(resumed.stepCount, 0);
  const at = Math.floor(bytes.length * 0.5);
  bytes[at]! ^= 0x10;
  const bad = path.join(tmp, 'train-flip.ckpt');
  fs.writeFileSync(bad, bytes);
  await t.throwsAsync(Trainer.resume(bad), { instanceOf: CheckpointError });
  model.dispose();
});
