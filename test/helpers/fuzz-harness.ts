// Parent side of the fuzz suites (test/fuzz.test.ts): runs a fuzz child (test/helpers/fuzz-*.js)
// against the compiled library, under a virtual-memory cap so that a huge allocation fails
// instead of exhausting the machine. When the child dies (a signal, an abort, a hang), the progress
// file names the item and the case it was running; that item is recorded as a crash and the
// child is started again without it, so one run reports every failing item.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** dist/lib/index.js (the tests run from dist/test). */
export const LIB = path.resolve(__dirname, '../../lib/index.js');
/** test/helpers in the source tree (the children are plain JS, not compiled). */
export const HELPERS = path.resolve(__dirname, '../../../test/helpers');

export interface FuzzResult {
  /** One line per failing item: what failed and how to replay it. */
  failures: string[];
  /** Items that passed, with their run counts and times. */
  passed: string[];
  /** Errors that were acceptable but unhelpful (engine messages such as "Cannot read properties"). */
  soft: string[];
  /** Wall time of all child runs, ms. */
  ms: number;
}

export interface FuzzRunOptions {
  /** Wall-clock limit of one child run (default 90 s). */
  timeoutMs?: number;
  /** Virtual-memory cap of the child in KiB (default 12 GiB). */
  memoryKiB?: number;
  /** Child restarts after crashes (default 8). */
  maxRestarts?: number;
}

interface ChildLine {
  item?: string;
  status?: 'ok' | 'fail';
  runs?: number;
  ms?: number;
  seed?: number;
  path?: string | null;
  report?: string;
  soft?: [string, number][];
  done?: boolean;
  interrupted?: boolean;
  outcomes?: Record<string, number>;
}

/** Runs `script` (a file under test/helpers) until it finishes, restarting it after crashes. */
export function runFuzzChild(script: string, options: FuzzRunOptions = {}): FuzzResult {
  const { timeoutMs = 90_000, memoryKiB = 12 * 1024 * 1024, maxRestarts = 8 } = options;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `adetr-${path.basename(script, '.js')}-`));
  const progressFile = path.join(work, 'progress.json');
  const scriptPath = path.join(HELPERS, script);
  const skip = (process.env.FUZZ_SKIP ?? '').split(',').filter(Boolean);
  const result: FuzzResult = { failures: [], passed: [], soft: [], ms: 0 };
  const seedEnv = process.env.FUZZ_SEED ? `FUZZ_SEED=${process.env.FUZZ_SEED} ` : '';
  const replay = (item: string, fcPath?: string | null) =>
    `replay: ${seedEnv}FUZZ_ONLY='${item}'${fcPath ? ` FUZZ_PATH='${fcPath}'` : ''} node test/helpers/${script} dist/lib/index.js`;
  const started = Date.now();
  for (let attempt = 0; attempt <= maxRestarts; attempt++) {
    fs.rmSync(progressFile, { force: true });
    const r = spawnSync('/bin/sh', ['-c', `ulimit -v ${memoryKiB} && exec "$0" "$@"`, process.execPath, scriptPath, LIB, progressFile, work], {
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, OMP_NUM_THREADS: '1', FUZZ_SKIP: skip.join(',') },
    });
    let finished = false;
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      let msg: ChildLine;
      try {
        msg = JSON.parse(line) as ChildLine;
      } catch {
        continue;
      }
      if (msg.done) finished = true;
      if (msg.soft) result.soft.push(...msg.soft.map(([k, n]) => `${k} (×${n})`));
      if (!msg.item || !msg.status) continue;
      if (msg.status === 'ok') {
        const outcomes = msg.outcomes ? ` (${Object.entries(msg.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')})` : '';
        result.passed.push(`${msg.item}: ${msg.runs} runs, ${msg.ms} ms${msg.interrupted ? ', time budget reached' : ''}${outcomes}`);
      }
      else {
        const where = msg.seed !== undefined ? ` [seed ${msg.seed}, path ${msg.path}]` : '';
        result.failures.push(`${msg.item}${where}: ${msg.report}\n  ${replay(msg.item, msg.path)}`);
      }
      skip.push(msg.item); // reported: a restarted child does not run it again
    }
    if (finished && (r.status === 0 || r.status === 1)) break;
    // The child died (signal, abort, hang, early exit): name the item and case it was running.
    let progress: { item: string; run: number; case: string } | undefined;
    try {
      progress = JSON.parse(fs.readFileSync(progressFile, 'utf8')) as { item: string; run: number; case: string };
    } catch {
      progress = undefined;
    }
    const how = r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
      ? `hung (killed after ${timeoutMs} ms)`
      : r.signal ? `died with ${r.signal}` : `exited with status ${String(r.status)}`;
    const tail = r.stderr.split('\n').filter((l) => l.trim()).slice(-6).join(' | ').slice(0, 1500);
    if (!progress || progress.item === '(end)' || progress.item === '(start)') {
      result.failures.push(`${script}: child ${how} outside any item; stderr: ${tail}`);
      break;
    }
    result.failures.push(
      `${progress.item}: process ${how} at run ${progress.run}, case ${progress.case.slice(0, 1500)}; stderr: ${tail}\n  ${replay(progress.item)}`,
    );
    skip.push(progress.item);
  }
  result.ms = Date.now() - started;
  fs.rmSync(work, { recursive: true, force: true });
  return result;
}
