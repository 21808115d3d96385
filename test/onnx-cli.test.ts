// `align-detr export` as a user runs it: a saved checkpoint to an ONNX file onnxruntime-node
// loads with the interface the flags asked for, and its usage errors (exit status 2).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AlignDetr } from '../lib/index';
import { CATEGORIES } from './helpers/onnx-support';

const CLI = path.resolve(__dirname, '../lib/cli/main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-onnx-cli-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });

test('export: checkpoint → ONNX with the flags\' interface; usage errors', async (t) => {
  const model = await AlignDetr.create({
    preset: 'tiny', categories: CATEGORIES, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
    decoderLayers: 1, ffnDim: 64, numQueries: 20, neckGroups: 8, seed: 2,
  });
  const checkpoint = path.join(tmp, 'micro.adetr');
  await model.save(checkpoint);
  model.dispose();

  const r = run('export', '--checkpoint', checkpoint, '--out', 'out/m.onnx', '--postprocess', '--height', '64', '--width', '96', '--max-detections', '7');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /wrote .*m\.onnx \(postprocess interface, 64×96\)/);
  const s = await ort.InferenceSession.create(path.join(tmp, 'out', 'm.onnx'));
  t.deepEqual(s.inputNames, ['images']);
  t.deepEqual(s.outputNames, ['scores', 'labels', 'boxes']);
  const out = await s.run({ images: new ort.Tensor('uint8', new Uint8Array(64 * 96 * 3).fill(90), [1, 64, 96, 3]) });
  t.deepEqual(out.scores!.dims, [1, 7]);
  t.true(Array.from(out.labels!.data as BigInt64Array).every((id) => [1n, 2n, 3n].includes(id)));

  const raw = run('export', '--checkpoint', checkpoint);
  t.is(raw.status, 0, raw.stderr);
  const s2 = await ort.InferenceSession.create(path.join(tmp, 'model.onnx'));
  t.deepEqual(s2.inputNames, ['images', 'valid_sizes']);

  const bad = run('export', '--checkpoint', checkpoint, '--msda', 'magic');
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--msda: expected gather or grid-sample, got 'magic'/);
  const missing = run('export');
  t.is(missing.status, 2);
  t.regex(missing.stderr, /export: --checkpoint FILE is required/);
  const conflict = run('export', '--checkpoint', checkpoint, '--height', '64');
  t.is(conflict.status, 1);
  t.regex(conflict.stderr, /width: required with height/);
});
