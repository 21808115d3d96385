// Property-based fuzzing (issue 12): Trainer options, step / evaluateLoss batches, fit options, evaluate, saveCheckpoint, Trainer.resume (also of damaged checkpoints).
// Arbitrary JS values (fast-check's `anything`, huge / fractional / non-finite numbers, strings with
// '=', newlines and NUL, throwing proxies and getters, SharedArrayBuffer-backed, offset, length-tracking
// and detached typed arrays, getters that detach or shrink the call's buffers) are mixed into
// otherwise valid arguments. Every call must return or throw / reject with an Error (no C++ backtrace,
// no bare Node-API status), settle in time, and never take the process down. The loops run in a
// child process (test/helpers/fuzz-train.js) so a crash is reported with the case that caused it.
// FUZZ_SEED and FUZZ_RUNS change the seed and the runs per property; FUZZ_ONLY=<item> runs one item.
import test from 'ava';
import { runFuzzChild } from './helpers/fuzz-harness';

test('fuzz: Trainer options, step / evaluateLoss batches, fit options, evaluate, saveCheckpoint, Trainer.resume (also of damaged checkpoints)', (t) => {
  const r = runFuzzChild('fuzz-train.js');
  for (const line of r.passed) t.log(line);
  for (const line of r.soft) t.log(`unhelpful but acceptable: ${line}`);
  t.log(`${r.ms} ms`);
  t.deepEqual(r.failures, [], r.failures.join('\n\n'));
});
