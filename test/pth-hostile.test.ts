// Crafted PyTorch `.pth` files (issue 12): loadCheckpoint must refuse each with a CheckpointError
// naming the file, or load it safely, and never crash, hang or allocate far beyond the file.
// The files are built here: a pickle assembled opcode by opcode, zipped the way torch.save zips
// (entries stored, under one archive folder, with a version record). They are read in a child
// process (test/helpers/pth-load.js), restarted past any file that kills it, so a file that
// crashes the reader fails its own test.
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr } from '../lib/index';
import { cat, dict, floats, global, op, pickle, str, tensor, u32, writePth, MARK, type TensorRecord } from './helpers/pth-writer';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-pth-hostile-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const micro = {
  preset: 'tiny' as const, numClasses: 3, backboneWidth: 8, hiddenDim: 32, numHeads: 2, numPoints: 2, encoderLayers: 1,
  decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8, dnNumber: 6, testShortEdge: 128, testMaxSize: 192,
};

/** Writes `<name>.pth` in this test's folder. */
const pth = (name: string, pkl: Buffer, storages: Record<string, Buffer> = {}, deflate = false): string =>
  writePth(path.join(tmp, `${name}.pth`), pkl, storages, deflate);

/** A state dict {"w": tensor} over one storage "0" of `storageFloats` floats. */
function oneTensor(name: string, r: Omit<TensorRecord, 'key' | 'numel'> & { numel?: number }, storageFloats = 4): string {
  const numel = r.numel ?? storageFloats;
  return pth(name, pickle(dict([[str('w'), tensor({ key: '0', numel, ...r })]])), { '0': floats(Array.from({ length: storageFloats }, (_, i) => i)) });
}

// ---- the files ----

interface Case {
  file: string;
  /** A fragment of the message; absent where the file is valid and loads. */
  refused?: RegExp;
  /** How far reading it may raise the process's peak memory. */
  maxGrowthMiB: number;
}

// Most files are tiny, and reading them must stay tiny: the zip bomb would inflate to 64 MiB, the
// broadcast was once a 2 GiB clone, the repeated key 1.3 GB of copies. The two files of a million
// or two values cost what the reader's bound on values allows (about 150 bytes a value).
const cases: Record<string, Case> = {};
const refuse = (name: string, file: string, refused: RegExp, maxGrowthMiB = 48): void => void (cases[name] = { file, refused, maxGrowthMiB });
const survive = (name: string, file: string, maxGrowthMiB = 48): void => void (cases[name] = { file, maxGrowthMiB });

// The two files that crashed the reader: a stride tuple shorter than the size tuple (read past the
// stride vector), and a million nested lists (the recursive destructor overflowed the stack).
refuse('stride tuple shorter than size tuple', oneTensor('short-stride', { size: [2, 2], stride: [1] }), /2 sizes but 1 strides/);
{
  const n = 1_000_000;
  const nested = cat(Buffer.alloc(n, 0x5d), Buffer.alloc(n - 1, 0x61)); // EMPTY_LIST × n, APPEND × (n − 1)
  const pkl = pickle(dict([[str('w'), tensor({ key: '0', numel: 4, size: [4], stride: [1] })], [str('deep'), nested]]));
  survive('a million nested lists', pth('deep-lists', pkl, { '0': floats([1, 2, 3, 4]) }), 256);
}
{
  // A list that holds itself (through the memo): freed without recursion, loaded like any value.
  const self = cat(op(0x5d, 0x71, 0), op(0x68, 0), op(0x61)); // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND
  survive('a list that holds itself', pth('self-list', pickle(dict([[str('loop'), self]]))));
}

refuse('stride tuple longer than size tuple', oneTensor('long-stride', { size: [4], stride: [1, 1] }), /1 sizes but 2 strides/);
refuse('negative size', oneTensor('negative-size', { size: [-1, 4], stride: [4, 1] }), /negative size or stride/);
refuse('negative stride', oneTensor('negative-stride', { size: [2, 2], stride: [-2, 1] }), /negative size or stride/);
refuse('negative storage offset', oneTensor('negative-offset', { offset: -1, size: [4], stride: [1] }), /negative storage offset/);
refuse('view one element past the storage', oneTensor('past-end', { size: [5], stride: [1] }), /exceeds its storage/);
refuse('offset pushes the view past the storage', oneTensor('offset-past-end', { offset: 1, size: [4], stride: [1] }), /exceeds its storage/);
refuse('strided view past the storage', oneTensor('stride-past-end', { size: [2, 2], stride: [3, 1] }), /exceeds its storage/);
// (2^62 + 1 − 1) · 4 wraps to 0 in int64: only overflow-checked arithmetic sees it.
refuse('extent that overflows int64', oneTensor('extent-overflow', { size: [2n ** 62n + 1n], stride: [4] }), /exceeds its storage/);
refuse('element count that overflows int64', oneTensor('numel-overflow', { size: [2n ** 40n, 2n ** 40n], stride: [0, 0] }), /too large/);
refuse('65 dimensions', oneTensor('too-many-dims', { size: Array(65).fill(1), stride: Array(65).fill(1) }), /more than 64 dimensions/);
// Once cloned into a 2 GiB tensor; now a view of the one float, as torch.load makes it.
survive('2^29 elements broadcast from one float', oneTensor('broadcast', { size: [2 ** 29], stride: [0] }, 1));

refuse(
  'storage bytes not a whole number of elements',
  pth('ragged-storage', pickle(dict([[str('w'), tensor({ key: '0', numel: 1, size: [1], stride: [1] })]])), { '0': Buffer.alloc(6) }),
  /6 bytes does not hold whole Float elements/,
);
refuse('unknown storage type', oneTensor('complex-storage', { size: [1], stride: [1], storageType: 'ComplexFloatStorage' }), /unsupported storage type torch\.ComplexFloatStorage/);
refuse(
  'missing storage record',
  pth('missing-storage', pickle(dict([[str('w'), tensor({ key: '7', numel: 4, size: [4], stride: [1] })]])), { '0': floats([1, 2, 3, 4]) }),
  /missing storage record 'data\/7'/,
);
refuse('string longer than the pickle', pth('long-string', cat(op(0x80, 2, 0x58), u32(0xfffffff0), Buffer.from('abc'))), /truncated pickle data/);
refuse('unsupported opcode', pth('bad-opcode', pickle(op(0xff))), /unsupported pickle opcode 0xff/);
refuse('stack underflow', pth('underflow', pickle(op(0x61))), /stack underflow/);
refuse('GLOBAL name of 2000 bytes', pth('long-global', pickle(global('a'.repeat(2000), 'b'), op(0x29, 0x52))), /name longer than 1024 bytes/);
{
  // One 64 KiB string, memoized, then used as the key of 20,000 entries: the copies would need 1.3 GB.
  const long = cat(str('k'.repeat(65536)), op(0x71, 1)); // BINPUT 1
  const w = cat(tensor({ key: '0', numel: 4, size: [4], stride: [1] }), op(0x71, 2));
  const pkl = pickle(op(0x7d), MARK, long, w, ...Array.from({ length: 20_000 }, () => op(0x68, 1, 0x68, 2)), op(0x75));
  refuse('one long key repeated 20,000 times', pth('repeated-key', pkl, { '0': floats([1, 2, 3, 4]) }), /strings reused too often/);
}
{
  // Keys that differ only in case name one record (zip names are looked up case-insensitively).
  const variants = ['ab', 'aB', 'Ab', 'AB'];
  const pkl = pickle(dict(variants.map((key, i) => [str(`w${i}`), tensor({ key, numel: 65536, size: [65536], stride: [1] })])));
  refuse('one record read under four names', pth('case-keys', pkl, { ab: Buffer.alloc(65536 * 4) }), /missing storage record|storage records overlap/);
}
refuse('2^21 + 1 values', pth('too-many-values', pickle(Buffer.alloc(2 ** 21 + 1, 0x4e))), /more than 2097152 values/, 512); // NONE × n
refuse(
  'deflated record declaring 64 MiB in a small file',
  pth('zip-bomb', pickle(dict([[str('w'), tensor({ key: '0', numel: 2 ** 24, size: [2 ** 24], stride: [1] })]])), { '0': Buffer.alloc(2 ** 26) }, true),
  /declare more bytes than the file holds/,
);

// ---- the tests ----

interface Result {
  file: string;
  ok: boolean;
  loadedKeys?: string[];
  unexpectedKeys?: string[];
  ctor?: string;
  isError?: boolean;
  name?: string;
  code?: string;
  message?: string;
  rssGrowthMiB: number;
}

interface Run {
  results: Map<string, Result>;
  /** Why the child ended while reading a file, by file. */
  deaths: Map<string, string>;
}

// Runs the helper over `files`, printing nothing itself; a file that kills the child is recorded and
// the child restarted after it, so each file gets its own verdict. A hang is killed after 240 s.
function runChild(files: string[]): Promise<{ results: Result[]; died?: { file: string; why: string } }> {
  const lib = path.resolve(__dirname, '../lib/index.js');
  const helper = path.resolve(__dirname, '../../test/helpers/pth-load.js');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [helper, lib, JSON.stringify(micro), ...files], { env: { ...process.env, OMP_NUM_THREADS: '2' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      const results: Result[] = [];
      let started = '';
      for (const line of stdout.split('\n')) {
        if (line.startsWith('start ')) started = line.slice(6);
        else if (line.startsWith('{')) results.push(JSON.parse(line) as Result);
      }
      const finished = status === 0 && results.length === files.length;
      resolve(finished ? { results } : { results, died: { file: started, why: `status ${String(status)}, signal ${String(signal)}\n${stderr.slice(-2000)}` } });
    });
  });
}

const run = (async (): Promise<Run> => {
  const results = new Map<string, Result>();
  const deaths = new Map<string, string>();
  let files = Object.values(cases).map((c) => c.file);
  while (files.length > 0) {
    const r = await runChild(files);
    for (const x of r.results) results.set(x.file, x);
    if (!r.died) break;
    deaths.set(r.died.file, r.died.why);
    const at = files.indexOf(r.died.file);
    if (at < 0) break; // died before the first file: every test reports it below
    files = files.slice(at + 1);
  }
  return { results, deaths };
})();

for (const [title, c] of Object.entries(cases)) {
  test(c.refused ? `refuses: ${title}` : `loads safely: ${title}`, async (t) => {
    const { results, deaths } = await run;
    const r = results.get(c.file);
    if (!r) {
      t.fail(`the child process died reading this file: ${deaths.get(c.file) ?? 'before reaching it'}`);
      return;
    }
    t.true(r.rssGrowthMiB <= c.maxGrowthMiB, `the process grew by ${r.rssGrowthMiB.toFixed(0)} MiB`);
    if (!c.refused) {
      t.true(r.ok, `${r.ctor}: ${r.message}`);
      return;
    }
    t.false(r.ok, 'the file loaded');
    t.true(r.isError);
    t.not(r.ctor, 'TypeError', r.message);
    t.not(r.ctor, 'RangeError', r.message);
    t.is(r.ctor, 'CheckpointError', `${r.ctor} ${r.code}: ${r.message}`);
    t.true(r.message!.startsWith(`path: ${c.file}: `), r.message);
    t.regex(r.message!, c.refused);
    t.true(r.message!.length < 300 && !r.message!.includes('Exception raised from'), r.message);
  });
}

test('a valid crafted file loads: strided views and a storage shared by two tensors', async (t) => {
  // conv1 stored as its [3, 8, 7, 7] transpose (a non-contiguous view), after 5 floats that a
  // second tensor of the same storage uses.
  const n = 8 * 3 * 7 * 7;
  const storage = Array.from({ length: 5 + n }, (_, i) => i / 10);
  const pkl = pickle(
    dict([
      [str('backbone.stem.conv1.weight'), tensor({ key: '0', numel: 5 + n, offset: 5, size: [8, 3, 7, 7], stride: [49, 392, 7, 1] })],
      [str('head'), tensor({ key: '0', numel: 5 + n, size: [5], stride: [1] })],
      // One 16-byte record read as three dtypes (torch ≥ 2 writes views of one untyped storage so).
      [str('bool'), tensor({ key: '1', numel: 16, size: [16], stride: [1], storageType: 'BoolStorage' })],
      [str('half'), tensor({ key: '1', numel: 8, size: [2, 4], stride: [4, 1], storageType: 'HalfStorage' })],
      [str('long'), tensor({ key: '1', numel: 2, size: [2], stride: [1], storageType: 'LongStorage' })],
    ]),
  );
  const file = pth('valid', pkl, { '0': floats(storage), '1': Buffer.alloc(16, 1) });
  const model = await AlignDetr.create(micro);
  const report = await model.loadCheckpoint(file);
  t.true(report.loadedKeys.includes('backbone.stem.conv1.weight'));
  t.deepEqual(report.unexpectedKeys.sort(), ['bool', 'half', 'head', 'long']);
  const w = model.parameter('backbone.stem.conv1.weight').toTypedArray() as Float32Array;
  let worst = 0;
  for (let o = 0; o < 8; o++) {
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 49; k++) worst = Math.max(worst, Math.abs(w[(o * 3 + i) * 49 + k]! - Math.fround(storage[5 + i * 392 + o * 49 + k]!)));
    }
  }
  t.is(worst, 0);
  model.dispose();
});
