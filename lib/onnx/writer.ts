// Serialises the graph as an ONNX ModelProto (onnx-proto's protobufjs encoder) and writes it
// atomically: the bytes go to `<path>.tmp-<pid>-<n>`, are flushed, and the temporary is renamed
// over `path`; on any failure the temporaries are removed and nothing appears under the name.
// When the weights exceed `externalDataThreshold` bytes (protobuf caps a message at 2 GiB), the
// large ones go to `<path>.data` as ONNX external data (4 KiB-aligned), written the same way
// and renamed before the model.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import type { GraphBuilder, Initializer } from './graph';

/** Default external-data threshold: 2 GiB less a margin for the graph itself. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 26;
/** Tensors at least this large go to the external file when there is one. */
const EXTERNAL_MIN_BYTES = 1024;
const ALIGN = 4096;

export interface ModelInfo {
  producerVersion: string;
  graphName: string;
  metadata: Record<string, string>;
}

/** The IR version that goes with an opset (onnx/helper.py's table). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function bytesOf(init: Initializer): Uint8Array {
  return new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
}

const DTYPE = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64 };

/** Encodes the model; `external` receives the large tensors' bytes (then referenced by `location`). */
function encodeModel(g: GraphBuilder, info: ModelInfo, external?: { location: string; chunks: Uint8Array[] }): Uint8Array {
  let offset = 0;
  const initializer = g.initializers.map((init): onnx.ITensorProto => {
    const bytes = bytesOf(init);
    const base = { name: init.name, dims: init.dims, dataType: DTYPE[init.type] };
    if (external === undefined || bytes.byteLength < EXTERNAL_MIN_BYTES) return { ...base, rawData: bytes };
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad > 0) external.chunks.push(new Uint8Array(pad));
    offset += pad;
    external.chunks.push(bytes);
    const entry = {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ],
    };
    offset += bytes.byteLength;
    return entry;
  });
  const model: onnx.IModelProto = {
    irVersion: irVersionFor(g.opset),
    opsetImport: [{ domain: '', version: g.opset }],
    producerName: 'align-detr',
    producerVersion: info.producerVersion,
    graph: { name: info.graphName, node: g.nodes, initializer, input: g.inputs, output: g.outputs },
    metadataProps: Object.entries(info.metadata).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

let temporaries = 0;

async function writeTemporary(target: string, chunks: Uint8Array[]): Promise<string> {
  const temp = `${target}.tmp-${process.pid}-${temporaries++}`;
  const handle = await fs.promises.open(temp, 'wx');
  try {
    for (const chunk of chunks) await handle.write(chunk);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.promises.rm(temp, { force: true });
    throw e;
  }
  await handle.close();
  return temp;
}

function writeError(target: string, e: unknown): Error {
  const reason = (e as NodeJS.ErrnoException)?.code !== undefined ? (e as Error).message : String(e);
  return new Error(`path: cannot write ${target}: ${reason}`, { cause: e });
}

/**
 * Writes the model to `target`. Returns the files written (the model, then the external data
 * file when there is one).
 */
export async function writeModel(g: GraphBuilder, info: ModelInfo, target: string, externalDataThreshold: number): Promise<string[]> {
  const weightBytes = g.initializers.reduce((n, init) => n + init.data.byteLength, 0);
  const dataFile = `${target}.data`;
  const external = weightBytes > externalDataThreshold ? { location: path.basename(dataFile), chunks: [] as Uint8Array[] } : undefined;
  const model = encodeModel(g, info, external);
  const temps: string[] = [];
  let dataRenamed = false;
  try {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const dataTemp = external ? await writeTemporary(dataFile, external.chunks) : undefined;
    if (dataTemp) temps.push(dataTemp);
    const modelTemp = await writeTemporary(target, [model]);
    temps.push(modelTemp);
    if (dataTemp) {
      await fs.promises.rename(dataTemp, dataFile);
      dataRenamed = true;
    }
    await fs.promises.rename(modelTemp, target);
  } catch (e) {
    await Promise.all(temps.map((t) => fs.promises.rm(t, { force: true })));
    if (dataRenamed) await fs.promises.rm(dataFile, { force: true });
    throw writeError(target, e);
  }
  return external ? [target, dataFile] : [target];
}
