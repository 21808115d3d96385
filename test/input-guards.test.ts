// Arguments that once hung or were silently accepted (issue 12): non-regular files given to the
// readers, NUL bytes in paths, and fit options of the wrong kind. Each must fail fast with a
// TypeError/RangeError naming the argument, and leave nothing behind.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Trainer, datasets } from '../lib/index';
import type { Dataset, FitOptions } from '../lib/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-guards-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const micro = {
  preset: 'tiny' as const, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

// Settles within `ms` or fails the test (a reader blocked on a FIFO never would).
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('readers refuse a FIFO and a directory at once, naming what the path is', async (t) => {
  const fifo = path.join(tmp, 'pipe.adetr');
  execFileSync('mkfifo', [fifo]);
  const model = await AlignDetr.create({ ...micro, numClasses: 3 });
  for (const call of [() => AlignDetr.load(fifo), () => model.loadCheckpoint(fifo), () => Trainer.resume(fifo)]) {
    const err = await within(5000, t.throwsAsync(call(), { instanceOf: TypeError }));
    t.regex(err?.message ?? '', /^path: .*pipe\.adetr is a FIFO; expected a regular file$/);
  }
  const dir = await within(5000, t.throwsAsync(AlignDetr.load(tmp), { instanceOf: TypeError }));
  t.regex(dir?.message ?? '', /is a directory; expected a regular file$/);
  model.dispose();
});

test('a NUL byte in a save path is refused and writes nothing', async (t) => {
  const model = await AlignDetr.create({ ...micro, numClasses: 3 });
  const truncated = path.join(tmp, 'model');
  await t.throwsAsync(model.save(`${truncated}\0.adetr`), { instanceOf: TypeError, message: /^path: the path contains a NUL character$/ });
  const trainer = new Trainer(model, { lr: 1e-4 });
  await t.throwsAsync(trainer.saveCheckpoint(`${truncated}\0.ckpt`, { epoch: 0, stepInEpoch: 0, history: [] }), {
    instanceOf: TypeError,
    message: /NUL/,
  });
  t.false(fs.existsSync(truncated));
  await t.throwsAsync(AlignDetr.load(`${truncated}\0x`), { instanceOf: TypeError, message: /NUL/ });
  model.dispose();
});

test('fit refuses a dataset without a usable length and options of the wrong kind', async (t) => {
  const data = await datasets.synthetic({ numImages: 2, seed: 1, numClasses: 3, minObjects: 1, maxObjects: 2, width: 96, height: 96 });
  const model = await AlignDetr.create({ ...micro, categories: data.categories });
  const trainer = new Trainer(model, { lr: 1e-4 });
  const withLength = (length: number): Dataset => Object.defineProperty(Object.create(data) as Dataset, 'length', { value: length });
  const fit = { epochs: 1, batchSize: 1 };
  for (const length of [Number.NaN, -1, 0, 1.5]) {
    await t.throwsAsync(trainer.fit(withLength(length), fit), { instanceOf: RangeError, message: /^trainSet\.length: expected a positive integer/ });
  }
  await t.throwsAsync(trainer.fit(null as never, fit), { instanceOf: TypeError, message: /^trainSet: / });
  const bad = (o: Record<string, unknown>) => trainer.fit(data, { ...fit, ...o } as FitOptions);
  await t.throwsAsync(bad({ maxMinutes: '5' }), { instanceOf: TypeError, message: /^maxMinutes: / });
  await t.throwsAsync(bad({ maxMinutes: [5] }), { instanceOf: TypeError, message: /^maxMinutes: / });
  await t.throwsAsync(bad({ maxMinutes: -1 }), { instanceOf: RangeError, message: /^maxMinutes: / });
  await t.throwsAsync(bad({ augment: 'flip' }), { instanceOf: TypeError, message: /^augment: expected 'recipe', 'none' or a function, got "flip"$/ });
  t.is(trainer.stepCount, 0);
  model.dispose();
});

test('parameter(name) on a fresh model returns the weights (it read freed memory)', async (t) => {
  // In a child process: the old use-after-free crashed it (SIGSEGV) or returned garbage.
  const index = path.resolve(__dirname, '../lib/index.js');
  const script = `
    const { AlignDetr } = require(${JSON.stringify(index)});
    (async () => {
      const m = await AlignDetr.create({ preset: 'tiny', numClasses: 3, seed: 5 });
      const names = m.parameterNames();
      for (let round = 0; round < 3; round++) {
        for (const name of names) {
          const a = m.parameter(name).toTypedArray();
          if (!a.every(Number.isFinite)) throw new Error(name + ': not finite');
        }
      }
      // The same tensor read twice is the same, and matches the model's own named copy after a save/load.
      const name = 'class_embed.0.bias';
      const x = Array.from(m.parameter(name).toTypedArray());
      const file = require('path').join(${JSON.stringify(tmp)}, 'fresh.adetr');
      await m.save(file);
      const back = await AlignDetr.load(file);
      const y = Array.from(back.parameter(name).toTypedArray());
      if (JSON.stringify(x) !== JSON.stringify(y)) throw new Error('parameter differs after save/load');
      console.log('ok ' + names.length);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, OMP_NUM_THREADS: '2' }, encoding: 'utf8', timeout: 120_000 });
    t.is(r.status, 0, `signal ${String(r.signal)}: ${r.stderr}`);
    t.regex(r.stdout, /^ok \d+/);
  }
});

test('terminating a worker while its native work is in flight leaves the process running', async (t) => {
  const lib = path.resolve(__dirname, '../lib/index.js');
  const child = path.resolve(__dirname, '../../test/helpers/terminate-busy.js');
  const r = spawnSync(process.execPath, [child, lib, tmp], { encoding: 'utf8', timeout: 300_000 });
  t.is(r.status, 0, `signal ${String(r.signal)}: ${r.stderr.slice(-2000)}`);
  t.is(r.stdout.trim(), 'ok 6');
});
