// The demo page's logic: load the exported model (postprocess interface: uint8 RGB
// [1, H, W, 3] in; scores, labels (category ids) and boxes (x, y, w, h in pixels) out) with
// onnxruntime-web's WebAssembly backend, run it on a chosen or dropped image at the image's own
// size, and draw the detections above the threshold. /model.json gives the category names.
'use strict';

const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324', '#469990', '#800000'];
const $ = (id) => document.getElementById(id);
const state = { session: null, names: new Map(), colors: new Map(), image: null, detections: [] };

function setState(name, message) {
  document.body.dataset.state = name;
  if (message !== undefined) $('status').textContent = message;
}

async function init() {
  const info = await (await fetch('model.json')).json();
  info.categories.forEach((c, i) => {
    state.names.set(c.id, c.name);
    state.colors.set(c.id, COLORS[i % COLORS.length]);
  });
  ort.env.wasm.wasmPaths = new URL('ort/', location.href).href;
  // Threads need cross-origin isolation (the demo server sends the headers).
  const asked = Number(new URLSearchParams(location.search).get('threads'));
  ort.env.wasm.numThreads = self.crossOriginIsolated ? asked || Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const started = performance.now();
  state.session = await ort.InferenceSession.create('model.onnx', { executionProviders: ['wasm'] });
  const threads = ort.env.wasm.numThreads;
  setState('ready', `Model loaded in ${Math.round(performance.now() - started)} ms (${threads} thread${threads > 1 ? 's' : ''}). Choose or drop an image.`);
}

/** The file's pixels, as decoded, without colour management or premultiplication. */
async function decode(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { colorSpace: 'srgb' });
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { bitmap, rgb, width: bitmap.width, height: bitmap.height };
}

async function detect(file) {
  if (!state.session) return;
  setState('running', `Running on ${file.name}…`);
  try {
    const image = await decode(file);
    const input = new ort.Tensor('uint8', image.rgb, [1, image.height, image.width, 3]);
    const started = performance.now();
    const out = await state.session.run({ images: input });
    const ms = Math.round(performance.now() - started);
    const k = out.scores.dims[1];
    const detections = [];
    for (let i = 0; i < k; i++) {
      const b = out.boxes.data.subarray(4 * i, 4 * i + 4);
      const id = Number(out.labels.data[i]);
      detections.push({ bbox: [b[0], b[1], b[2], b[3]], score: out.scores.data[i], categoryId: id, name: state.names.get(id) ?? String(id) });
    }
    state.image = image;
    state.detections = detections;
    $('detections').textContent = JSON.stringify(detections);
    draw();
    setState('done', `${file.name}: ${image.width}×${image.height}, ${ms} ms.`);
  } catch (err) {
    setState('error', `Could not run the model: ${err.message ?? err}`);
  }
}

function draw() {
  const { image, detections } = state;
  if (!image) return;
  const threshold = Number($('threshold').value);
  const canvas = $('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image.bitmap, 0, 0);
  const shown = detections.filter((d) => d.score >= threshold);
  const line = Math.max(2, Math.round(image.width / 320));
  ctx.font = `${Math.max(12, Math.round(image.width / 50))}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const d of shown) {
    const [x, y, w, h] = d.bbox;
    const color = state.colors.get(d.categoryId) ?? '#000';
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    const text = `${d.name} ${d.score.toFixed(2)}`;
    const tw = ctx.measureText(text).width + 6;
    const th = parseInt(ctx.font, 10) + 4;
    const ty = y - th >= 0 ? y - th : y;
    ctx.fillStyle = color;
    ctx.fillRect(x, ty, tw, th);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x + 3, ty + 2);
  }
  $('caption').textContent = `${shown.length} detection${shown.length === 1 ? '' : 's'} with score ≥ ${threshold.toFixed(2)} (of ${detections.length})`;
  $('list').replaceChildren(
    ...shown.map((d) => {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.style.background = state.colors.get(d.categoryId) ?? '#000';
      li.append(swatch, `${d.name} ${d.score.toFixed(3)} [${d.bbox.map((v) => v.toFixed(0)).join(', ')}]`);
      return li;
    }),
  );
  canvas.dataset.drawn = String(shown.length);
}

$('file').addEventListener('change', (e) => {
  const file = e.target.files && e.target.files[0];
  if (file) detect(file);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer.files && e.dataTransfer.files[0];
  if (file) detect(file);
});
$('threshold').addEventListener('input', () => {
  $('threshold-value').textContent = Number($('threshold').value).toFixed(2);
  draw();
});
const initial = new URLSearchParams(location.search).get('threshold');
if (initial !== null) {
  $('threshold').value = initial;
  $('threshold-value').textContent = Number(initial).toFixed(2);
}
init().catch((err) => setState('error', `Could not load the model: ${err.message ?? err}`));
