// Runs inside a worker_threads Worker: loads the addon in this second environment, makes
// tensors while the main thread does the same, and reports a checksum.
const { parentPort, workerData } = require('node:worker_threads');
const { Tensor, buildInfo } = require(workerData.lib);

let sum = 0;
for (let i = 0; i < workerData.iterations; i++) {
  const t = Tensor.from(new Float64Array([i, i + 1, i + 2]), [3]);
  const back = t.toTypedArray();
  sum += back[0] + back[1] + back[2];
  if (i % 2 === 0) t.dispose();
}
let typeErrorName = '';
try {
  Tensor.from(new Float32Array(2), [3]);
} catch (e) {
  typeErrorName = e.constructor.name;
}
parentPort.postMessage({ sum, version: buildInfo().libtorchVersion, typeErrorName });
// Keep running so the main thread can terminate us mid-life (teardown with live tensors).
setInterval(() => Tensor.from(new Float32Array(16), [4, 4]), 1);
