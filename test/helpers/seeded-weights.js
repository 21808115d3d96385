// SHA-256 of every parameter of a freshly created model (by name, in order): equal hashes mean
// bit-identical weights. Required by model.test.ts, and run as a child process by it:
//   node seeded-weights.js <dist/lib/index.js> '<CreateOptions JSON>' <threads>
// which first creates one unseeded model (advancing the process-wide generator), then prints the
// hash of a model created with the given options.
const { createHash } = require('node:crypto');

async function weightsHash(AlignDetr, options) {
  const model = await AlignDetr.create(options);
  const h = createHash('sha256');
  for (const name of model.parameterNames()) {
    const t = model.parameter(name);
    const a = t.toTypedArray();
    h.update(name);
    h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    t.dispose();
  }
  model.dispose();
  return h.digest('hex');
}

module.exports = { weightsHash };

if (require.main === module) {
  const [lib, json, threads] = process.argv.slice(2);
  const { AlignDetr, setNumThreads } = require(lib);
  const options = JSON.parse(json);
  setNumThreads(Number(threads));
  (async () => {
    await weightsHash(AlignDetr, { ...options, seed: undefined });
    process.stdout.write(await weightsHash(AlignDetr, options));
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
