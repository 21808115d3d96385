// The JS/native boundary: typed arrays on SharedArrayBuffers are accepted everywhere, a getter
// that detaches a buffer or disposes a tensor mid-call gives a clean error (the binding reads JS
// values once, before it touches their memory), and native handles of one class are refused
// by another class's methods (type tags). The crash-prone cases run in child processes, so a
// regression fails the test instead of killing the runner.
import test from 'ava';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import { AlignDetr, Tensor, ops, ImageDecodeError } from '../lib/index';

const LIB = path.resolve(__dirname, '../lib/index.js');
const NATIVE = path.resolve(__dirname, '../lib/native.js');

/** Runs `body` (CommonJS, with `lib` and `addon` in scope) in a fresh node; returns its JSON output. */
function inChild(t: { fail(message: string): void }, body: string): Record<string, unknown> | undefined {
  const script = `const lib = require(${JSON.stringify(LIB)});
const addon = require(${JSON.stringify(NATIVE)}).loadAddon();
const outcome = (fn) => { try { const v = fn(); return v && typeof v.then === 'function' ? 'promise' : 'ok'; }
  catch (e) { return e.constructor.name + ': ' + e.message; } };
const settle = async (fn) => { try { await fn(); return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
(async () => { ${body} })().catch((e) => { console.error(e); process.exit(3); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    t.fail(`child exited with status ${r.status} signal ${r.signal}\n${r.stderr}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function shared<T extends Float32Array | Float64Array | Uint8Array>(Kind: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, values: ArrayLike<number>): T {
  const out = new Kind(new SharedArrayBuffer(values.length * Kind.BYTES_PER_ELEMENT));
  for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  return out;
}

test('typed arrays on a SharedArrayBuffer: Tensor.from and every linearSumAssignment form accept them', async (t) => {
  const data = shared(Float32Array, [1, 2, 3, 4, 5, 6]);
  const tensor = Tensor.from(data, [2, 3]);
  t.deepEqual(Array.from(tensor.toTypedArray()), [1, 2, 3, 4, 5, 6]);
  // A copy was taken: later writes to the shared memory do not reach the tensor.
  data[0] = 100;
  t.is(tensor.toTypedArray()[0], 1);

  // Brute force over the 2 assignments of a 2×2: the minimum is the anti-diagonal (2 + 3).
  const cost = { data: shared(Float64Array, [4, 2, 3, 9]), rows: 2, cols: 2 };
  const one = ops.linearSumAssignment(cost);
  t.deepEqual([Array.from(one.rowIndices), Array.from(one.colIndices), one.totalCost], [[0, 1], [1, 0], 5]);
  const costF32 = { data: shared(Float32Array, [4, 2, 3, 9]), rows: 2, cols: 2 };
  const batch = ops.linearSumAssignmentBatch([cost, costF32]);
  t.deepEqual(batch.map((a) => a.totalCost), [5, 5]);
  const later = await ops.linearSumAssignmentBatchAsync([cost, costF32]);
  t.deepEqual(later.map((a) => Array.from(a.colIndices)), [[1, 0], [1, 0]]);
});

test('a getter that detaches the data buffer after it was passed gives a RangeError, not a read of freed memory', (t) => {
  const r = inChild(t, `
    const detach = (array) => structuredClone(array.buffer, { transfer: [array.buffer] });
    // Tensor.from: the shape's element getter detaches data (whose length was already known to JS).
    const data = new Float32Array(1 << 20);
    const shape = [1 << 10, 0];
    Object.defineProperty(shape, 1, { get() { detach(data); return 1 << 10; } });
    const fromTensor = outcome(() => lib.Tensor.from(data, shape));
    // LSA batch: reading matrix 1's rows detaches matrix 0's data.
    const mk = () => ({ data: new Float64Array(64 * 64).fill(1), rows: 64, cols: 64 });
    const first = mk(), second = mk();
    Object.defineProperty(second, 'rows', { get() { detach(first.data); return 64; } });
    const lsaBatch = outcome(() => lib.ops.linearSumAssignmentBatch([first, second]));
    const a = mk(), b = mk();
    Object.defineProperty(b, 'cols', { get() { detach(a.data); return 64; } });
    const lsaAsync = await settle(() => lib.ops.linearSumAssignmentBatchAsync([a, b]));
    // reshape: the new shape's getter disposes the tensor being reshaped.
    const t = lib.Tensor.from(new Float32Array(4096), [4096]);
    const dims = [64, 0];
    Object.defineProperty(dims, 1, { get() { t.dispose(); return 64; } });
    const reshape = outcome(() => t.reshape(dims));
    console.log(JSON.stringify({ fromTensor, lsaBatch, lsaAsync, reshape }));
  `);
  if (!r) return;
  t.regex(String(r.fromTensor), /^RangeError: shape: \[1024, 1024\] holds 1048576 elements but data has length 0/);
  t.regex(String(r.lsaBatch), /^RangeError: costs\[0\]: rows \* cols .* must equal data\.length \(0\)/);
  t.regex(String(r.lsaAsync), /^RangeError: costs\[0\]: rows \* cols .* must equal data\.length \(0\)/);
  t.regex(String(r.reshape), /^TypeError: tensor\.reshape: Tensor has been disposed/);
});

test('native handles check their class: borrowed prototypes and foreign `this` are TypeErrors', (t) => {
  const r = inChild(t, `
    const { TensorHandle, ModelHandle, TrainerHandle } = addon;
    const model = await addon.createModel('tiny', { numClasses: 2 });
    const tensor = TensorHandle.fromTypedArray(new Float32Array(4), [4]);
    const fake = Object.create(TensorHandle.prototype);
    const getter = (cls, name) => Object.getOwnPropertyDescriptor(cls.prototype, name).get;
    const results = {
      modelAsTensorThis: outcome(() => TensorHandle.prototype.toTypedArray.call(model)),
      tensorAsModelThis: outcome(() => ModelHandle.prototype.numParameters.call(tensor)),
      tensorAsTrainerThis: outcome(() => TrainerHandle.prototype.step.call(tensor, {})),
      shapeGetterOnPlainObject: outcome(() => getter(TensorHandle, 'shape').call({})),
      disposedGetterOnModel: outcome(() => getter(TensorHandle, 'disposed').call(model)),
      fakeDispose: outcome(() => fake.dispose()),
      fakeAsArgument: outcome(() => addon.msDeformAttn(fake, tensor, tensor, tensor, tensor)),
      modelAsTensorArgument: outcome(() => addon.lsaSolve(model)),
      tensorAsModelArgument: outcome(() => addon.createTrainer(tensor, {})),
      // The real handles still work after all of that.
      tensorStillWorks: Array.from(tensor.toTypedArray()).length,
      modelStillWorks: model.numParameters() > 0,
    };
    console.log(JSON.stringify(results));
  `);
  if (!r) return;
  t.regex(String(r.modelAsTensorThis), /^TypeError: TensorHandle method called on an object that is not a TensorHandle/);
  t.regex(String(r.tensorAsModelThis), /^TypeError: ModelHandle method called on an object that is not a ModelHandle/);
  t.regex(String(r.tensorAsTrainerThis), /^TypeError: TrainerHandle method called/);
  t.regex(String(r.shapeGetterOnPlainObject), /^TypeError: TensorHandle method called/);
  t.regex(String(r.disposedGetterOnModel), /^TypeError: TensorHandle method called/);
  t.regex(String(r.fakeDispose), /^TypeError: TensorHandle method called/);
  t.regex(String(r.fakeAsArgument), /^TypeError: value: expected a Tensor/);
  t.regex(String(r.modelAsTensorArgument), /^TypeError: cost.data: expected a Float64Array or Float32Array/);
  t.regex(String(r.tensorAsModelArgument), /^TypeError: model: expected a model/);
  t.is(r.tensorStillWorks, 4);
  t.true(r.modelStillWorks);
});

test('the public classes expose no raw native handles', async (t) => {
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 2 });
  t.false('_handle' in model);
  t.false('_wrap' in Tensor);
  t.false('_fromHandle' in AlignDetr);
  t.deepEqual(
    Object.getOwnPropertyNames(model).concat(Object.getOwnPropertyNames(Object.getPrototypeOf(model))).filter((k) => k.startsWith('_')),
    [],
  );
  model.dispose();
});

test('predict: an unreadable file is an ImageDecodeError naming the argument and the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-decode-'));
  const bad = path.join(dir, 'not-an-image.jpg');
  fs.writeFileSync(bad, 'this is text, not a JPEG');
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 2 });
  const image = { data: new Uint8Array(32 * 32 * 3), width: 32, height: 32, channels: 3 as const };
  const err = await t.throwsAsync(model.predict([image, bad]), { instanceOf: ImageDecodeError });
  t.is(err?.file, bad);
  t.is(err?.argName, 'images[1]');
  t.true(err?.message.startsWith(`images[1]: cannot decode image ${bad}: `), err?.message);
  // A SharedArrayBuffer-backed image is accepted and detects like the same pixels in a plain array.
  const plain = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37) % 251);
  const sab = new Uint8Array(new SharedArrayBuffer(plain.length));
  sab.set(plain);
  const [a] = await model.predict({ ...image, data: plain }, { maxDetections: 5 });
  const [b] = await model.predict({ ...image, data: sab }, { maxDetections: 5 });
  t.deepEqual(b, a);
  await t.throwsAsync(model.predict({ ...image, data: plain }, { scoreTreshold: 0.5 } as never), {
    instanceOf: TypeError,
    message: "options: unknown option 'scoreTreshold'; did you mean 'scoreThreshold'?",
  });
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
