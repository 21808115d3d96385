// The model config's one field table (native/model/config.cpp): the TS ModelConfig type and its
// documentation in lib/model.ts are checked against it, so neither can drift from what the native
// side accepts; the binding's JS objects and the checkpoint's config text follow it too.
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr } from '../lib/index';
import type { CreateOptions, ModelConfig } from '../lib/index';
import { loadAddon } from '../lib/native';

interface ConfigField {
  name: string;
  kind: 'integer' | 'number' | 'boolean' | 'choice';
  min?: number;
  max?: number;
  choices?: string[];
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-config-table-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fields = (loadAddon() as { configFields(): ConfigField[] }).configFields();
const micro = {
  preset: 'tiny' as const, numClasses: 3, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

/** ModelConfig's members in lib/model.ts, in order: name, type text and doc comment (one line of words). */
function modelConfigMembers(): { name: string; type: string; doc: string }[] {
  const source = fs.readFileSync(path.resolve(__dirname, '../../lib/model.ts'), 'utf8');
  const start = source.indexOf('export interface ModelConfig {');
  if (start < 0) throw new Error('lib/model.ts has no ModelConfig interface');
  const body = source.slice(start, source.indexOf('\n}\n', start));
  const members: { name: string; type: string; doc: string }[] = [];
  for (const m of body.matchAll(/(?:\/\*\*([\s\S]*?)\*\/\s*)?^\s*(\w+)\??\s*:\s*([^;]+);/gm)) {
    const doc = (m[1] ?? '').split('\n').map((line) => line.replace(/^\s*\*?\s?/, '')).join(' ').replace(/\s+/g, ' ').trim();
    members.push({ name: m[2]!, type: m[3]!.trim(), doc });
  }
  return members;
}

/** Whether `text` mentions the number `n` as a whole number (not as part of 1000 or 0.5). */
function mentions(text: string, n: number): boolean {
  return new RegExp(`(?<!\\d|\\d\\.)${String(n).replace('.', '\\.')}(?!\\d|\\.\\d)`).test(text);
}

test('the native table lists every config field once, with a kind and a range or choices', (t) => {
  t.true(fields.length > 0);
  t.is(new Set(fields.map((f) => f.name)).size, fields.length);
  for (const f of fields) {
    t.true(['integer', 'number', 'boolean', 'choice'].includes(f.kind), f.name);
    if (f.kind === 'integer' || f.kind === 'number') {
      t.true(Number.isFinite(f.min) && Number.isFinite(f.max) && f.min! <= f.max!, f.name);
      if (f.kind === 'integer') t.true(Number.isInteger(f.min) && Number.isInteger(f.max), f.name);
    }
    if (f.kind === 'choice') t.true(Array.isArray(f.choices) && f.choices.length >= 2, f.name);
  }
});

test('model.config has exactly the table fields, in its order, with values of their kinds', async (t) => {
  const model = await AlignDetr.create(micro);
  const config: ModelConfig = model.config;
  t.deepEqual(Object.keys(config), fields.map((f) => f.name));
  for (const f of fields) {
    const v = (config as unknown as Record<string, unknown>)[f.name];
    if (f.kind === 'integer') t.true(Number.isInteger(v), f.name);
    else if (f.kind === 'number') t.is(typeof v, 'number', f.name);
    else if (f.kind === 'boolean') t.is(typeof v, 'boolean', f.name);
    else t.true(f.choices!.includes(v as string), f.name);
  }
  model.dispose();
});

test('lib/model.ts ModelConfig declares the table fields in order, typed by kind', (t) => {
  const members = modelConfigMembers();
  t.deepEqual(members.map((m) => m.name), fields.map((f) => f.name));
  for (const [i, f] of fields.entries()) {
    const { type } = members[i]!;
    if (f.kind === 'integer' || f.kind === 'number') t.is(type, 'number', f.name);
    else if (f.kind === 'boolean') t.is(type, 'boolean', f.name);
    else t.is(type, f.choices!.map((c) => `'${c}'`).join(' | '), f.name);
  }
});

test("each ModelConfig field's doc states the table's range (or choices)", (t) => {
  const members = modelConfigMembers();
  for (const [i, f] of fields.entries()) {
    const { doc } = members[i]!;
    t.true(doc.length > 0, `${f.name}: no doc comment`);
    if (f.kind === 'integer' || f.kind === 'number') {
      // "in [8, 4096]", or the values listed ("18, 34, 50 or 101", "only 4"): both bounds appear.
      const range = /\[(-?[\d.]+), (-?[\d.]+)\]/.exec(doc);
      if (range) t.deepEqual([Number(range[1]), Number(range[2])], [f.min, f.max], `${f.name}: ${doc}`);
      t.true(mentions(doc, f.min!) && mentions(doc, f.max!), `${f.name}: [${f.min}, ${f.max}] not in "${doc}"`);
    } else if (f.kind === 'choice') {
      // The default is named in the doc as one of the choices.
      t.true(f.choices!.some((c) => doc.includes(`'${c}'`)), `${f.name}: no choice named in "${doc}"`);
    }
  }
});

test('the checkpoint config text is "name=value" lines in the table order, and reads back', async (t) => {
  const overrides = { ...micro, labelNoiseRatio: 0.25, boxNoiseScale: 0.1, padInvariant: false, memoryFusion: 'dense', decoder: 'decoupled' };
  const model = await AlignDetr.create(overrides as CreateOptions);
  const file = path.join(tmp, 'table.adetr');
  await model.save(file);
  const bytes = fs.readFileSync(file).toString('latin1');
  const config = model.config as unknown as Record<string, number | boolean | string>;
  // Integers as digits, reals with 17 significant digits (0.1 → 0.10000000000000001), booleans, choice names.
  const text = (f: ConfigField) => (f.kind === 'number' ? Number(config[f.name]).toPrecision(17).replace(/\.?0+$/, '') : String(config[f.name]));
  const expected = fields.map((f) => `${f.name}=${text(f)}\n`).join('');
  t.true(bytes.includes(expected), expected);
  t.true(expected.includes('labelNoiseRatio=0.25\nboxNoiseScale=0.10000000000000001\n'), expected);
  const back = await AlignDetr.load(file);
  t.deepEqual(back.config, model.config);
  t.like(back.config, { labelNoiseRatio: 0.25, boxNoiseScale: 0.1, padInvariant: false, memoryFusion: 'dense', decoder: 'decoupled' });
  back.dispose();
  model.dispose();
});
