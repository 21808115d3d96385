// Native memory held by tensors: dispose() frees at once, even inside a synchronous loop; a
// tensor dropped without dispose() is freed by its finalizer once the event loop turns.
// tensorMemory() counts what handles hold, so both are asserted exactly, not through RSS.
import test from 'ava';
import { Tensor, tensorMemory } from '../lib/index';

const MIB = 1 << 20;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test.serial('dispose() frees each tensor before the next is made, in a synchronous loop', (t) => {
  const before = tensorMemory();
  let peak = 0;
  const data = new Float32Array(MIB / 4);
  for (let i = 0; i < 2000; i++) {
    const x = Tensor.from(data, [MIB / 4]);
    peak = Math.max(peak, tensorMemory().hostBytes - before.hostBytes);
    x.dispose();
  }
  t.is(peak, MIB);
  t.deepEqual(tensorMemory(), before);
});

test.serial('`using` frees at the end of its block', (t) => {
  const before = tensorMemory();
  {
    using x = Tensor.from(new Float64Array(1024), [32, 32]);
    t.is(tensorMemory().hostBytes - before.hostBytes, 8192);
    t.is(x.shape[0], 32);
  }
  t.deepEqual(tensorMemory(), before);
});

test.serial('tensors dropped without dispose() are freed once the event loop turns', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return t.pass('run with --expose-gc (the ava config does)');
  const before = tensorMemory();
  const data = new Float32Array(MIB / 4);
  for (let i = 0; i < 200; i++) Tensor.from(data, [MIB / 4]);
  // Node-API queues finalizers during GC and runs them on the next turns of the loop.
  for (let i = 0; i < 50 && tensorMemory().liveTensors > before.liveTensors; i++) {
    gc();
    await turn();
  }
  t.deepEqual(tensorMemory(), before);
});
