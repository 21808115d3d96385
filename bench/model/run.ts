// Forward and predict latency of the model presets on this machine (not a test).
//
//   npx tsc -p tsconfig.json && node dist/bench/model/run.js [--repeats 3] [--presets tiny,dino-r50-4scale]
//
// forward: one normalised batch of 1 image through the network (inference mode), at 800×1333
// (the recipe's test size) and at the tiny preset's own test size (320×512, scaled to keep the
// aspect). predict: the whole path from RGB pixels (resize, normalise, forward, post-process)
// for a 480×640 image (BCCD's size), which each preset resizes to its own test size.
import { AlignDetr, Tensor, buildInfo } from '../../lib/index';
import type { Preset } from '../../lib/index';
import { arg, cpuSummary, timeAsync } from '../support';

function batch(h: number, w: number): { images: Tensor; sizes: Tensor } {
  const data = new Float32Array(3 * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return { images: Tensor.from(data, [1, 3, h, w]), sizes: Tensor.from(new BigInt64Array([BigInt(h), BigInt(w)]), [1, 2]) };
}

async function main(): Promise<void> {
  const repeats = Number(arg('repeats', '3'));
  const presets = arg('presets', 'tiny,dino-r50-4scale').split(',') as Preset[];
  const info = buildInfo();
  console.log(`machine: ${cpuSummary()}; libtorch ${info.libtorchVersion}, ${info.numThreads} threads`);
  const pixels = new Uint8Array(480 * 640 * 3).map((_, i) => (i * 31) % 251);
  const image = { data: pixels, width: 640, height: 480, channels: 3 as const };
  console.log('preset            | forward 800×1333 | forward 320×533 | predict 480×640 image (resized to its test size)');
  for (const preset of presets) {
    const model = await AlignDetr.create({ preset, numClasses: 80 });
    const big = batch(800, 1333);
    const small = batch(320, 533);
    const fBig = await timeAsync(() => model.forward(big.images, big.sizes), repeats);
    const fSmall = await timeAsync(() => model.forward(small.images, small.sizes), repeats);
    const p = await timeAsync(() => model.predict(image), repeats);
    const cfg = model.config;
    console.log(
      `${preset.padEnd(17)} | ${fBig.median.toFixed(0).padStart(8)} ms      | ${fSmall.median.toFixed(0).padStart(8)} ms     | ` +
        `${p.median.toFixed(0)} ms (short edge ${cfg.testShortEdge}, max ${cfg.testMaxSize})`,
    );
    model.dispose();
  }
  console.log(`median of ${repeats} runs after one warm-up`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
