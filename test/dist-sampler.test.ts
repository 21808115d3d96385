// DistributedSampler: the shards of an epoch, checked against their definition by brute force
// (disjoint but for the wrap-around padding, covering the dataset, equal counts, reshuffled per
// epoch from the seed), and the property data-parallel training relies on: at every step the
// ranks together see the samples one process with worldSize × the batch sees.
import test from 'ava';
import { DistributedSampler } from '../lib/index';

test('shards cover the dataset, are disjoint but for the padding, and have equal counts', (t) => {
  for (const [n, world] of [[10, 3], [9, 3], [7, 4], [1, 2], [16, 1]] as const) {
    const shards = [...Array(world).keys()].map((rank) => new DistributedSampler({ length: n, rank, worldSize: world, shuffle: true, seed: 7 }).indices(2));
    const per = Math.ceil(n / world);
    for (const s of shards) t.is(s.length, per, `n=${n} world=${world}: equal counts`);
    const all = shards.flat();
    t.deepEqual([...new Set(all)].sort((a, b) => a - b), [...Array(n).keys()], `n=${n} world=${world}: covers the dataset`);
    t.is(all.length - n, per * world - n, `n=${n} world=${world}: only the padding repeats`);
  }
});

test('one permutation per (seed, epoch), shared by the ranks; another epoch reshuffles', (t) => {
  const a = new DistributedSampler({ length: 50, rank: 0, worldSize: 2, shuffle: true, seed: 1 });
  const b = new DistributedSampler({ length: 50, rank: 1, worldSize: 2, shuffle: true, seed: 1 });
  t.deepEqual(a.order(3), b.order(3));
  t.notDeepEqual(a.order(3), a.order(4));
  t.notDeepEqual(a.order(3), new DistributedSampler({ length: 50, shuffle: true, seed: 2 }).order(3));
  t.deepEqual(new DistributedSampler({ length: 5 }).indices(0), [0, 1, 2, 3, 4], 'no shuffle: dataset order');
});

test('step s of W ranks × batch b sees the samples of step s of one process × batch W·b', (t) => {
  const n = 23, world = 2, batch = 2;
  const single = new DistributedSampler({ length: n, shuffle: true, seed: 9 }).order(1);
  const shards = [0, 1].map((rank) => new DistributedSampler({ length: n, rank, worldSize: world, shuffle: true, seed: 9 }).indices(1));
  const steps = Math.floor(n / (batch * world)); // the last, padded step aside
  for (let s = 0; s < steps; s++) {
    const together = shards.flatMap((sh) => sh.slice(s * batch, (s + 1) * batch)).sort((x, y) => x - y);
    const alone = single.slice(s * batch * world, (s + 1) * batch * world).sort((x, y) => x - y);
    t.deepEqual(together, alone, `step ${s}`);
  }
});

test('bad options name the option', (t) => {
  t.throws(() => new DistributedSampler({ length: 4, rank: 2, worldSize: 2 }), { instanceOf: RangeError, message: /^rank/ });
  t.throws(() => new DistributedSampler({ length: 4, worldSize: 0 }), { instanceOf: RangeError, message: /^worldSize/ });
  t.throws(() => new DistributedSampler({ length: '4' as never }), { instanceOf: TypeError, message: /^length/ });
});
