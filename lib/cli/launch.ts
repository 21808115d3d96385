// `align-detr train --nproc N`: starts N local workers of the same command with torchrun's
// variables (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR,
// MASTER_PORT), the CPU threads divided between them (OMP_NUM_THREADS, unless already set, as
// torchrun does). When a worker fails the others get the collective timeout to fail by
// themselves (naming the rank that died or hung), then whatever is left is killed; the launcher
// waits for every worker (no zombies) and exits with the first failure's status. Ctrl-C /
// SIGTERM are passed on to every worker.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';

export interface LaunchOptions {
  /** Workers on this machine. */
  nproc: number;
  /** Machines in the run (default 1) and this one's index (default 0). */
  nnodes?: number;
  nodeRank?: number;
  /** Rank 0's host (default 127.0.0.1) and store port (default: a free port when nnodes is 1, else 29500). */
  masterAddr?: string;
  masterPort?: number;
  /** Threads per worker (default: OMP_NUM_THREADS when set to a positive integer, else the CPUs divided by nproc, at least 1). */
  threads?: number;
  /** The collective timeout the workers use, in seconds (default 60). */
  timeoutS?: number;
  /** The command a worker runs: [script, ...args] after node's own flags. */
  command: string[];
  /** Where worker and launcher lines go (default stderr). */
  log?: (line: string) => void;
}

/** A TCP port nobody listens on right now (the store binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** OMP_NUM_THREADS when it is a positive integer (the caller chose the threads per worker), else undefined. */
function threadsFromEnv(): number | undefined {
  const v = process.env.OMP_NUM_THREADS;
  return v !== undefined && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined;
}

/** How a worker ended, as a phrase: "exited with status 3" / "was killed by SIGKILL". */
function ending(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

/** Starts the workers and resolves to the launcher's exit status once every one has ended. */
export async function launch(o: LaunchOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  const world = nnodes * o.nproc;
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = o.masterPort ?? (nnodes === 1 ? await freePort() : 29500);
  const threads = o.threads ?? threadsFromEnv() ?? Math.max(1, Math.floor(os.availableParallelism() / o.nproc));
  const timeoutS = o.timeoutS ?? 60;

  const workers: { rank: number; child: ChildProcess; done: Promise<void>; ended: boolean }[] = [];
  let firstFailure: { rank: number; status: number } | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  const killLeft = (): void => {
    for (const w of workers) {
      if (!w.ended) {
        log(`align-detr launch: rank ${w.rank} still running ${timeoutS + 10} s after rank ${firstFailure?.rank} failed: killing it`);
        w.child.kill('SIGKILL');
      }
    }
  };

  for (let local = 0; local < o.nproc; local++) {
    const rank = nodeRank * o.nproc + local;
    const env = {
      ...process.env,
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(world),
      LOCAL_WORLD_SIZE: String(o.nproc),
      GROUP_RANK: String(nodeRank),
      ROLE_RANK: String(rank),
      MASTER_ADDR: masterAddr,
      MASTER_PORT: String(masterPort),
      OMP_NUM_THREADS: String(threads),
      ALIGN_DETR_DIST_TIMEOUT: String(timeoutS),
      // The worker ends itself when this launcher is gone (killed with SIGKILL, say): see watchLauncher.
      ALIGN_DETR_LAUNCHER_PID: String(process.pid),
    };
    const child = spawn(process.execPath, [...process.execArgv, ...o.command], { env, stdio: 'inherit' });
    const entry = { rank, child, ended: false, done: Promise.resolve() };
    entry.done = new Promise<void>((resolve) => {
      child.on('error', (err) => {
        log(`align-detr launch: rank ${rank} could not start: ${err.message}`);
      });
      child.on('exit', (code, signal) => {
        entry.ended = true;
        const status = signal ? 128 + (os.constants.signals[signal] ?? 1) : (code ?? 1);
        if (status !== 0 && !firstFailure) {
          firstFailure = { rank, status };
          log(`align-detr launch: rank ${rank} (pid ${child.pid}) ${ending(code, signal)}; ` +
            `the other workers stop within the collective timeout (${timeoutS} s)`);
          killTimer = setTimeout(killLeft, (timeoutS + 10) * 1000);
        }
        resolve();
      });
    });
    workers.push(entry);
  }

  // Ctrl-C / SIGTERM: each worker stops after its current step (rank 0 writes the checkpoint).
  const forward = (signal: NodeJS.Signals): void => {
    for (const w of workers) if (!w.ended) w.child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    await Promise.all(workers.map((w) => w.done));
  } finally {
    process.removeListener('SIGINT', forward);
    process.removeListener('SIGTERM', forward);
    if (killTimer) clearTimeout(killTimer);
  }
  if (firstFailure) {
    log(`align-detr launch: failed: rank ${firstFailure.rank} ended first (status ${firstFailure.status})`);
    return firstFailure.status;
  }
  return 0;
}

/**
 * In a worker started by launch(): exit when the launcher is gone (the worker would otherwise
 * train on as an orphan). Checked every second, off the event loop's keep-alive.
 */
export function watchLauncher(env: NodeJS.ProcessEnv = process.env): void {
  const launcher = Number(env.ALIGN_DETR_LAUNCHER_PID);
  if (!Number.isInteger(launcher) || launcher <= 0) return;
  setInterval(() => {
    if (process.ppid !== launcher) {
      process.stderr.write(`align-detr: rank ${env.RANK}: the launcher (pid ${launcher}) is gone; exiting\n`);
      process.exit(1);
    }
  }, 1000).unref();
}
