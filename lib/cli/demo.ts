// `align-detr demo`: exports a checkpoint (postprocess interface, dynamic size) into a temporary
// folder and serves the static page examples/web/ with it and onnxruntime-web's WebAssembly
// files on localhost (node:http), until Ctrl-C. The responses carry the cross-origin isolation
// headers, so onnxruntime-web may use threads.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlignDetr } from '../model';
import { UsageError, digits, type Flags } from './flags';

export const DEMO_FLAGS = ['checkpoint', 'port', 'host'] as const;

export const DEMO_USAGE = `demo:
  --checkpoint FILE            the model (.adetr) to run in the browser (required; tiny runs best)
  --port N                     default 8080 (0: any free port)
  --host ADDR                  default 127.0.0.1
  Serves examples/web/ with the model exported to ONNX: open the printed address, then choose or
  drop an image. Ctrl-C stops the server and removes the exported model.`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
};

/** The page's folder: examples/web beside dist/ in a checkout or an installed package. */
export function demoPageDir(): string {
  return path.resolve(__dirname, '..', '..', '..', 'examples', 'web');
}

/** onnxruntime-web's dist folder, or a TypeError saying how to install it. */
function ortWebDir(): string {
  try {
    return path.dirname(require.resolve('onnxruntime-web'));
  } catch {
    throw new TypeError('demo: onnxruntime-web is not installed (npm install onnxruntime-web)');
  }
}

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the page, `modelFile` as /model.onnx and `info` as /model.json. */
export async function startDemoServer(modelFile: string, info: object, port: number, host: string): Promise<DemoServer> {
  const roots: Record<string, string> = { '': demoPageDir(), 'ort/': ortWebDir() };
  const json = JSON.stringify(info);
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string | fs.ReadStream, type = 'text/plain; charset=utf-8', length?: number) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Cache-Control': 'no-store',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        ...(length !== undefined ? { 'Content-Length': length } : {}),
      });
      if (typeof body === 'string') res.end(body);
      else body.pipe(res);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const url = new URL(req.url ?? '/', 'http://localhost');
    let name = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    if (name === '') name = 'index.html';
    if (name === 'model.json') return send(200, json, TYPES['.json']);
    let file: string | undefined;
    if (name === 'model.onnx') file = modelFile;
    else {
      // Only plain file names directly inside a root: no traversal, no subfolders.
      const prefix = name.startsWith('ort/') ? 'ort/' : '';
      const base = name.slice(prefix.length);
      if (/^[\w.-]+$/.test(base) && !base.startsWith('.')) file = path.join(roots[prefix]!, base);
    }
    if (file === undefined) return send(404, 'not found');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) return send(404, 'not found');
      const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
      if (req.method === 'HEAD') return send(200, '', type, stat.size);
      send(200, fs.createReadStream(file), type, stat.size);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs `demo` until SIGINT/SIGTERM; bad flags are UsageErrors (exit status 2). */
export async function runDemo(flags: Flags): Promise<number> {
  if (typeof flags.checkpoint !== 'string') throw new UsageError('demo: --checkpoint FILE is required');
  const portRange = 'an integer in [0, 65535]';
  const port = digits(flags, 'port', portRange) ?? 8080;
  if (port > 65535) throw new UsageError(`--port: expected ${portRange}, got '${String(flags.port)}'`);
  const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
  ortWebDir();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'align-detr-demo-'));
  try {
    const model = await AlignDetr.load(flags.checkpoint);
    const modelFile = path.join(dir, 'model.onnx');
    try {
      await model.exportOnnx(modelFile, { postprocess: true });
    } finally {
      model.dispose();
    }
    const server = await startDemoServer(modelFile, { categories: model.categories }, port, host);
    console.log(`serving the demo at ${server.url} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
  return 0;
}
