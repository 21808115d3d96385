// A child process for test/input-guards.test.ts: for each kind of native async work, starts it in
// a worker and terminates the worker while the work is in flight. Before the fix the whole
// process aborted ("terminate called after throwing an instance of 'Napi::Error'").
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const [lib, dir] = process.argv.slice(2);
const script = path.join(__dirname, 'worker-busy.js');

async function once(kind, delayMs) {
  const worker = new Worker(script, { workerData: { lib, kind, dir } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((r) => setTimeout(r, delayMs));
  await worker.terminate();
}

(async () => {
  for (const kind of ['create', 'predict', 'save', 'lsa', 'fit']) {
    for (const delay of [0, 5, 40]) await once(kind, delay);
  }
  // The main thread's addon still works after all those teardowns.
  const { Tensor } = require(lib);
  const t = Tensor.from(new Float32Array([1, 2, 3]), [3]);
  console.log(`ok ${t.toTypedArray().reduce((a, b) => a + b, 0)}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
