// ProcessGroup between processes on loopback: collectives against their definition, the
// start-up agreement check (ranks started with different settings fail together, naming the
// fact and the odd rank), a rank that exits mid-run (the other fails at once naming it), and
// torchrun's variables read with errors that name the variable.
import test from 'ava';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { DistributedError, ProcessGroup, distributedBackends, groupOptionsFromEnv } from '../lib/index';
import { freePort } from '../lib/cli/launch';

const lib = path.resolve(__dirname, '../lib/index.js');
const helper = path.resolve(__dirname, '../../test/helpers/dist-group.js');

interface RankOutput {
  rank: number;
  sum?: number[];
  rows?: number[];
  failedAfterMs?: number;
  error?: { name: string; ranks: number[]; message: string };
  fatal?: string;
}

async function runRanks(world: number, mode: string): Promise<{ outputs: RankOutput[]; codes: (number | null)[] }> {
  const port = await freePort();
  const runs = [...Array(world).keys()].map(
    (rank) =>
      new Promise<{ out: RankOutput; code: number | null }>((resolve) => {
        const p = spawn(process.execPath, [helper, lib, String(rank), String(world), String(port), mode], {
          env: { ...process.env, OMP_NUM_THREADS: '1' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        p.stdout.on('data', (d) => (text += d));
        p.on('exit', (code) => resolve({ out: text.trim() ? (JSON.parse(text.trim().split('\n').pop()!) as RankOutput) : ({ rank } as RankOutput), code }));
      }),
  );
  const done = await Promise.all(runs);
  return { outputs: done.map((d) => d.out), codes: done.map((d) => d.code) };
}

test('the build has Gloo', (t) => {
  t.true(distributedBackends().includes('gloo'));
});

test('collectives between three processes', async (t) => {
  const { outputs, codes } = await runRanks(3, 'collectives');
  t.deepEqual(codes, [0, 0, 0]);
  for (const o of outputs) {
    t.is(o.error, undefined, JSON.stringify(o.error));
    t.deepEqual(o.sum, [1 + 2 + 3, 1.5, -3]);
    t.deepEqual(o.rows, [0, 0, 1, 0, 1, 1, 2, 0, 2, 1, 2, 2]);
  }
});

test('ranks started with different settings all fail, naming the fact and the odd rank', async (t) => {
  const { outputs } = await runRanks(3, 'mismatch');
  for (const o of outputs) {
    t.is(o.error?.name, 'DistributedError');
    t.deepEqual(o.error?.ranks, [1]);
    t.regex(o.error?.message ?? '', /dataset size differs: rank 0 10, rank 1 11, rank 2 10/);
  }
});

test('trainers of different models fail to join (before the broadcast), naming the config', async (t) => {
  const { outputs } = await runRanks(2, 'model');
  for (const o of outputs) {
    t.is(o.error?.name, 'DistributedError');
    t.deepEqual(o.error?.ranks, [1]);
    t.regex(o.error?.message ?? '', /model config differs: rank 0 \{.*"hiddenDim":32.*\}, rank 1 \{.*"hiddenDim":64/);
  }
});

test('a rank that exits makes the other fail at once, naming it', async (t) => {
  const { outputs, codes } = await runRanks(2, 'exit');
  t.is(codes[1], 7);
  const first = outputs[0]!;
  t.is(first.error?.name, 'DistributedError');
  t.deepEqual(first.error?.ranks, [1]);
  t.regex(first.error?.message ?? '', /^the barrier failed on rank 0 of 2: rank 1 stopped responding/);
  // At once (a closed connection), not at the 8 s timeout: the heartbeat check takes 1.5 s.
  t.true((first.failedAfterMs ?? Infinity) < 6000, `failed after ${first.failedAfterMs} ms`);
});

test("torchrun's variables, with errors naming the variable", (t) => {
  t.deepEqual(groupOptionsFromEnv({ RANK: '1', WORLD_SIZE: '4', MASTER_ADDR: 'h', MASTER_PORT: '29500', ALIGN_DETR_DIST_TIMEOUT: '5' }), {
    rank: 1, worldSize: 4, masterAddr: 'h', masterPort: 29500, timeoutMs: 5000,
  });
  // Under torchrun its agent hosts the store; each restart attempt keys its own.
  t.deepEqual(groupOptionsFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '2', TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '3' }), {
    rank: 0, worldSize: 2, masterAddr: 'h', masterPort: 2, externalStore: true, storePrefix: 'adetr/attempt_3',
  });
  t.throws(() => groupOptionsFromEnv({ WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), { instanceOf: TypeError, message: /^RANK: environment variable not set/ });
  t.throws(() => groupOptionsFromEnv({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), { instanceOf: RangeError, message: /^RANK: expected an integer in \[0, 1\]/ });
  t.throws(() => groupOptionsFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '1' }), { instanceOf: TypeError, message: /^MASTER_ADDR/ });
  t.throws(() => groupOptionsFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: 'x' }), { instanceOf: RangeError, message: /^MASTER_PORT/ });
  // LOCAL_RANK picks an NCCL rank's GPU (torchrun's convention).
  t.deepEqual(groupOptionsFromEnv({ RANK: '3', WORLD_SIZE: '4', MASTER_ADDR: 'h', MASTER_PORT: '2', LOCAL_RANK: '1' }), {
    rank: 3, worldSize: 4, masterAddr: 'h', masterPort: 2, cudaDevice: 1,
  });
  t.throws(() => groupOptionsFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '2', LOCAL_RANK: '-1' }), { instanceOf: RangeError, message: /^LOCAL_RANK/ });
  t.true(new DistributedError('m', [1]) instanceof Error);
});

test("backend 'nccl': refused by a build without it, naming the build flag; cudaDevice checked", async (t) => {
  const base = { rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: 1 };
  await t.throwsAsync(ProcessGroup.join({ ...base, cudaDevice: -1 }), { instanceOf: RangeError, message: /^distributed\.cudaDevice: expected an integer in \[0, 1023\]/ });
  if (distributedBackends().includes('nccl')) {
    t.pass('this build has NCCL: scripts/gpu-check.sh tests it');
    return;
  }
  await t.throwsAsync(ProcessGroup.join({ ...base, backend: 'nccl', cudaDevice: 0 }), {
    message: /^backend: 'nccl' is not in this build \(NCCL needs a CUDA libtorch with NCCL; build with -DALIGN_DETR_WITH_NCCL=ON\)/,
  });
});
