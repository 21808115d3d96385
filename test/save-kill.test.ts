// kill -9 during saves (issue 12: "nothing is lost"). A child (test/helpers/save-loop.js) saves two
// tiny models (seeds 1 and 2) in turn to one path and training checkpoints of them to another, for
// ever; the parent kills it with SIGKILL at varied moments (before the first save, just after a
// save began, a few milliseconds into one), 30 times in all. After every kill each path either does
// not exist yet (nothing was ever saved there) or loads (AlignDetr.load / Trainer.resume) a model
// whose weights are bit-identical to the one last saved there or the one being saved; temporaries
// are named <file>.tmp-<pid> of the killed child only, and the next save into the folder removes
// them. The last 6 kills hit checkpoints written by Trainer.fit's checkpointDir.
import test from 'ava';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr, Trainer } from '../lib/index';

const lib = path.resolve(__dirname, '../lib/index.js');
const child = path.resolve(__dirname, '../../test/helpers/save-loop.js');

type Name = 'A' | 'B';
type Kind = 'model' | 'checkpoint' | 'fit';

/** SHA-256 of every parameter by name: equal hashes, bit-identical weights. */
function weightsHash(model: AlignDetr): string {
  const h = crypto.createHash('sha256');
  for (const name of model.parameterNames()) {
    const t = model.parameter(name);
    const a = t.toTypedArray();
    h.update(name);
    h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    t.dispose();
  }
  return h.digest('hex');
}

interface KillRun {
  pid: number;
  lines: string[];
  signal: NodeJS.Signals | null;
}

/**
 * Starts the saver, waits until `afterBegins` saves have begun (0: until it is ready), then `delayMs`,
 * and kills it with SIGKILL.
 */
function runAndKill(dir: string, afterBegins: number, delayMs: number, fit: boolean): Promise<KillRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, lib, dir, ...(fit ? ['fit'] : [])], {
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    let buffered = '';
    let begins = 0;
    let armed = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => p.kill('SIGKILL'), delayMs);
    };
    const safety = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`saver made no progress in 60 s: ${lines.slice(-3).join(' | ')} ${stderr.slice(-500)}`));
    }, 60_000);
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('ready') && afterBegins === 0) arm();
        if (line.startsWith('begin') && ++begins >= afterBegins && afterBegins > 0) arm();
      }
    });
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (c: string) => (stderr += c));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(safety);
      if (buffered) lines.push(buffered);
      if (signal !== 'SIGKILL') reject(new Error(`saver exited on its own (${code}, ${signal}): ${stderr.slice(-1000)}`));
      else resolve({ pid: p.pid!, lines, signal });
    });
  });
}

test.serial('kill -9 at any moment of a save leaves the old file or the new one, never a broken one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-kill-'));
  const started = Date.now();
  // The two models the saver writes (seeded initialisation is identical in any process).
  const hashes = new Map<string, Name>();
  for (const [seed, name] of [[1, 'A'], [2, 'B']] as const) {
    const m = await AlignDetr.create({ preset: 'tiny', numClasses: 2, seed });
    hashes.set(weightsHash(m), name);
    m.dispose();
  }
  const files: Record<'model' | 'checkpoint', string> = { model: path.join(dir, 'model.adetr'), checkpoint: path.join(dir, 'last.adetr') };
  // What each file holds as far as the parent knows (undefined: never written).
  const state: Record<'model' | 'checkpoint', Name | undefined> = { model: undefined, checkpoint: undefined };
  const deadPids: number[] = [];
  const delays = [0, 1, 3, 6, 10, 15, 25, 40];
  let midSave = 0;
  let killMs = 0;
  const tries = 30;
  for (let i = 0; i < tries; i++) {
    const fit = i >= tries - 6;
    const afterBegins = i === 0 ? 0 : fit ? 1 + (i % 2) : 1 + ((i * 5) % 4);
    const delayMs = delays[(i * 3) % delays.length]!;
    const t0 = Date.now();
    const run = await runAndKill(dir, afterBegins, delayMs, fit);
    killMs += Date.now() - t0;
    if (run.lines[run.lines.length - 1]?.startsWith('begin')) midSave++;
    const what = `kill ${i} (pid ${run.pid}, ${fit ? 'fit, ' : ''}after ${afterBegins} begins + ${delayMs} ms; last lines: ${run.lines.slice(-2).join(' | ')})`;

    // Which model each file may hold: the last one saved there, or the one being saved when killed.
    for (const kind of ['model', 'checkpoint'] as const) {
      const tag: Kind = kind === 'checkpoint' && fit ? 'fit' : kind;
      let last = state[kind];
      let inFlight: Name | undefined;
      for (const line of run.lines) {
        const [event, k, n, name] = line.split(' ');
        if (k !== tag) continue;
        if (event === 'saved') {
          last = name as Name;
          inFlight = undefined;
        } else if (event === 'begin') {
          inFlight = tag === 'fit' ? 'A' : Number(n) % 2 === 0 ? 'A' : 'B';
        }
      }
      const allowed = new Set([last, inFlight].filter((x): x is Name => x !== undefined));
      const file = files[kind];
      if (!fs.existsSync(file)) {
        t.is(last, undefined, `${what}: ${kind} file is gone although a save of it had completed`);
        continue;
      }
      t.true(allowed.size > 0, `${what}: ${kind} file exists although no save of it ever began`);
      let model: AlignDetr | undefined;
      try {
        if (kind === 'model') model = await AlignDetr.load(file);
        else model = (await Trainer.resume(file)).model;
      } catch (e) {
        t.fail(`${what}: ${kind} file does not load: ${(e as Error).message}`);
        continue;
      }
      const loaded = hashes.get(weightsHash(model));
      model.dispose();
      t.truthy(loaded, `${what}: ${kind} file holds weights that were never saved`);
      t.true(loaded !== undefined && allowed.has(loaded), `${what}: ${kind} file holds ${loaded}, expected one of ${[...allowed].join(', ')}`);
      state[kind] = loaded;
    }

    // Temporaries: only the killed child's; those of earlier children are gone once this one completed a save.
    const savedSomething = run.lines.some((l) => l.startsWith('saved'));
    if (savedSomething) deadPids.splice(0);
    deadPids.push(run.pid);
    for (const f of fs.readdirSync(dir)) {
      if (f === 'model.adetr' || f === 'last.adetr') continue;
      const m = /^(model|last)\.adetr\.tmp-(\d+)$/.exec(f);
      t.truthy(m, `${what}: unexpected file ${f}`);
      if (m) t.true(deadPids.includes(Number(m[2])), `${what}: stale temporary ${f} was not removed by the next save`);
    }
  }
  // One more save into the folder (from this process) removes every temporary the killed savers left.
  const m = await AlignDetr.create({ preset: 'tiny', numClasses: 2, seed: 1 });
  await m.save(files.model);
  m.dispose();
  t.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  t.log(`${tries} kills, ${midSave} with a save in flight, ${Date.now() - started} ms (${killMs} ms running savers)`);
  t.true(midSave >= tries / 3, `only ${midSave} kills landed while a save was in flight`);
  fs.rmSync(dir, { recursive: true, force: true });
});
