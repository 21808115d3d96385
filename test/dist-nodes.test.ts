// Training spread over machines, as a person with two of them would start it: two `align-detr
// train --nproc 1 --nnodes 2 --node-rank 0|1 --master-addr A --master-port P` launchers, on
// loopback and (as root) on two network namespaces joined by a veth link. Checked: both exit 0; their workers get the global ranks 0 and 1 (node-rank × nproc
// + local rank, read from the workers' environment while they run); only node 0 prints the
// header, progress and the final JSON line; and the weights node 0 writes equal those of one
// `--nproc 2` launcher with the same seed and data (within 1e-5), after 2 steps that moved them.
// Also the launcher's usage errors for --node-rank and for --nnodes without the rendezvous.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Trainer } from '../lib/index';
import { freePort } from '../lib/cli/launch';
import { writeSyntheticCoco } from './helpers/coco-folder';
import { makeNetnsPair } from './helpers/netns';
import { childrenOf } from './helpers/processes';

const cliMain = path.resolve(__dirname, '../lib/cli/main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-nodes-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

// One thread per worker (the launcher keeps an OMP_NUM_THREADS it is given): 2 workers, 2 cores.
const ONE_THREAD = { ...process.env, OMP_NUM_THREADS: '1' };
const DATA = path.join(tmp, 'data');
/** 4 images: one step per epoch for 2 workers × batch 2. */
const dataset = writeSyntheticCoco(DATA);
const TRAIN = ['train', '--coco', path.join(DATA, 'ann.json'), '--images', path.join(DATA, 'images'),
  '--batch-size', '2', '--max-steps', '2', '--dist-timeout', '30'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The torchrun variables of the launcher's workers, as they ran. */
  workers: Record<string, string>[];
}

const RANK_VARS = ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'GROUP_RANK'];

function rankVars(pid: number): Record<string, string> | undefined {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const vars: Record<string, string> = {};
    for (const name of RANK_VARS) {
      const v = env.find((e) => e.startsWith(`${name}=`));
      if (v !== undefined) vars[name] = v.slice(name.length + 1);
    }
    // Between fork and exec a worker still has the launcher's environment: read it again later.
    return vars.RANK === undefined ? undefined : vars;
  } catch {
    return undefined; // ended meanwhile
  }
}

/** Runs the CLI to its end (inside network namespace `netns` if given), noting the rank variables of each worker it starts. */
function cli(args: string[], netns?: string): Promise<Run> {
  return new Promise((resolve) => {
    // `ip netns exec` execs node in place: the launcher keeps the pid, its workers are its children.
    const [cmd, argv] = netns === undefined ? [process.execPath, [cliMain, ...args]] : ['ip', ['netns', 'exec', netns, process.execPath, cliMain, ...args]];
    const p = spawn(cmd, argv, { env: ONE_THREAD, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, stdout: '', stderr: '', workers: [] };
    const seen = new Map<number, Record<string, string>>();
    const poll = setInterval(() => {
      for (const pid of childrenOf(p.pid!)) {
        const vars = seen.has(pid) ? undefined : rankVars(pid);
        if (vars) seen.set(pid, vars);
      }
    }, 100);
    p.stdout.on('data', (d) => (run.stdout += d));
    p.stderr.on('data', (d) => (run.stderr += d));
    p.on('exit', (code) => {
      clearInterval(poll);
      resolve({ ...run, code, workers: [...seen.values()] });
    });
  });
}

/** Every parameter of a model, by name (float32 copies). */
function parametersOf(model: AlignDetr): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const name of model.parameterNames()) {
    const p = model.parameter(name);
    out.set(name, Float32Array.from(p.toTypedArray() as Float32Array));
    p.dispose();
  }
  return out;
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) return Infinity;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return a.size === b.size ? worst : Infinity;
}

const jsonLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('{'));

/** One launcher with two local workers on this machine: what every two-machine run must equal. */
let reference: Promise<Run> | undefined;
function oneLauncher(): Promise<Run> {
  reference ??= cli([...TRAIN, '--nproc', '2', '--out', path.join(tmp, 'one-launcher')]);
  return reference;
}

/** A two-machine run (node 0 wrote to tmp/`dir0`, node 1 to tmp/`dir1`) against one launcher with two workers. */
async function checkTwoNodes(t: ExecutionContext, n0: Run, n1: Run, dir0: string, dir1: string): Promise<void> {
  t.is(n0.code, 0, n0.stderr);
  t.is(n1.code, 0, n1.stderr);
  t.deepEqual(n0.workers, [{ RANK: '0', LOCAL_RANK: '0', WORLD_SIZE: '2', GROUP_RANK: '0' }]);
  t.deepEqual(n1.workers, [{ RANK: '1', LOCAL_RANK: '0', WORLD_SIZE: '2', GROUP_RANK: '1' }]);

  // Node 0's rank 0 speaks: one header, progress and epoch lines, one final JSON line of 12 stats.
  t.is((n0.stdout.match(/^align-detr train:/gm) ?? []).length, 1);
  t.regex(n0.stdout, /rank 0 of 2, batch 2 per process/);
  t.regex(n0.stdout, /stopped: max-steps after 2 steps/);
  t.regex(n0.stderr, /^train 2\/\d+ .*loss=/m);
  t.regex(n0.stderr, /^epoch 1\/\d+: mean loss /m);
  const lines = jsonLines(n0.stdout);
  t.is(lines.length, 1);
  t.is(Object.keys(JSON.parse(lines[0] ?? '{}')).length, 12);
  // Node 1 (rank 1) prints nothing on stdout and no progress, and writes no files.
  t.is(n1.stdout, '');
  t.notRegex(n1.stderr, /loss/);
  t.false(fs.existsSync(path.join(tmp, dir1, 'last.adetr')));

  // The same training from one launcher with two local workers.
  const one = await oneLauncher();
  t.is(one.code, 0, one.stderr);
  t.deepEqual(one.workers.map((w) => w.RANK).sort(), ['0', '1']);

  const resumed = await Trainer.resume(path.join(tmp, dir0, 'last.adetr'));
  t.is(resumed.stepCount, 2, 'node 0 checkpointed after the 2 steps');
  resumed.dispose();
  const saved = await AlignDetr.load(path.join(tmp, dir0, 'model.adetr'));
  const twoNodes = parametersOf(saved);
  const other = await AlignDetr.load(path.join(tmp, 'one-launcher', 'model.adetr'));
  const oneLauncherWeights = parametersOf(other);
  other.dispose();
  // The untrained weights (the CLI's default seed 42), to show that the 2 steps moved them.
  const start = await AlignDetr.create({ preset: 'tiny', categories: saved.categories, seed: 42 });
  const initial = parametersOf(start);
  start.dispose();
  saved.dispose();
  const diff = maxDiff(twoNodes, oneLauncherWeights);
  const moved = maxDiff(twoNodes, initial);
  t.log(`max |w(2 nodes × 1) − w(1 node × 2)| = ${diff.toExponential(2)}; the steps moved weights by up to ${moved.toExponential(2)}`);
  t.true(diff <= 1e-5, `max |Δw| = ${diff}`);
  t.true(moved > 1e-4 && Number.isFinite(moved), `moved by ${moved}`);
  // The epochs' mean losses (the ranks' mean) agree too.
  const history = (dir: string) => JSON.parse(fs.readFileSync(path.join(tmp, dir, 'history.json'), 'utf8')) as { epochs: { loss: number }[] };
  const [h2, h1] = [history(dir0), history('one-launcher')];
  t.is(h2.epochs.length, 2);
  h2.epochs.forEach((e, i) => t.true(Math.abs(e.loss - h1.epochs[i]!.loss) <= 1e-5 * Math.abs(h1.epochs[i]!.loss), `epoch ${i}: ${e.loss} vs ${h1.epochs[i]!.loss}`));
}

test('two launchers as two machines (--nnodes 2 --node-rank 0|1) train the weights of one --nproc 2 launcher', async (t) => {
  await dataset;
  const port = await freePort();
  const node = (k: number) => cli([...TRAIN, '--nproc', '1', '--nnodes', '2', '--node-rank', String(k),
    '--master-addr', '127.0.0.1', '--master-port', String(port), '--out', path.join(tmp, `node${k}`)]);
  const t0 = Date.now();
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  t.log(`two launchers: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await checkTwoNodes(t, n0, n1, 'node0', 'node1');
});

// Over loopback every rank has rank 0's address; on two real machines the second has not, and
// Gloo must listen on the address that reaches rank 0 (it used to bind to rank 0's own and fail:
// "Cannot resolve 10.99.0.1 to a (local) address").
test('two machines in network namespaces (a veth link, 10.99.0.1 and .2) train the weights of one --nproc 2 launcher', async (t) => {
  const pair = makeNetnsPair();
  if (typeof pair === 'string') {
    t.log(`skipped: ${pair}`);
    t.pass();
    return;
  }
  try {
    await dataset;
    const node = (k: number) => cli([...TRAIN, '--nproc', '1', '--nnodes', '2', '--node-rank', String(k),
      '--master-addr', pair.addresses[0], '--master-port', '29500', '--out', path.join(tmp, `ns-node${k}`)], pair.names[k]);
    const t0 = Date.now();
    const [n0, n1] = await Promise.all([node(0), node(1)]);
    t.log(`two namespaces: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await checkTwoNodes(t, n0, n1, 'ns-node0', 'ns-node1');
  } finally {
    pair.remove();
  }
});

test('--node-rank outside --nnodes, and --nnodes without --master-addr/--master-port, are usage errors naming the flag', (t) => {
  const usage = (extra: string[], message: RegExp) => {
    const r = spawnSync(process.execPath, [cliMain, ...TRAIN, '--nproc', '1', ...extra], { env: ONE_THREAD, encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, extra.join(' '));
    t.regex(r.stderr, /align-detr --help lists/);
  };
  const rendezvous = ['--master-addr', '127.0.0.1', '--master-port', '29511'];
  usage(['--nnodes', '2', '--node-rank', '2', ...rendezvous], /--node-rank: expected 0\.\.1 \(this machine's index among --nnodes 2\), got 2/);
  usage(['--node-rank', '1', ...rendezvous], /--node-rank: expected 0\.\.0 .*--nnodes 1\), got 1/);
  usage(['--nnodes', '2', '--node-rank', '-1', ...rendezvous], /--node-rank/);
  usage(['--nnodes', '2', '--node-rank', '0.5', ...rendezvous], /--node-rank: expected a non-negative integer, got '0\.5'/);
  usage(['--nnodes', '2', '--node-rank', '1'], /--nnodes 2 needs --master-addr and --master-port/);
  usage(['--nnodes', '2', '--node-rank', '1', '--master-addr', '10.0.0.1'], /--nnodes 2 needs --master-port:/);
  usage(['--nnodes', '2', '--node-rank', '1', '--master-port', '29511'], /--nnodes 2 needs --master-addr:/);
  usage(['--nnodes', '0'], /--nnodes: expected a positive integer, got '0'/);
});
