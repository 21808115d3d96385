// The addon is context-aware: it loads in the main thread and in worker threads at the same
// time, each with its own state, and a worker's teardown does not disturb the main thread.
import test from 'ava';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Tensor, buildInfo } from '../lib/index';

const libPath = path.resolve(__dirname, '../lib/index.js');
const script = path.resolve(__dirname, '../../test/helpers/worker-tensors.js');

interface WorkerReport {
  sum: number;
  version: string;
  typeErrorName: string;
}

function runWorker(iterations: number): Promise<{ worker: Worker; report: WorkerReport }> {
  const worker = new Worker(script, { workerData: { lib: libPath, iterations } });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: WorkerReport) => resolve({ worker, report }));
    worker.once('error', reject);
  });
}

const expectedSum = (n: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += 3 * i + 3;
  return s;
};

test('loads in the main thread and two workers at once; workers terminate cleanly', async (t) => {
  const mainTensor = Tensor.from(new Float32Array([1, 2, 3]), [3]);
  const pending = [runWorker(2000), runWorker(3000)];
  // Work on the main thread while the workers run.
  let mainSum = 0;
  for (let i = 0; i < 2000; i++) mainSum += Tensor.from(new Int32Array([i]), [1]).toTypedArray()[0]!;
  const results = await Promise.all(pending);
  t.is(results[0]!.report.sum, expectedSum(2000));
  t.is(results[1]!.report.sum, expectedSum(3000));
  for (const { report } of results) {
    t.is(report.version, buildInfo().libtorchVersion);
    t.is(report.typeErrorName, 'RangeError');
  }
  const codes = await Promise.all(results.map(({ worker }) => worker.terminate()));
  t.deepEqual(codes, [1, 1]);
  t.is(mainSum, (1999 * 2000) / 2);
  // The main environment is untouched by the workers' teardown.
  t.deepEqual(Array.from(mainTensor.toTypedArray()), [1, 2, 3]);
  const again = await runWorker(10);
  t.is(again.report.sum, expectedSum(10));
  await again.worker.terminate();
});
