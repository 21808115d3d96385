// The browser demo end to end: `align-detr demo` serves examples/web/ with a checkpoint exported
// to ONNX; headless Chromium (Debian's, driven by playwright-core) loads it with
// onnxruntime-web (WebAssembly), a BCCD image goes in through the file input and another by drag
// and drop, and the detections the page draws are predict's. With ALIGN_DETR_DEMO_SCREENSHOT=FILE
// the page is also saved there (the README's picture).
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { type Detection } from '../lib/index';
import { assertSameDetections, bccdImage, testModel } from './helpers/onnx-support';

const CLI = path.resolve(__dirname, '../lib/cli/main.js');
const CHROMIUM = process.env.ALIGN_DETR_CHROMIUM ?? '/usr/bin/chromium';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'adetr-onnx-demo-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Starts `align-detr demo` on a free port; resolves with its address. */
function startDemo(checkpoint: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'demo', '--checkpoint', checkpoint, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving the demo at (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${err}`)));
  });
}

test('the demo page draws predict\'s detections (file input and drag and drop)', async (t) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.log(`skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set ALIGN_DETR_CHROMIUM)`);
    t.pass();
    return;
  }
  // Seed 5: two-stage margins ≥ 1.1e-4 on these images (see onnx-detections.test.ts).
  const model = await testModel('tiny', 5, path.join(tmp, 'tiny.pth'));
  const checkpoint = path.join(tmp, 'tiny.adetr');
  await model.save(checkpoint);
  const { child, url } = await startDemo(checkpoint);
  const browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1040, height: 720 },
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}?threshold=0.3`);
    const settled = (states: string[]) =>
      page.waitForFunction(`${JSON.stringify(states)}.includes(document.body.dataset.state)`, null, { timeout: 180_000 });
    await settled(['ready', 'error']);
    t.is(await page.getAttribute('body', 'data-state'), 'ready', (await page.textContent('#status')) ?? '');

    const check = async (id: number) => {
      await settled(['done', 'error']);
      t.is(await page.getAttribute('body', 'data-state'), 'done', (await page.textContent('#status')) ?? '');
      const shown = JSON.parse((await page.textContent('#detections')) ?? '[]') as (Detection & { name: string })[];
      const [expected] = await model.predict(bccdImage(id), { resize: false });
      const swapped = assertSameDetections(t, shown.map(({ bbox, score, categoryId }) => ({ bbox, score, categoryId })), expected!);
      // Drawn: those at or above the threshold, each labelled with its category's name.
      const drawn = expected!.filter((d) => d.score >= 0.3).length;
      t.is(Number(await page.getAttribute('#canvas', 'data-drawn')), drawn);
      t.regex((await page.textContent('#caption')) ?? '', new RegExp(`^${drawn} detections? with score ≥ 0.30 \\(of 100\\)`));
      t.is(await page.locator('#list li').count(), drawn);
      t.true(shown.every((d) => ['RBC', 'WBC', 'Platelets'].includes(d.name)));
      t.log(`image ${id}: 100 detections equal predict's (${swapped} among score ties), ${drawn} drawn; ${await page.textContent('#status')}`);
    };

    await page.setInputFiles('#file', bccdImage(0));
    await check(0);

    // Drag and drop: a drop event carrying the file, as a browser dispatches it.
    const bytes = fs.readFileSync(bccdImage(1)).toString('base64');
    // (A string: the page's DOM types are not in this project's TypeScript libs.)
    await page.evaluate(`(() => {
      const data = Uint8Array.from(atob('${bytes}'), (ch) => ch.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'BloodImage_00001.jpg', { type: 'image/jpeg' }));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    })()`);
    await page.waitForFunction("document.body.dataset.state !== 'done'", null, { timeout: 10_000 }).catch(() => undefined);
    await check(1);

    const shot = process.env.ALIGN_DETR_DEMO_SCREENSHOT ?? path.join(tmp, 'demo.jpg');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, type: 'jpeg', quality: 70 });
    t.true(fs.statSync(shot).size > 10_000);
  } finally {
    await browser.close();
    child.kill('SIGINT');
    model.dispose();
  }
});
