// Property-based fuzzing (issue 12): datasets.synthetic / coco / voc options, DataLoader, collate, decodeImage / resizeImage, evaluateCoco, CocoEvaluator, diagnostics.
// Arbitrary JS values (fast-check's `anything`, huge / fractional / non-finite numbers, strings with
// '=', newlines and NUL, throwing proxies and getters, SharedArrayBuffer-backed, offset, length-tracking
// and detached typed arrays, getters that detach or shrink the call's buffers) are mixed into
// otherwise valid arguments. Every call must return or throw / reject with an Error (no C++ backtrace,
// no bare Node-API status), settle in time, and never take the process down. The loops run in a
// child process (test/helpers/fuzz-data.js) so a crash is reported with the case that caused it.
// FUZZ_SEED and FUZZ_RUNS change the seed and the runs per property; FUZZ_ONLY=<item> runs one item.
import test from 'ava';
import { runFuzzChild } from './helpers/fuzz-harness';

test('fuzz: datasets.synthetic / coco / voc options, DataLoader, collate, decodeImage / resizeImage, evaluateCoco, CocoEvaluator, diagnostics', (t) => {
  const r = runFuzzChild('fuzz-data.js');
  for (const line of r.passed) t.log(line);
  for (const line of r.soft) t.log(`unhelpful but acceptable: ${line}`);
  t.log(`${r.ms} ms`);
  t.deepEqual(r.failures, [], r.failures.join('\n\n'));
});
