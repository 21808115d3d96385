// Fuzz child for test/fuzz.test.ts (tensor): Tensor.from / reshape / toTypedArray / dispose and the
// other Tensor members, buildInfo, setNumThreads.
//   node fuzz-tensor.js <dist/lib/index.js> <progress.json> <workdir>
'use strict';
const { CheckFailure, fc, S, fuzzed, weird, allOf, main, detach } = require('./fuzz-common');

const DTYPES = ['f32', 'f64', 'i32', 'i64', 'u8'];
const NAMES = { f32: 'float32', f64: 'float64', i32: 'int32', i64: 'int64', u8: 'uint8' };

/** [data, shape, dtype?] of a valid Tensor.from call. */
const fromPlan = fc
  .record({ type: fc.constantFrom(...DTYPES), dims: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), withDtype: fc.boolean() })
  .chain(({ type, dims, withDtype }) => {
    const n = dims.reduce((a, b) => a * b, 1);
    return fc.array(fc.integer({ min: -100, max: 100 }), { minLength: n, maxLength: n }).map((values) => {
      const args = [S('ta', { type, values, backing: 'plain' }), dims];
      if (withDtype) args.push(NAMES[type]);
      return args;
    });
  });

const tensorPlan = fc
  .record({ type: fc.constantFrom(...DTYPES), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }) })
  .map((a) => S('tensor', a));

const METHODS = ['toTypedArray', 'reshape', 'dispose', 'toString', Symbol.dispose];
const GETTERS = ['shape', 'dtype', 'size', 'disposed'];

function sameValues(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(a[i] === b[i])) return false;
  return true;
}

main(async (ctx) => {
  const { Tensor, buildInfo, setNumThreads } = ctx.lib;
  const items = [
    {
      name: 'Tensor.from',
      plan: fuzzed(fromPlan),
      runs: 1200,
      budgetMs: 5_000,
      call: (args) => {
        const t = Tensor.from(...args);
        // A tensor that was made must be fully usable.
        const back = t.toTypedArray();
        if (back.length !== t.size) throw new CheckFailure('round trip: wrong length');
        void [t.shape, t.dtype, String(t)];
        t.dispose();
      },
    },
    {
      name: 'Tensor.reshape',
      plan: fuzzed(fc.tuple(tensorPlan, fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 5 }))),
      runs: 900,
      budgetMs: 5_000,
      call: ([t, shape]) => {
        const r = t.reshape(shape);
        r.toTypedArray();
      },
    },
    {
      name: 'Tensor members',
      plan: fuzzed(fc.tuple(tensorPlan, fc.constantFrom(...METHODS, ...GETTERS), fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }))),
      runs: 600,
      budgetMs: 5_000,
      call: ([t, member, arg]) => {
        if (t === null || t === undefined) return Tensor.from(t, arg);
        const v = t[member];
        if (typeof v === 'function') v.call(t, arg);
      },
    },
    {
      // Every member with a foreign `this` (the handle of another native class, a plain object, a fake Tensor).
      name: 'Tensor members with a foreign this',
      plan: fc.tuple(fc.constantFrom(...METHODS, ...GETTERS), weird()).map((plan) => ({ plan })),
      runs: 600,
      budgetMs: 5_000,
      call: ([member, self]) => {
        const d = Object.getOwnPropertyDescriptor(Tensor.prototype, member);
        if (d && d.get) d.get.call(self);
        else if (d && typeof d.value === 'function') d.value.call(self, [1]);
      },
    },
    {
      name: 'setNumThreads / buildInfo',
      plan: fuzzed(fc.tuple(fc.integer({ min: 1, max: 4 }))),
      runs: 450,
      budgetMs: 5_000,
      call: (args) => {
        try {
          setNumThreads(...args);
          buildInfo(...args);
        } finally {
          setNumThreads(1);
        }
      },
    },
    {
      // Known issue (SharedArrayBuffer inputs): a SAB-backed array is as good as any other.
      name: 'Tensor.from accepts SharedArrayBuffer / offset / length-tracking views',
      scenario: async () => {
        const checks = [];
        for (const type of DTYPES) {
          const C = { f32: Float32Array, f64: Float64Array, i32: Int32Array, i64: BigInt64Array, u8: Uint8Array }[type];
          const fill = (a) => a.forEach((_, i) => (a[i] = type === 'i64' ? BigInt(i + 1) : i + 1));
          const views = {
            sab: new C(new SharedArrayBuffer(6 * C.BYTES_PER_ELEMENT)),
            offset: new C(new ArrayBuffer(9 * C.BYTES_PER_ELEMENT), 2 * C.BYTES_PER_ELEMENT, 6),
            resizable: new C(new ArrayBuffer(6 * C.BYTES_PER_ELEMENT, { maxByteLength: 12 * C.BYTES_PER_ELEMENT })),
          };
          for (const [kind, view] of Object.entries(views)) {
            fill(view);
            checks.push([`Tensor.from(${kind} ${C.name}, [2, 3])`, () => {
              const t = Tensor.from(view, [2, 3]);
              const back = t.toTypedArray();
              if (!sameValues(Array.from(back), Array.from(view))) throw new CheckFailure(`values differ: ${back} vs ${view}`);
            }, 'accept']);
          }
        }
        await allOf(checks);
      },
    },
    {
      // Known issue: data read after the shape's getter detached (or shrank) its buffer.
      name: 'Tensor.from with a shape whose getter detaches or shrinks data',
      scenario: async () => {
        const n = 1 << 16;
        const checks = [];
        for (const mode of ['detach', 'shrink']) {
          for (const via of ['getter', 'proxy']) {
            checks.push([`Tensor.from: shape ${via} ${mode}s data`, () => {
              const buffer = mode === 'shrink' ? new ArrayBuffer(n * 4, { maxByteLength: n * 8 }) : new ArrayBuffer(n * 4);
              const data = new Float32Array(buffer).fill(1);
              const hit = () => (mode === 'shrink' ? buffer.resize(0) : detach(buffer));
              let shape;
              if (via === 'getter') {
                shape = [];
                Object.defineProperty(shape, '0', { get() { hit(); return n; }, enumerable: true });
              } else {
                shape = new Proxy([n], { get(t, k, r) { if (k === '0') hit(); return Reflect.get(t, k, r); } });
              }
              const t = Tensor.from(data, shape);
              // Accepting is only right if the tensor holds what data held when it was read.
              const back = t.toTypedArray();
              if (back.length !== n || back.some((x) => x !== 1)) throw new CheckFailure('tensor holds data that was never given');
            }, 'any']);
          }
        }
        await allOf(checks);
      },
    },
  ];
  return items;
});
