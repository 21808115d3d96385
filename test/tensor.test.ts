// Tensor round trips, shapes and dtypes, and every error path of Tensor.from / use after dispose.
import test from 'ava';
import { Tensor, buildInfo, setNumThreads } from '../lib/index';

const cases = [
  { dtype: 'float32', data: new Float32Array([1.5, -2.25, 3e-8, Number.MAX_VALUE, -0, NaN]) },
  { dtype: 'float64', data: new Float64Array([Math.PI, -1e300, 5e-324, Infinity, -Infinity, NaN]) },
  { dtype: 'int32', data: new Int32Array([0, -1, 2147483647, -2147483648, 7, 42]) },
  { dtype: 'int64', data: new BigInt64Array([0n, -1n, 9223372036854775807n, -9223372036854775808n, 2n ** 40n, 3n]) },
  { dtype: 'uint8', data: new Uint8Array([0, 1, 127, 128, 254, 255]) },
] as const;

for (const { dtype, data } of cases) {
  test(`round trip ${dtype}`, (t) => {
    for (const shape of [[6], [2, 3], [3, 1, 2], [1, 1, 1, 6]]) {
      const x = Tensor.from(data, shape);
      t.deepEqual(x.shape, shape);
      t.is(x.dtype, dtype);
      const back = x.toTypedArray();
      t.is(back.constructor, data.constructor);
      t.not(back, data, 'a copy, not the same array');
      t.deepEqual(Array.from(back as ArrayLike<number | bigint>), Array.from(data as ArrayLike<number | bigint>));
      x.dispose();
    }
  });
}

test('float32 keeps the exact bit pattern (Object.is on -0 and NaN)', (t) => {
  const src = new Float32Array([-0, NaN, 1 / 3]);
  const back = Tensor.from(src, [3]).toTypedArray();
  t.true(Object.is(back[0], -0));
  t.true(Number.isNaN(back[1]));
  t.is(back[2], Math.fround(1 / 3));
});

test('a view into a larger buffer copies only the view', (t) => {
  const big = new Float64Array([9, 1, 2, 3, 9]);
  const view = big.subarray(1, 4);
  t.deepEqual(Array.from(Tensor.from(view, [3]).toTypedArray()), [1, 2, 3]);
});

test('data is copied in: later writes to the source do not change the tensor', (t) => {
  const src = new Int32Array([1, 2, 3]);
  const x = Tensor.from(src, [3]);
  src[0] = 100;
  t.deepEqual(Array.from(x.toTypedArray()), [1, 2, 3]);
});

test('empty tensors and zero-size dims', (t) => {
  const x = Tensor.from(new Float32Array(0), [0, 4]);
  t.deepEqual(x.shape, [0, 4]);
  t.is(x.toTypedArray().length, 0);
  const s = Tensor.from(new Float32Array([7]), []);
  t.deepEqual(s.shape, []);
  t.deepEqual(Array.from(s.toTypedArray()), [7]);
});

test('explicit dtype that matches is accepted', (t) => {
  t.is(Tensor.from(new Uint8Array(2), [2], 'uint8').dtype, 'uint8');
});

test('wrong TypedArray for the dtype is a TypeError naming data', (t) => {
  const e = t.throws(() => Tensor.from(new Float32Array(2), [2], 'int32' as never), { instanceOf: TypeError });
  t.regex(e!.message, /^data: dtype 'int32' needs a Int32Array, got a Float32Array/);
});

test('unknown dtype name is a TypeError naming dtype', (t) => {
  const e = t.throws(() => Tensor.from(new Float32Array(2), [2], 'float16' as never), { instanceOf: TypeError });
  t.regex(e!.message, /^dtype: unknown dtype 'float16'/);
});

test('unsupported TypedArrays and non-arrays are TypeErrors naming data', (t) => {
  for (const bad of [new Int16Array(2), new Uint32Array(2), new Float64Array(2).buffer, [1, 2], 'ab', null]) {
    const e = t.throws(() => Tensor.from(bad as never, [2]), { instanceOf: TypeError });
    t.regex(e!.message, /^data: /);
  }
});

test('shape whose product differs from the length is a RangeError naming shape', (t) => {
  const e = t.throws(() => Tensor.from(new Float32Array(6), [4, 2]), { instanceOf: RangeError });
  t.is(e!.message, 'shape: [4, 2] holds 8 elements but data has length 6');
  t.throws(() => Tensor.from(new Float32Array(6), [6, 2 ** 40, 2 ** 40]), { instanceOf: RangeError, message: /^shape: / });
});

test('negative, fractional and non-finite dims are RangeErrors naming the dim', (t) => {
  t.throws(() => Tensor.from(new Float32Array(4), [-2, -2]), { instanceOf: RangeError, message: /^shape\[0\]: dims must be non-negative integers, got -2/ });
  t.throws(() => Tensor.from(new Float32Array(4), [2, 2.5]), { instanceOf: RangeError, message: /^shape\[1\]: / });
  t.throws(() => Tensor.from(new Float32Array(4), [NaN]), { instanceOf: RangeError, message: /^shape\[0\]: / });
  t.throws(() => Tensor.from(new Float32Array(4), [Infinity]), { instanceOf: RangeError, message: /^shape\[0\]: / });
});

test('shape that is not an array of numbers is a TypeError', (t) => {
  t.throws(() => Tensor.from(new Float32Array(4), 4 as never), { instanceOf: TypeError, message: /^shape: expected an array/ });
  t.throws(() => Tensor.from(new Float32Array(4), ['4'] as never), { instanceOf: TypeError, message: /^shape\[0\]: expected a number/ });
  t.throws(() => Tensor.from(new Float32Array(4), undefined as never), { instanceOf: TypeError, message: /^shape: / });
});

test('use after dispose is a TypeError; dispose twice is harmless', (t) => {
  const x = Tensor.from(new Float32Array(4), [4]);
  x.dispose();
  x.dispose();
  t.true(x.disposed);
  t.throws(() => x.shape, { instanceOf: TypeError, message: 'tensor.shape: Tensor has been disposed' });
  t.throws(() => x.dtype, { instanceOf: TypeError, message: 'tensor.dtype: Tensor has been disposed' });
  t.throws(() => x.toTypedArray(), { instanceOf: TypeError, message: 'tensor.toTypedArray: Tensor has been disposed' });
  t.is(String(x), 'Tensor(disposed)');
});

test('libtorch errors (c10::Error) become a JS Error with the message and no C++ backtrace', (t) => {
  const x = Tensor.from(new Float32Array(6), [6]);
  const e = t.throws(() => x.reshape([4]));
  t.is(e!.constructor, Error);
  t.is(e!.message, "shape '[4]' is invalid for input of size 6");
  t.notRegex(e!.message, /Exception raised from|frame #/);
  t.deepEqual(x.reshape([-1, 2]).shape, [3, 2]);
});

test('the raw native handle class cannot be constructed from JS', async (t) => {
  const { loadAddon } = await import('../lib/native');
  const Handle = loadAddon().TensorHandle as new (...args: unknown[]) => unknown;
  t.throws(() => new Handle(), { instanceOf: TypeError, message: /cannot be constructed directly/ });
  t.throws(() => new Handle({}), { instanceOf: TypeError });
});

test('buildInfo reports the libtorch version and CUDA state', (t) => {
  const info = buildInfo();
  t.regex(info.libtorchVersion, /^\d+\.\d+\.\d+$/);
  t.is(typeof info.cudaCompiled, 'boolean');
  t.is(typeof info.cudaAvailable, 'boolean');
  if (!info.cudaCompiled) t.false(info.cudaAvailable);
  t.true(Number.isInteger(info.numThreads) && info.numThreads >= 1);
});

test('setNumThreads changes the thread count and validates n', (t) => {
  const before = buildInfo().numThreads;
  setNumThreads(2);
  t.is(buildInfo().numThreads, 2);
  setNumThreads(1);
  t.is(buildInfo().numThreads, 1);
  setNumThreads(before);
  t.throws(() => setNumThreads(0), { instanceOf: RangeError, message: /^n: / });
  t.throws(() => setNumThreads(1.5), { instanceOf: RangeError, message: /^n: / });
  t.throws(() => setNumThreads('2' as never), { instanceOf: TypeError, message: /^n: / });
});
