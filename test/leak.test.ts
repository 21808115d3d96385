// Tensors dropped without dispose() are freed by their finalizers: resident memory stays
// bounded over 100k of them (each 16 KiB: 1.6 GB if nothing were freed).
import test from 'ava';
import { Tensor } from '../lib/index';

const gc = (globalThis as { gc?: () => void }).gc;
const mib = (bytes: number): number => bytes / (1 << 20);

test.serial('100k tensors created and dropped: RSS stays bounded', async (t) => {
  const data = new Float32Array(4096);
  const makeSome = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const x = Tensor.from(data, [64, 64]);
      if (x.shape[0] !== 64) throw new Error('bad shape');
    }
  };
  makeSome(5000); // warm up allocators and V8
  gc?.();
  await new Promise((r) => setImmediate(r));
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  for (let round = 0; round < 20; round++) {
    makeSome(5000);
    await new Promise((r) => setImmediate(r)); // let finalizers run
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  gc?.();
  await new Promise((r) => setImmediate(r));
  const growth = mib(peak - baseline);
  t.log(`baseline ${mib(baseline).toFixed(0)} MiB, peak growth ${growth.toFixed(0)} MiB over 100k tensors of 16 KiB`);
  t.true(growth < 400, `RSS grew by ${growth.toFixed(0)} MiB`);
});

test.serial('dispose() frees at once: 100k disposed tensors keep RSS flat', async (t) => {
  const data = new Float32Array(4096);
  gc?.();
  const baseline = process.memoryUsage().rss;
  for (let i = 0; i < 100_000; i++) Tensor.from(data, [4096]).dispose();
  gc?.();
  const growth = mib(process.memoryUsage().rss - baseline);
  t.log(`growth ${growth.toFixed(0)} MiB`);
  t.true(growth < 100, `RSS grew by ${growth.toFixed(0)} MiB`);
});
