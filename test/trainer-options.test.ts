// The trainer option table (native/train/trainer_options): lib/trainer.ts's TrainerOptions type
// and its docs are checked against it, the binding enforces exactly its ranges, and defaults
// follow it (backboneLr = lr / 10, the loss's recipe).
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlignDetr, Trainer, trainerOptionFields } from '../lib/index';

const fields = trainerOptionFields();
const micro = {
  preset: 'tiny' as const, numClasses: 3, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

/** TrainerOptions' members in lib/trainer.ts: name and doc comment (one line of words). */
function trainerOptionMembers(): { name: string; doc: string }[] {
  const source = fs.readFileSync(path.resolve(__dirname, '../../lib/trainer.ts'), 'utf8');
  const start = source.indexOf('export interface TrainerOptions {');
  if (start < 0) throw new Error('lib/trainer.ts has no TrainerOptions interface');
  const body = source.slice(start, source.indexOf('\n}\n', start));
  const members: { name: string; doc: string }[] = [];
  for (const m of body.matchAll(/(?:\/\*\*([\s\S]*?)\*\/\s*)?^\s*(\w+)\??\s*:\s*([^;]+);/gm)) {
    const doc = (m[1] ?? '').split('\n').map((line) => line.replace(/^\s*\*?\s?/, '')).join(' ').replace(/\s+/g, ' ').trim();
    members.push({ name: m[2] as string, doc });
  }
  return members;
}

test('TrainerOptions in lib/trainer.ts lists exactly the table, each default documented', (t) => {
  const members = trainerOptionMembers();
  t.deepEqual(members.map((m) => m.name).sort(), fields.map((f) => f.name).sort());
  for (const f of fields) {
    const doc = members.find((m) => m.name === f.name)?.doc ?? '';
    if (f.kind === 'number' || f.kind === 'integer') {
      // The documented default is the table's (backboneLr's is a rule: lr × 0.1).
      const text = f.name === 'backboneLr' ? 'lr × 0.1' : String(f.default);
      t.true(doc.includes(`default ${text}`) || doc.includes(`default ${Number(f.default).toExponential().replace('e-', 'e-')}`),
        `${f.name}: doc "${doc}" does not give the default ${text}`);
    }
  }
});

test('the binding enforces the table: bounds accepted, just outside refused naming the option', async (t) => {
  const model = await AlignDetr.create(micro);
  for (const f of fields) {
    if ((f.kind !== 'number' && f.kind !== 'integer') || f.min === undefined || f.max === undefined) continue;
    for (const ok of [f.min, f.max]) t.notThrows(() => new Trainer(model, { [f.name]: ok }).dispose(), `${f.name} = ${ok}`);
    const step = f.kind === 'integer' ? 1 : Math.max(Math.abs(f.max) * 1e-9, 1e-12);
    for (const bad of [f.min - step, f.max + (f.kind === 'integer' ? 1 : Math.abs(f.max))]) {
      t.throws(() => new Trainer(model, { [f.name]: bad }), { instanceOf: RangeError, message: new RegExp(`^options\\.${f.name}: `) },
        `${f.name} = ${bad}`);
    }
    if (f.kind === 'integer') {
      t.throws(() => new Trainer(model, { [f.name]: (f.min ?? 0) + 0.5 }), { instanceOf: RangeError, message: new RegExp(`^options\\.${f.name}: `) });
    }
    t.throws(() => new Trainer(model, { [f.name]: 'x' as never }), { instanceOf: TypeError, message: new RegExp(`^options\\.${f.name}: `) });
  }
  const loss = fields.find((f) => f.name === 'loss');
  t.deepEqual(loss?.choices, ['align', 'ia-bce', 'focal', 'qfl', 'vfl', 'stable-dino', 'sd-align']);
  t.throws(() => new Trainer(model, { milestones: [5, -1] }), { instanceOf: RangeError, message: /^options\.milestones\[\]: / });
  t.throws(() => new Trainer(model, { lerningRate: 1 } as never), { instanceOf: TypeError, message: /lerningRate/ });
  model.dispose();
});

test('defaults: the recipe\'s lr 1e-4, backbone at a tenth (the C++ test checks that backboneLr follows lr)', (t) => {
  t.is(fields.find((f) => f.name === 'lr')?.default, 1e-4);
  t.is(fields.find((f) => f.name === 'backboneLr')?.default, 1e-5);
  t.is(fields.find((f) => f.name === 'seed')?.default, 42);
  t.is(fields.find((f) => f.name === 'matching')?.default, 'mixed');
});
