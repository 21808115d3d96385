// Data-parallel training over c10d Gloo on loopback, end to end:
//  - 2 processes × batch 2 train to the weights of 1 process × batch 4 (3 steps, same seeds,
//    per-sample denoising noise, no augmentation; within 1e-5), every rank reports the
//    single process's loss and loss terms at every step (the ranks' mean; within 1e-5 relative),
//    and evaluation gathered over the ranks gives exactly the single-process COCO stats;
//  - the CLI launcher: a worker killed mid-training makes the other fail within the collective
//    timeout naming its rank, the launcher reports it and leaves no process behind, the last
//    checkpoint (rank 0's) still loads and `--resume` continues from it with two workers, one
//    progress stream and one final JSON line;
//  - ranks started (torchrun-style, from RANK/WORLD_SIZE/MASTER_*) with different settings fail
//    at start, naming the difference.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Trainer } from '../lib/index';
import { freePort } from '../lib/cli/launch';
import { writeSyntheticCoco } from './helpers/coco-folder';
import { childrenOf } from './helpers/processes';

const lib = path.resolve(__dirname, '../lib/index.js');
const cliMain = path.resolve(__dirname, '../lib/cli/main.js');
const helper = path.resolve(__dirname, '../../test/helpers/dist-train.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-dist-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ONE_THREAD = { ...process.env, OMP_NUM_THREADS: '1' };

interface TrainOutput {
  rank: number;
  steps: number;
  losses: number[];
  terms: Record<string, number>[];
  evalGroup?: number[];
  evalAlone?: number[];
  fatal?: string;
}

function runHelper(config: object): Promise<TrainOutput> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [helper, lib, JSON.stringify(config)], { env: ONE_THREAD, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('exit', () => resolve(JSON.parse(text.trim().split('\n').pop() || '{"fatal":"no output"}') as TrainOutput));
  });
}

test('2 processes × batch 2 train the weights of 1 process × batch 4; distributed evaluation equals single', async (t) => {
  const single = path.join(tmp, 'single.f32');
  const split = path.join(tmp, 'split.f32');
  const port = await freePort();
  const [alone, r0, r1] = await Promise.all([
    runHelper({ rank: 0, world: 1, batchSize: 4, steps: 3, out: single }),
    runHelper({ rank: 0, world: 2, port, batchSize: 2, steps: 3, out: split }),
    runHelper({ rank: 1, world: 2, port, batchSize: 2, steps: 3, out: path.join(tmp, 'unused.f32') }),
  ]);
  for (const o of [alone, r0, r1]) t.is(o.fatal, undefined, o.fatal);
  t.is(alone.steps, 3);
  t.is(r0.steps, 3);
  t.is(r1.steps, 3);
  const a = new Float32Array(fs.readFileSync(single).buffer.slice(0));
  const b = new Float32Array(fs.readFileSync(split).buffer.slice(0));
  t.is(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  t.log(`max |w(2×2) − w(1×4)| after 3 steps: ${worst.toExponential(2)}`);
  t.true(worst <= 1e-5, `max |Δw| = ${worst}`);
  // Every rank reports the ranks' mean of its losses (each its half, normalised by the all-reduced
  // box count over the world size): the whole batch's, as the single process computes it.
  const close = (got: number, want: number): boolean => Math.abs(got - want) <= 1e-5 * Math.abs(want) + 1e-9;
  let worstLoss = 0;
  for (let s = 0; s < 3; s++) {
    const want = alone.losses[s]!;
    const wantTerms = alone.terms[s]!;
    for (const r of [r0, r1]) {
      const got = r.losses[s]!;
      worstLoss = Math.max(worstLoss, Math.abs(got - want) / Math.abs(want));
      t.true(close(got, want), `step ${s} rank ${r.rank}: reported loss ${got} vs one process ${want}`);
      const gotTerms = r.terms[s]!;
      t.deepEqual(Object.keys(gotTerms), Object.keys(wantTerms));
      for (const [name, w] of Object.entries(wantTerms)) {
        t.true(close(gotTerms[name]!, w), `step ${s} rank ${r.rank} ${name}: ${gotTerms[name]} vs ${w}`);
      }
    }
  }
  t.log(`reported loss of each rank vs 1×4: max relative difference ${worstLoss.toExponential(2)}`);
  // Gathered evaluation: every rank gets exactly what one process computes on the same weights.
  t.deepEqual(r0.evalGroup, r0.evalAlone);
  t.deepEqual(r1.evalGroup, r0.evalAlone);
  t.is(r0.evalGroup?.length, 12);
});

// ---------------------------------------------------------------- the CLI

const DATA = path.join(tmp, 'data');
/** 4 synthetic 96×80 images as a COCO folder: one step per epoch for 2 workers × batch 2. */
const dataset = writeSyntheticCoco(DATA);
const DATA_FLAGS = ['--coco', path.join(DATA, 'ann.json'), '--images', path.join(DATA, 'images')];

function rankOf(pid: number): number {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  return Number(env.find((e) => e.startsWith('RANK='))?.slice(5));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Running (a zombie left to a parent that is gone counts as ended: its reaper is not ours). */
const running = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

test('kill a worker: the other fails within the timeout naming its rank, no process is left, --resume continues', async (t) => {
  await dataset;
  const out = path.join(tmp, 'kill');
  const checkpoint = path.join(out, 'last.adetr');
  const launcher = spawn(process.execPath, [cliMain, 'train', ...DATA_FLAGS, '--nproc', '2', '--batch-size', '2', '--epochs', '1000',
    '--dist-timeout', '10', '--out', out], { env: ONE_THREAD, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  launcher.stdout.on('data', (d) => (stdout += d));
  launcher.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => launcher.on('exit', (code) => resolve(code)));
  // A checkpoint per epoch (one step each): wait for two, then kill rank 1.
  const t0 = Date.now();
  let seen = 0, lastMtime = 0;
  while (seen < 2 && Date.now() - t0 < 240_000) {
    await new Promise((r) => setTimeout(r, 200));
    if (fs.existsSync(checkpoint)) {
      const m = fs.statSync(checkpoint).mtimeMs;
      if (m !== lastMtime) [seen, lastMtime] = [seen + 1, m];
    }
  }
  t.true(seen >= 2, `two checkpoints written (stdout: ${stdout.slice(-400)} stderr: ${stderr.slice(-400)})`);
  const workers = childrenOf(launcher.pid!);
  t.is(workers.length, 2);
  const victim = workers.find((p) => rankOf(p) === 1)!;
  const killedAt = Date.now();
  process.kill(victim, 'SIGKILL');
  const code = await exited;
  const seconds = (Date.now() - killedAt) / 1000;
  t.not(code, 0);
  t.true(seconds < 10 + 10, `the launcher ended ${seconds.toFixed(1)} s after the kill`);
  t.regex(stderr, /align-detr launch: rank 1 \(pid \d+\) was killed by SIGKILL/);
  t.regex(stderr, /failed on rank 0 of 2: rank 1 stopped responding \(exited or hung\)/, 'rank 0 names the dead rank');
  for (const p of workers) t.false(alive(p), `worker ${p} is gone (no zombie: the launcher waited for it)`);
  t.false(fs.readdirSync(out).some((f) => f.includes('.tmp-')), 'no half-written checkpoint left');

  // The checkpoint is intact: it resumes, and training continues from it with two workers.
  const before = await Trainer.resume(checkpoint);
  const stepsBefore = before.stepCount;
  before.dispose();
  t.true(stepsBefore >= 2);
  const resumed = spawnSync(process.execPath, [cliMain, 'train', '--resume', checkpoint, '--nproc', '2', '--max-steps', '1', '--dist-timeout', '30'],
    { env: ONE_THREAD, encoding: 'utf8', timeout: 300_000 });
  t.is(resumed.status, 0, resumed.stderr);
  const jsonLines = resumed.stdout.split('\n').filter((l) => l.startsWith('{'));
  t.is(jsonLines.length, 1, 'one final JSON line (rank 0 only)');
  t.is(Object.keys(JSON.parse(jsonLines[0] ?? '{}')).length, 12);
  t.is((resumed.stdout.match(/^align-detr train:/gm) ?? []).length, 1, 'one header (rank 0 only)');
  t.regex(resumed.stdout, /rank 0 of 2, batch 2 per process/);
  const after = await Trainer.resume(checkpoint);
  t.is(after.stepCount, stepsBefore + 1, 'the resumed run continued from the checkpoint');
  after.dispose();
});

test('workers end themselves when the launcher is killed (no orphans training on)', async (t) => {
  await dataset;
  const launcher = spawn(process.execPath, [cliMain, 'train', ...DATA_FLAGS, '--nproc', '2', '--epochs', '1000', '--out', path.join(tmp, 'orphans')],
    { env: ONE_THREAD, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  launcher.stderr.on('data', (d) => (stderr += d));
  let workers: number[] = [];
  const t0 = Date.now();
  while (workers.length < 2 && Date.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 200));
    workers = childrenOf(launcher.pid!);
  }
  t.is(workers.length, 2);
  launcher.kill('SIGKILL');
  const killedAt = Date.now();
  while (workers.some(running) && Date.now() - killedAt < 20_000) await new Promise((r) => setTimeout(r, 200));
  for (const p of workers) t.false(running(p), `worker ${p} ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the launcher`);
});

test('ranks started with different settings (torchrun-style) fail at start, naming the difference', async (t) => {
  await dataset;
  const port = await freePort();
  const run = (rank: number, extra: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [cliMain, 'train', ...DATA_FLAGS, '--epochs', '1', '--out', path.join(tmp, `mismatch-${rank}`), ...extra], {
        env: { ...ONE_THREAD, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ALIGN_DETR_DIST_TIMEOUT: '30' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
  const [a, b] = await Promise.all([run(0, ['--lr', '1e-4']), run(1, ['--lr', '2e-4'])]);
  for (const r of [a, b]) {
    t.is(r.code, 1);
    t.regex(r.stderr, /the ranks were started with different settings: trainer options differs: rank 0 .*"lr",0\.0001.*, rank 1 .*"lr",0\.0002/);
  }
  t.false(fs.existsSync(path.join(tmp, 'mismatch-0', 'last.adetr')), 'nothing trained');
});
