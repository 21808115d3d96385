// Benchmark: ops.linearSumAssignment vs scipy.optimize.linear_sum_assignment on the same
// matrices (uniform random in [0, 1), seeded): DETR shapes 900x7, 900x100, the mixed-matching
// 900x200, and square 1000² and 4000². Checks that both find the same total cost and the same
// columns, and prints per shape ours, scipy, and the ratio.
//
//   npx tsc -p tsconfig.json && node dist/bench/lsa/run.js [--quick]
//
// scipy runs in a subprocess: $LSA_PYTHON, else /opt/refvenv/bin/python, else python3.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildInfo, ops } from '../../lib/index';
import { lsaKernelName } from '../../lib/ops/lsa';
import { cpuSummary, flag, rng, timed } from '../support';

interface Case {
  name: string;
  rows: number;
  cols: number;
  repeat: number;
}

const quick = flag('quick');
const cases: Case[] = [
  { name: 'DETR 900x7', rows: 900, cols: 7, repeat: quick ? 200 : 2000 },
  { name: 'DETR 900x100', rows: 900, cols: 100, repeat: quick ? 20 : 200 },
  { name: 'mixed 900x200', rows: 900, cols: 200, repeat: quick ? 10 : 100 },
  { name: 'square 1000x1000', rows: 1000, cols: 1000, repeat: quick ? 2 : 10 },
  { name: 'square 4000x4000', rows: 4000, cols: 4000, repeat: quick ? 1 : 2 },
];

function pythonExe(): string {
  if (process.env.LSA_PYTHON) return process.env.LSA_PYTHON;
  return fs.existsSync('/opt/refvenv/bin/python') ? '/opt/refvenv/bin/python' : 'python3';
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsa-bench-'));
  try {
    const matrices = new Map<string, Float64Array>();
    const manifest = { cases: [] as Array<Case & { file: string }> };
    cases.forEach((c, k) => {
      const rand = rng(1000 + k);
      const data = Float64Array.from({ length: c.rows * c.cols }, rand);
      matrices.set(c.name, data);
      const file = path.join(dir, `case${k}.f64`);
      fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      manifest.cases.push({ ...c, file });
    });
    const manifestFile = path.join(dir, 'manifest.json');
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));

    // Ours first, in process.
    const ours = new Map<string, { meanMs: number; minMs: number; totalCost: number; colIndices: Int32Array }>();
    for (const c of cases) {
      const cost = { data: matrices.get(c.name)!, rows: c.rows, cols: c.cols };
      let a = ops.linearSumAssignment(cost); // warm-up
      const times: number[] = [];
      for (let r = 0; r < c.repeat; r++) {
        const run = timed(() => ops.linearSumAssignment(cost));
        a = run.result;
        times.push(run.ms);
      }
      ours.set(c.name, {
        meanMs: times.reduce((x, y) => x + y, 0) / times.length,
        minMs: Math.min(...times),
        totalCost: a.totalCost,
        colIndices: a.colIndices,
      });
    }

    const py = pythonExe();
    const out = execFileSync(py, [path.join(__dirname, '../../../bench/lsa/scipy_time.py'), manifestFile], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    const ref = JSON.parse(out) as {
      scipy: string;
      results: Record<string, { meanMs: number; minMs: number; totalCost: number; colIndices: number[] | null }>;
    };

    const info = buildInfo();
    console.log(`machine: ${cpuSummary()}; ` +
      `libtorch threads ${info.numThreads}; solver kernel ${lsaKernelName()}; scipy ${ref.scipy} (${py})`);
    console.log('single-threaded solves, mean (min) per call, uniform random costs');
    console.log('shape              ours ms            scipy ms           scipy/ours  same total  same cols');
    for (const c of cases) {
      const o = ours.get(c.name)!;
      const s = ref.results[c.name]!;
      const sameTotal = Math.abs(o.totalCost - s.totalCost) <= 1e-9 * (1 + Math.abs(s.totalCost));
      const sameCols = s.colIndices === null ? 'n/a' : String(s.colIndices.every((v, k) => v === o.colIndices[k]));
      const fmt = (m: { meanMs: number; minMs: number }) => `${m.meanMs.toFixed(3)} (${m.minMs.toFixed(3)}) `.padEnd(19);
      console.log(`${c.name.padEnd(19)}${fmt(o)}${fmt(s)}${(s.meanMs / o.meanMs).toFixed(2).padStart(10)}x  ` +
        `${String(sameTotal).padEnd(12)}${sameCols}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
