// One rank of test/dist-group.test.ts: node dist-group.js <lib> <rank> <worldSize> <port> <mode>.
// Prints one JSON line with what it saw.
const [lib, rank, world, port, mode] = process.argv.slice(2);
const { AlignDetr, ProcessGroup, Trainer } = require(lib);

(async () => {
  if (mode === 'model') {
    // A Trainer whose model differs on rank 1 (hiddenDim): joining fails before any broadcast.
    const model = await AlignDetr.create({
      preset: 'tiny', numClasses: 2, backboneWidth: 8, hiddenDim: +rank === 1 ? 64 : 32, numHeads: 2, numPoints: 2,
      encoderLayers: 1, decoderLayers: 2, ffnDim: 64, numQueries: 20, neckGroups: 8,
    });
    const trainer = new Trainer(model, { distributed: { rank: +rank, worldSize: +world, masterAddr: '127.0.0.1', masterPort: +port, timeoutMs: 8000 } });
    const out = { rank: +rank };
    try {
      await trainer.ready();
    } catch (e) {
      out.error = { name: e.name, ranks: e.ranks, message: e.message };
    }
    console.log(JSON.stringify(out));
    process.exit(0);
  }
  const g = await ProcessGroup.join({ rank: +rank, worldSize: +world, masterAddr: '127.0.0.1', masterPort: +port, timeoutMs: 8000 });
  const out = { rank: g.rank, worldSize: g.worldSize };
  try {
    if (mode === 'collectives') {
      out.sum = Array.from(await g.allreduceSum(Float64Array.from([g.rank + 1, 0.5, -g.rank])));
      // rank r contributes r + 1 rows [r, j]
      const rows = [];
      for (let j = 0; j <= g.rank; j++) rows.push(g.rank, j);
      out.rows = Array.from(await g.allgatherRows(Float64Array.from(rows), 2));
      await g.checkAgreement({ config: 'same', size: '10' });
      await g.barrier();
    } else if (mode === 'mismatch') {
      await g.checkAgreement({ config: 'same', 'dataset size': g.rank === 1 ? '11' : '10' });
    } else if (mode === 'exit') {
      await g.barrier();
      if (g.rank === 1) process.exit(7);
      const t0 = Date.now();
      try {
        await g.barrier();
      } finally {
        out.failedAfterMs = Date.now() - t0;
      }
    }
  } catch (e) {
    out.error = { name: e.name, ranks: e.ranks, message: e.message };
  }
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => {
  console.log(JSON.stringify({ fatal: String(e && e.message) }));
  process.exit(1);
});
