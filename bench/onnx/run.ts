// Latency of the exported ONNX model in onnxruntime-node (CPU) against our predict on the same
// BCCD image, at its own size (640×480, no resize on either side), with the same thread count,
// for both presets (not a test). Both include their pre- and post-processing: ORT's graph takes
// the uint8 image and returns the top detections; predict takes the decoded image and returns
// Detection objects.
//   node dist/bench/onnx/run.js [--threads N] [--repeats R] [--presets tiny,dino-r50-4scale] [--msda gather,grid-sample]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AlignDetr, buildInfo, decodeImage, setNumThreads, type Preset } from '../../lib/index';
import { arg, cpuSummary, numberArg, timeAsync } from '../support';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bccd = process.env.ALIGN_DETR_BCCD ?? path.resolve(repoRoot, '..', 'shared', 'data', 'bccd');

async function main(): Promise<void> {
  const threads = numberArg('threads', 2);
  const repeats = numberArg('repeats', 5);
  const presets = arg('presets', 'tiny,dino-r50-4scale').split(',') as Preset[];
  const modes = arg('msda', 'gather,grid-sample').split(',') as ('gather' | 'grid-sample')[];
  setNumThreads(threads);
  const info = buildInfo();
  console.log(`machine: ${cpuSummary()}; libtorch ${info.libtorchVersion}; onnxruntime-node ${ort.env.versions.common}; ${threads} threads each; median of ${repeats} after a warm-up`);
  const image = await decodeImage(path.join(bccd, 'BCCD', 'JPEGImages', 'BloodImage_00001.jpg'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-bench-onnx-'));
  try {
    for (const preset of presets) {
      const model = await AlignDetr.create({ preset, numClasses: 3, seed: 1 });
      const k = model.config.selectTopK;
      const ourMs = await timeAsync(() => model.predict(image, { resize: false, maxDetections: k }), repeats);
      const parts = [`${preset.padEnd(16)} ${image.width}×${image.height}  predict ${ourMs.median.toFixed(0).padStart(6)} ms`];
      for (const msda of modes) {
        const file = path.join(dir, `${preset}-${msda}.onnx`);
        await model.exportOnnx(file, { height: image.height, width: image.width, postprocess: true, msda });
        const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
        const input = new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]);
        const onnxMs = await timeAsync(() => session.run({ images: input }), repeats);
        parts.push(`onnxruntime (${msda}) ${onnxMs.median.toFixed(0).padStart(6)} ms = ${(onnxMs.median / ourMs.median).toFixed(2)}× predict`);
        await session.release();
      }
      console.log(parts.join('   '));
      model.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
