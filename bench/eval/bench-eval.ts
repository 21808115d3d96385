// Benchmark: our COCO bbox evaluation vs pycocotools' COCOeval on one large
// generated set (default 5000 images, 80 categories, ~36k GT, 100 detections
// per image), with identical statistics required.
//
//   npx tsc -p tsconfig.json && node dist/bench/eval/bench-eval.js [--images N] [--repeat R]
//
// pycocotools runs in a subprocess: $COCO_PYTHON or /opt/refvenv/bin/python.
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CocoEvaluator } from '../../lib/evaluator/index';
import type { CocoAnnotation, CocoDataset, CocoDetection } from '../../lib/evaluator/index';
import { cpuSummary, flag, numberArg, rng } from '../support';

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

function generate(numImages: number, numCats: number, seed: number): { gt: CocoDataset; dt: CocoDetection[] } {
  const rand = rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const images = Array.from({ length: numImages }, (_, i) => ({ id: 100000 + 7 * i, width: 640, height: 480 }));
  const categories = Array.from({ length: numCats }, (_, i) => ({ id: i + 1 + (i >= 11 ? 1 : 0), name: `c${i}` }));
  const annotations: CocoAnnotation[] = [];
  const dt: CocoDetection[] = [];
  let annId = 1;
  for (const img of images) {
    // ~7.3 GT per image (COCO val: 36.8k / 5000), a few crowds.
    const nGt = Math.floor(rand() * 15.6);
    const gts: CocoAnnotation[] = [];
    for (let g = 0; g < nGt; g++) {
      const sizeClass = rand();
      const side = sizeClass < 0.41 ? 4 + rand() * 28 : sizeClass < 0.75 ? 32 + rand() * 64 : 96 + rand() * 300;
      const w = round(side * (0.5 + rand()), 2), h = round(side * (0.5 + rand()), 2);
      const a: CocoAnnotation = {
        id: annId++, image_id: img.id, category_id: categories[Math.floor(rand() * numCats)]!.id,
        bbox: [round(rand() * 600, 2), round(rand() * 440, 2), w, h],
        area: round(w * h * (0.5 + 0.5 * rand()), 3), iscrowd: rand() < 0.01 ? 1 : 0,
      };
      gts.push(a);
      annotations.push(a);
    }
    // 100 detections per image: jittered copies of the GT, then background boxes.
    for (let d = 0; d < 100; d++) {
      let box: number[];
      let cat: number;
      if (gts.length > 0 && d < 6 * gts.length) {
        const g = gts[d % gts.length]!;
        const [x, y, w, h] = g.bbox;
        const s = [0.03, 0.08, 0.2][d % 3]!;
        box = [x + normal() * s * w, y + normal() * s * h, w * Math.exp(normal() * s), h * Math.exp(normal() * s)];
        cat = rand() < 0.85 ? g.category_id : categories[Math.floor(rand() * numCats)]!.id;
      } else {
        const side = 8 + rand() * 200;
        box = [rand() * 600, rand() * 440, side * (0.5 + rand()), side * (0.5 + rand())];
        cat = categories[Math.floor(rand() * numCats)]!.id;
      }
      dt.push({ image_id: img.id, category_id: cat, bbox: box.map((v) => round(v, 2)), score: round(rand(), 3) });
    }
  }
  return { gt: { images, annotations, categories }, dt };
}

async function main(): Promise<void> {
  const numImages = numberArg('images', 5000);
  const repeat = numberArg('repeat', 3);
  const python = process.env.COCO_PYTHON ?? '/opt/refvenv/bin/python';
  const { gt, dt } = generate(numImages, 80, 2024);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coco-bench-'));
  const gtPath = path.join(dir, 'gt.json'), dtPath = path.join(dir, 'dt.json');
  await fs.writeFile(gtPath, JSON.stringify(gt));
  await fs.writeFile(dtPath, JSON.stringify(dt));
  console.log(`machine: ${cpuSummary()}, node ${process.version}`);
  console.log(`data: ${gt.images.length} images, ${gt.categories.length} categories, ${gt.annotations.length} GT, ${dt.length} detections (${dir})`);

  const script = path.resolve(__dirname, '../../../bench/eval/pycocotools_time.py');
  // --no-reference: time ours only (profiling); nothing is compared then.
  const ref = flag('no-reference')
    ? { stats: new Array<number>(12).fill(NaN), loadGt_s: NaN, loadRes_s: NaN, eval_s: NaN, loadRes_cpu_s: NaN, eval_cpu_s: NaN }
    : JSON.parse(execFileSync(python, [script, gtPath, dtPath], { encoding: 'utf8', maxBuffer: 1 << 24 })) as {
      stats: number[]; loadGt_s: number; loadRes_s: number; eval_s: number; loadRes_cpu_s: number; eval_cpu_s: number;
    };
  console.log(`pycocotools: loadRes ${ref.loadRes_s.toFixed(2)} s (cpu ${ref.loadRes_cpu_s.toFixed(2)} s), ` +
    `evaluate+accumulate+summarize ${ref.eval_s.toFixed(2)} s (cpu ${ref.eval_cpu_s.toFixed(2)} s)`);

  let best = { parse: Infinity, add: Infinity, evaluate: Infinity, cpuEval: Infinity };
  const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
  let stats: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const gtJson = JSON.parse(await fs.readFile(gtPath, 'utf8')) as CocoDataset;
    const dtJson = JSON.parse(await fs.readFile(dtPath, 'utf8')) as CocoDetection[];
    const t1 = performance.now();
    const ev = new CocoEvaluator(gtJson);
    ev.add(dtJson);
    const t2 = performance.now();
    const c2 = process.cpuUsage();
    const res = await ev.evaluate();
    const t3 = performance.now();
    const cpuEval = cpuMs(process.cpuUsage(c2));
    stats = res.stats;
    best = {
      parse: Math.min(best.parse, t1 - t0), add: Math.min(best.add, t2 - t1), evaluate: Math.min(best.evaluate, t3 - t2),
      cpuEval: Math.min(best.cpuEval, cpuEval),
    };
  }
  console.log(`ours (best of ${repeat}): read+JSON.parse ${best.parse.toFixed(0)} ms, index GT+add ${best.add.toFixed(0)} ms, ` +
    `evaluate ${best.evaluate.toFixed(0)} ms (cpu ${best.cpuEval.toFixed(0)} ms)`);
  console.log(`load average now: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (timings are wall clock; the machine may be shared)`);
  const maxDiff = Math.max(...stats.map((v, i) => Math.abs(v - ref.stats[i]!)));
  const identical = stats.every((v, i) => v === ref.stats[i]);
  console.log(`stats: ${stats.map((v) => v.toFixed(4)).join(' ')}`);
  console.log(`max |ours - pycocotools| over the 12 stats: ${maxDiff} (${identical ? 'bit-identical' : 'NOT bit-identical'})`);
  const evalRatio = (ref.eval_s * 1000) / (best.add + best.evaluate);
  const totalRatio = ((ref.loadRes_s + ref.eval_s) * 1000) / (best.parse + best.add + best.evaluate);
  console.log(`speed-up, evaluation (pycocotools evaluate+accumulate+summarize vs our add+evaluate): ${evalRatio.toFixed(1)}x`);
  console.log(`speed-up, evaluate stage alone, CPU time: ${((ref.eval_cpu_s * 1000) / best.cpuEval).toFixed(1)}x`);
  console.log(`speed-up, including result loading (loadRes+eval vs JSON read/parse+add+evaluate): ${totalRatio.toFixed(1)}x`);
  await fs.rm(dir, { recursive: true, force: true });
  if (maxDiff > 1e-12) {
    console.error('FAIL: statistics differ from pycocotools');
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
