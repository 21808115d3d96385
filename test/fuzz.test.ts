// Property-based fuzzing (issue 12) of every public entry point, one suite per area. Arbitrary JS
// values (fast-check's `anything`, huge / fractional / non-finite numbers, strings with '=',
// newlines and NUL, throwing proxies and getters, SharedArrayBuffer-backed, offset,
// length-tracking and detached typed arrays, getters that detach or shrink the call's buffers) are
// mixed into otherwise valid arguments. Every call must return or throw / reject with an Error (no
// C++ backtrace, no bare Node-API status), settle in time, and never take the process down. Each
// suite's loops run in a child process (test/helpers/fuzz-<suite>.js) so a crash is reported with
// the case that caused it. The suites run one after another: their time limits assume the child
// has a core to itself.
// FUZZ_SEED and FUZZ_RUNS change the seed and the runs per property; FUZZ_ONLY=<item> runs one item.
import test from 'ava';
import { runFuzzChild } from './helpers/fuzz-harness';

const SUITES: Record<string, string> = {
  tensor: 'Tensor.from / reshape / toTypedArray and the other Tensor members, setNumThreads, buildInfo',
  ops: 'ops.msDeformAttn(/Backward), linearSumAssignment (sync, batch, async), alignLoss, alignTargets',
  model: 'AlignDetr.create options, predict, forward, parameter, save, load (also of damaged files), native handles with a foreign this',
  train: 'Trainer options, step / evaluateLoss batches, fit options, evaluate, saveCheckpoint, Trainer.resume (also of damaged checkpoints)',
  data: 'datasets.synthetic / coco / voc options, DataLoader, collate, decodeImage / resizeImage, evaluateCoco, CocoEvaluator, diagnostics',
};

for (const [suite, covers] of Object.entries(SUITES)) {
  test.serial(`fuzz ${suite}: ${covers}`, (t) => {
    const r = runFuzzChild(`fuzz-${suite}.js`);
    for (const line of r.passed) t.log(line);
    for (const line of r.soft) t.log(`unhelpful but acceptable: ${line}`);
    t.log(`${r.ms} ms`);
    t.deepEqual(r.failures, [], r.failures.join('\n\n'));
  });
}
