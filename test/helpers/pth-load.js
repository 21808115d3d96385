// A child process for test/pth-hostile.test.ts: loads each crafted .pth into a small model and
// prints one JSON line per file, so a file that crashes the process (as a short stride tuple and
// a million nested lists once did) fails its own test instead of killing ava. Before each file it
// prints "start <file>", naming the file that was being read when the process died.
const [lib, configJson, ...files] = process.argv.slice(2);
const { AlignDetr } = require(lib);

(async () => {
  const model = await AlignDetr.create(JSON.parse(configJson));
  for (const file of files) {
    console.log(`start ${file}`);
    const before = process.resourceUsage().maxRSS;
    const result = { file };
    try {
      const report = await model.loadCheckpoint(file);
      result.ok = true;
      result.loadedKeys = report.loadedKeys;
      result.unexpectedKeys = report.unexpectedKeys;
    } catch (e) {
      result.ok = false;
      result.ctor = e?.constructor?.name;
      result.isError = e instanceof Error;
      result.name = e?.name;
      result.code = e?.code;
      result.message = String(e?.message);
    }
    // maxRSS is a high-water mark in KiB: its growth is what this file made the process allocate.
    result.rssGrowthMiB = (process.resourceUsage().maxRSS - before) / 1024;
    console.log(JSON.stringify(result));
  }
  model.dispose();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
