// Writers under faults: a full disk and a read-only filesystem (small tmpfs mounts; needs root,
// as CI is), and stale temporaries from a killed process. The save must reject with an Error
// naming the path and the system's reason (no C++ backtrace), keep the process alive, and leave
// no temporary behind.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr } from '../lib/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-faults-'));
const isRoot = process.getuid?.() === 0;
const canMount = isRoot && spawnSync('mount', ['--version']).status === 0;

function mountTmpfs(dir: string, options: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status === 0;
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

(canMount ? test.serial : test.serial.skip)('a full disk and a read-only filesystem reject cleanly and leave nothing', async (t) => {
  const dir = path.join(tmp, 'small');
  if (!mountTmpfs(dir, 'size=1m')) return t.pass('tmpfs mounts are not allowed here');
  try {
    const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 }); // ~17 MB of weights
    const file = path.join(dir, 'model.adetr');
    const full = await t.throwsAsync(model.save(file));
    t.regex(full?.message ?? '', /^path: cannot write .*model\.adetr: No space left on device$/);
    t.deepEqual(leftovers(dir), []);
    t.false(fs.existsSync(file));
    t.is(spawnSync('mount', ['-o', 'remount,ro', dir]).status, 0);
    const ro = await t.throwsAsync(model.save(file));
    t.regex(ro?.message ?? '', /^path: cannot write .*model\.adetr: Read-only file system$/);
    t.notRegex(ro?.message ?? '', /Exception raised from|frame #/);
    // The process (and the model) still work.
    const ok = path.join(tmp, 'ok.adetr');
    await model.save(ok);
    t.true(fs.statSync(ok).size > 1_000_000);
    model.dispose();
  } finally {
    spawnSync('umount', [dir]);
  }
});

test('a save removes temporaries left by dead processes, and only those', async (t) => {
  const dir = path.join(tmp, 'stale');
  fs.mkdirSync(dir);
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(child.stdout.trim());
  const stale = path.join(dir, `model.adetr.tmp-${deadPid}`);
  const live = path.join(dir, 'other.adetr.tmp-1'); // pid 1 runs
  const unrelated = path.join(dir, 'notes.tmp-x');
  for (const f of [stale, live, unrelated]) fs.writeFileSync(f, 'partial');
  const model = await AlignDetr.create({ preset: 'tiny', numClasses: 3 });
  await model.save(path.join(dir, 'model.adetr'));
  model.dispose();
  t.false(fs.existsSync(stale));
  t.true(fs.existsSync(live));
  t.true(fs.existsSync(unrelated));
  t.truthy(await AlignDetr.load(path.join(dir, 'model.adetr')));
});
