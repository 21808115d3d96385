// Per-module speed of the R50 DINO-4scale forward, ours against a PyTorch reference written to
// detrex's code (bench/model/reference_dino.py), on the same weights and the same libtorch.
//
//   python3 bench/model/reference_dino.py --make-weights /tmp/dino-r50.pth
//   ALIGN_DETR_ADDON=<an addon built on the reference's libtorch> OMP_NUM_THREADS=2 \
//     node dist/bench/model/modules.js --weights /tmp/dino-r50.pth --python <python with torch> [--runs 10]
//
// The two run interleaved (ours, reference, reference, ours, ...) so that load on a shared
// machine falls on both; each module's min and median over `--runs` runs after one warm-up
// each. Stages: backbone, neck, encoder (flatten, position encoding, encoder layers, two-stage
// query selection), decoder (layers and heads), post-processing (top-K, boxes to pixels).
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { AlignDetr, Tensor, buildInfo } from '../../lib/index';
import type { StageTimings } from '../../lib/index';
import { arg, cpuSummary } from '../support';

const STAGES = ['backboneMs', 'neckMs', 'encoderMs', 'decoderMs', 'postprocessMs'] as const;
type Times = Record<(typeof STAGES)[number], number>;

// The same synthetic normalised image as reference_dino.py's batch(): sin(0.37 i) · 1.5.
function batch(h: number, w: number): { images: Tensor; sizes: Tensor } {
  const data = new Float32Array(3 * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return { images: Tensor.from(data, [1, 3, h, w]), sizes: Tensor.from(new BigInt64Array([BigInt(h), BigInt(w)]), [1, 2]) };
}

class Reference {
  readonly #lines: AsyncIterator<string>;
  readonly #child;
  constructor(python: string, weights: string, threads: number) {
    this.#child = spawn(python, [`${__dirname}/../../../bench/model/reference_dino.py`, '--serve', weights, '--threads', String(threads)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#lines = readline.createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.#lines.next();
    if (r.done) throw new Error('reference: exited early');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async run(h: number, w: number): Promise<Times> {
    this.#child.stdin.write(`run ${h} ${w}\n`);
    return (await this.next()) as unknown as Times;
  }
  close(): void {
    this.#child.stdin.end();
  }
}

const total = (t: Times) => STAGES.reduce((s, k) => s + t[k], 0);
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const runs = Number(arg('runs', '10'));
  const weights = arg('weights', '/tmp/dino-r50.pth');
  const [h = NaN, w = NaN] = arg('size', '800x1333').split('x').map(Number);
  const threads = buildInfo().numThreads;
  const reference = new Reference(arg('python', 'python3'), weights, threads);
  const hello = await reference.next();
  // --pad-invariant false: detrex's padding-visible convolutions (the preset masks the padding).
  const padInvariant = arg('pad-invariant', 'true') !== 'false';
  const model = await AlignDetr.create({ preset: 'dino-r50-4scale', numClasses: 80, padInvariant });
  const report = await model.loadCheckpoint(weights);
  if (report.missingKeys.length > 0 || report.unexpectedKeys.length > 0) {
    throw new Error(`weights: ${report.missingKeys.length} missing, ${report.unexpectedKeys.length} unexpected keys: ${[...report.missingKeys, ...report.unexpectedKeys].slice(0, 5).join(", ")}`);
  }
  const { images, sizes } = batch(h, w);
  const ours = async (): Promise<Times> => (await model.forward(images, sizes, { profile: true })).timings as StageTimings;
  console.log(`machine: ${cpuSummary()}`);
  console.log(`ours: libtorch ${buildInfo().libtorchVersion}, ${threads} threads; reference: torch ${String(hello.torch)}, ${String(hello.threads)} threads`);
  console.log(`R50 DINO-4scale, 900 queries, 80 classes, padInvariant ${padInvariant}, one ${h}×${w} image; ${runs} interleaved runs after one warm-up each`);
  await ours();
  await reference.run(h, w);
  const a: Times[] = [];
  const b: Times[] = [];
  for (let r = 0; r < runs; r++) {
    // Alternate who goes first, so neither always runs on a machine the other has just warmed.
    if (r % 2 === 0) {
      a.push(await ours());
      b.push(await reference.run(h, w));
    } else {
      b.push(await reference.run(h, w));
      a.push(await ours());
    }
    process.stderr.write(`run ${r + 1}/${runs}: ours ${total(a[r]!).toFixed(0)} ms, reference ${total(b[r]!).toFixed(0)} ms\n`);
  }
  reference.close();
  model.dispose();
  console.log('module         | ours min / median (ms) | reference min / median (ms) | reference ÷ ours (median)');
  const row = (name: string, x: number[], y: number[]) =>
    console.log(
      `${name.padEnd(14)} | ${Math.min(...x).toFixed(0).padStart(8)} / ${median(x).toFixed(0).padStart(8)}    | ` +
        `${Math.min(...y).toFixed(0).padStart(8)} / ${median(y).toFixed(0).padStart(8)}         | ${(median(y) / median(x)).toFixed(2)}×`,
    );
  for (const k of STAGES) row(k.replace('Ms', ''), a.map((t) => t[k]), b.map((t) => t[k]));
  row('whole forward', a.map(total), b.map(total));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
