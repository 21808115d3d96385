// The exported file itself: its structure read back with onnx-proto (interface, opset, standard
// operators only, BatchNorm folded away, TopK selection, gather sampling), onnx's checker when a
// Python with `onnx` is at hand, external data (threshold lowered to force it) that onnxruntime
// loads with the same results, atomic writes that leave nothing on failure, and the option and
// configuration errors.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { AlignDetr } from '../lib/index';
import { CATEGORIES, session } from './helpers/onnx-support';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-onnx-file-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A small model: the file's structure does not depend on the width.
const micro = {
  preset: 'tiny' as const, categories: CATEGORIES, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 2,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, seed: 11,
};

function read(file: string): onnx.ModelProto {
  return onnx.ModelProto.decode(fs.readFileSync(file));
}

// The ai.onnx operators the exporter may emit: nothing custom, nothing experimental.
const STANDARD = new Set([
  'Add', 'And', 'Cast', 'Clip', 'Concat', 'Conv', 'Cos', 'CumSum', 'Div', 'Expand', 'Floor', 'Gather', 'GatherElements', 'Greater',
  'GreaterOrEqual', 'GridSample', 'Identity', 'InstanceNormalization', 'LayerNormalization', 'Less', 'LessOrEqual', 'Log', 'MatMul',
  'Max', 'MaxPool', 'Min', 'Mod', 'Mul', 'Not', 'Or', 'Range', 'Reciprocal', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'Relu', 'Reshape',
  'Shape', 'Sigmoid', 'Sin', 'Slice', 'Softmax', 'Sqrt', 'Squeeze', 'Sub', 'TopK', 'Transpose', 'Unsqueeze', 'Where',
]);

const shapeOf = (v: onnx.IValueInfoProto) => v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue));

test('the file: interface, opset, standard operators, folded BatchNorm, TopK selection', async (t) => {
  const model = await AlignDetr.create({ ...micro, preset: 'dino-r50-4scale', backboneWidth: 8, backboneDepth: 18 });
  const file = path.join(tmp, 'fixed.onnx');
  const result = await model.exportOnnx(file, { height: 96, width: 128, postprocess: true, opset: 18 });
  t.deepEqual(result.files, [file]);
  const m = read(file);
  t.is(m.opsetImport.length, 1);
  t.is(m.opsetImport[0]!.domain, '');
  t.is(Number(m.opsetImport[0]!.version), 18);
  t.is(Number(m.irVersion), 8);
  const g = m.graph as onnx.GraphProto;
  t.deepEqual(g.input.map((v) => [v.name, v.type?.tensorType?.elemType, shapeOf(v)]), [['images', onnx.TensorProto.DataType.UINT8, ['batch', 96, 128, 3]]]);
  t.deepEqual(
    g.output.map((v) => [v.name, v.type?.tensorType?.elemType, shapeOf(v)]),
    [
      // K = min(selectTopK 100, queries × classes = 60).
      ['scores', onnx.TensorProto.DataType.FLOAT, ['batch', 60]],
      ['labels', onnx.TensorProto.DataType.INT64, ['batch', 60]],
      ['boxes', onnx.TensorProto.DataType.FLOAT, ['batch', 60, 4]],
    ],
  );
  const ops = new Set(g.node.map((n) => n.opType));
  t.deepEqual([...ops].filter((o) => !STANDARD.has(o!)), []);
  t.true(g.node.every((n) => !n.domain));
  t.false(ops.has('GridSample'), 'gather sampling by default');
  t.false(ops.has('BatchNormalization'));
  // Two-stage selection, post-processing top-K and its reorder.
  t.is(g.node.filter((n) => n.opType === 'TopK').length, 3);
  const names = g.initializer.map((i) => i.name!);
  t.false(names.some((n) => /running_(mean|var)|\.norm\.(weight|bias)$/.test(n) && n.startsWith('backbone.')), 'no BatchNorm tensors');
  t.true(names.includes('backbone.stem.conv1.weight_folded') && names.includes('backbone.stem.conv1.bias_folded'));
  t.deepEqual(JSON.parse(m.metadataProps.find((p) => p.key === 'categories')!.value!), CATEGORIES);
  const grid = path.join(tmp, 'grid.onnx');
  await model.exportOnnx(grid, { msda: 'grid-sample' });
  const rawGraph = read(grid).graph as onnx.GraphProto;
  t.true(rawGraph.node.some((n) => n.opType === 'GridSample'));
  t.deepEqual(rawGraph.input.map((v) => [v.name, shapeOf(v)]), [['images', ['batch', 3, 'height', 'width']], ['valid_sizes', ['batch', 2]]]);
  t.deepEqual(rawGraph.output.map((v) => [v.name, shapeOf(v)]), [['logits', ['batch', 20, 3]], ['boxes', ['batch', 20, 4]]]);

  // onnx's own checker (full_check: also shape inference), when a Python with onnx is at hand.
  const python = process.env.ALIGN_DETR_ONNX_PYTHON ?? path.join(os.homedir(), '.cache', 'align-detr-ci', 'onnx-venv', 'bin', 'python');
  let hasOnnx = false;
  try {
    execFileSync(python, ['-c', 'import onnx'], { stdio: 'ignore' });
    hasOnnx = true;
  } catch {
    t.log(`onnx checker skipped: no python with onnx at ${python} (set ALIGN_DETR_ONNX_PYTHON)`);
  }
  if (hasOnnx) {
    for (const f of [file, grid]) {
      const out = execFileSync(python, ['-c', 'import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True); print("ok")', f], { encoding: 'utf8' });
      t.is(out.trim(), 'ok', f);
      t.log(`onnx.checker.check_model(full_check=True): ${path.basename(f)} ok`);
    }
  }
  model.dispose();
});

test('external data: above the threshold the weights go to <file>.data and onnxruntime reads them', async (t) => {
  const model = await AlignDetr.create(micro);
  const inline = path.join(tmp, 'inline.onnx');
  const split = path.join(tmp, 'split.onnx');
  t.deepEqual((await model.exportOnnx(inline, { externalDataThreshold: 1e9 })).files, [inline]);
  t.deepEqual((await model.exportOnnx(split, { externalDataThreshold: 1000 })).files, [split, `${split}.data`]);
  const m = read(split);
  const external = (m.graph as onnx.GraphProto).initializer.filter((i) => i.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  t.true(external.length > 10);
  const dataSize = fs.statSync(`${split}.data`).size;
  let moved = 0;
  for (const i of external) {
    const kv = Object.fromEntries((i.externalData ?? []).map((e) => [e.key, e.value]));
    t.is(kv.location, 'split.onnx.data');
    t.is(Number(kv.offset) % 4096, 0);
    t.true(Number(kv.offset) + Number(kv.length) <= dataSize);
    t.is(i.rawData?.length ?? 0, 0);
    moved += Number(kv.length);
  }
  // Each moved tensor keeps its name, dims and three short key-value entries in the model file.
  t.true(fs.statSync(inline).size - fs.statSync(split).size >= moved - 100 * external.length, 'the external bytes left the model file');
  const images = Float32Array.from({ length: 2 * 3 * 64 * 96 }, (_, i) => Math.sin(i * 0.01));
  const feeds = {
    images: new ort.Tensor('float32', images, [2, 3, 64, 96]),
    valid_sizes: new ort.Tensor('int64', BigInt64Array.from([64n, 96n, 50n, 70n]), [2, 2]),
  };
  const a = await (await session(inline)).run(feeds);
  const b = await (await session(split)).run(feeds);
  t.deepEqual(Array.from(b.logits!.data as Float32Array), Array.from(a.logits!.data as Float32Array));
  t.deepEqual(Array.from(b.boxes!.data as Float32Array), Array.from(a.boxes!.data as Float32Array));
  model.dispose();
});

test('a failed write leaves nothing under the name (and no temporaries)', async (t) => {
  const model = await AlignDetr.create(micro);
  // The target is a directory: the model (and its external data) are written, then the final
  // rename fails; everything written is removed.
  const dir = path.join(tmp, 'fail');
  const target = path.join(dir, 'taken.onnx');
  fs.mkdirSync(target, { recursive: true });
  const err = await t.throwsAsync(model.exportOnnx(target, { externalDataThreshold: 1000 }));
  t.regex(err?.message ?? '', /^path: cannot write .*taken\.onnx: /);
  t.deepEqual(fs.readdirSync(dir), ['taken.onnx']);
  t.deepEqual(fs.readdirSync(target), []);
  // A folder that cannot be created.
  fs.writeFileSync(path.join(tmp, 'plain-file'), '');
  const err2 = await t.throwsAsync(model.exportOnnx(path.join(tmp, 'plain-file', 'm.onnx')));
  t.regex(err2?.message ?? '', /^path: cannot write .*m\.onnx: /);
  // An existing file is replaced whole.
  const ok = path.join(dir, 'ok.onnx');
  fs.writeFileSync(ok, 'old');
  await model.exportOnnx(ok);
  t.true((read(ok).graph as onnx.GraphProto).node.length > 100);
  t.deepEqual(fs.readdirSync(dir).sort(), ['ok.onnx', 'taken.onnx']);
  model.dispose();
});

test('options and configurations the exporter rejects name the option', async (t) => {
  const model = await AlignDetr.create(micro);
  const f = path.join(tmp, 'bad.onnx');
  const cases: [unknown, RegExp, typeof TypeError | typeof RangeError][] = [
    [{ opst: 17 }, /^options: unknown option 'opst'; did you mean 'opset'\?/, TypeError],
    [{ opset: 13 }, /^opset: expected an integer in \[17, 21\]/, RangeError],
    [{ height: 64 }, /^width: required with height/, TypeError],
    [{ height: 64, width: 64, dynamicSize: true }, /^dynamicSize: true cannot be combined/, TypeError],
    [{ dynamicSize: false }, /^dynamicSize: false needs height and width/, TypeError],
    [{ postprocess: 'yes' }, /^postprocess: expected a boolean/, TypeError],
    [{ maxDetections: 5 }, /^maxDetections: only with postprocess/, TypeError],
    [{ postprocess: true, maxDetections: 61 }, /^maxDetections: expected an integer in \[1, 60\]/, RangeError],
    [{ msda: 'cuda' }, /^msda: expected 'gather' or 'grid-sample'/, TypeError],
    [{ height: 16, width: 16 }, /^height, width: 16×16 gives 7 encoder tokens, fewer than the model's 20 queries/, RangeError],
    [{ externalDataThreshold: -1 }, /^externalDataThreshold: expected an integer/, RangeError],
  ];
  for (const [options, message, type] of cases) {
    await t.throwsAsync(model.exportOnnx(f, options as never), { instanceOf: type, message }, JSON.stringify(options));
  }
  const detrex = await AlignDetr.create({ ...micro, padInvariant: false });
  await t.throwsAsync(detrex.exportOnnx(f), { instanceOf: RangeError, message: /^padInvariant: / });
  // Without padding such a model exports.
  await t.notThrowsAsync(detrex.exportOnnx(f, { postprocess: true }));
  t.false(fs.existsSync(path.join(tmp, 'never.onnx')));
  for (const m of [model, detrex]) m.dispose();
});
