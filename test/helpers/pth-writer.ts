// A writer of PyTorch `.pth` files for tests: a pickle assembled opcode by opcode (protocol 2,
// as torch.save writes) and zipped as torch.save zips (entries stored, under one archive folder,
// with a version record). Used to craft hostile files (pth-hostile.test.ts) and small detrex-style
// state dicts (memory-fusion.test.ts) without Python.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

// ---- pickle opcodes ----

export const op = (...bytes: number[]): Buffer => Buffer.from(bytes);
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
export const str = (s: string | Buffer): Buffer => {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return cat(op(0x58), u32(bytes.length), bytes); // BINUNICODE
};
export function int(n: number | bigint): Buffer {
  const v = BigInt(n);
  if (v >= 0n && v < 256n) return op(0x4b, Number(v)); // BININT1
  if (v >= -(2n ** 31n) && v < 2n ** 31n) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(Number(v));
    return cat(op(0x4a), b); // BININT
  }
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(v);
  return cat(op(0x8a, 8), b); // LONG1
}
export const global = (module: string, name: string): Buffer => Buffer.from(`c${module}\n${name}\n`, 'latin1');
export const MARK = op(0x28);
export const tuple = (...items: Buffer[]): Buffer => cat(MARK, ...items, op(0x74));
export const pickle = (...body: Buffer[]): Buffer => cat(op(0x80, 2), ...body, op(0x2e));
/** `{k: v, ...}` with SETITEMS. */
export const dict = (entries: [Buffer, Buffer][]): Buffer => cat(op(0x7d), MARK, ...entries.flat(), op(0x75));

export interface TensorRecord {
  key: string;
  numel: number;
  offset?: number | bigint;
  size: (number | bigint)[];
  stride: (number | bigint)[];
  storageType?: string;
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`. */
export function tensor(r: TensorRecord): Buffer {
  const storage = cat(tuple(str('storage'), global('torch', r.storageType ?? 'FloatStorage'), str(r.key), str('cpu'), int(r.numel)), op(0x51));
  return cat(
    global('torch._utils', '_rebuild_tensor_v2'),
    tuple(storage, int(r.offset ?? 0), tuple(...r.size.map(int)), tuple(...r.stride.map(int)), op(0x89), cat(global('collections', 'OrderedDict'), op(0x29), op(0x52))),
    op(0x52),
  );
}

export const floats = (values: number[]): Buffer => Buffer.from(Float32Array.from(values).buffer);

// ---- a zip as torch.save writes it ----

export interface Entry {
  name: string;
  data: Buffer;
  /** Deflate the entry (torch.save never does). */
  deflate?: boolean;
}

export function zip(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? zlib.deflateRawSync(e.data) : e.data;
    const fields = (b: Buffer, at: number): void => {
      b.writeUInt16LE(20, at); // version needed
      b.writeUInt16LE(0, at + 2); // flags
      b.writeUInt16LE(e.deflate ? 8 : 0, at + 4); // method
      b.writeUInt32LE(0x00210000, at + 6); // time, date (1980-01-01)
      b.writeUInt32LE(zlib.crc32(e.data), at + 10);
      b.writeUInt32LE(body.length, at + 14);
      b.writeUInt32LE(e.data.length, at + 18);
      b.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4); // version made by
    fields(cd, 6);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, end]);
}

/** Writes `file` holding `pkl` as data.pkl and `storages` as data/<key>. */
export function writePth(file: string, pkl: Buffer, storages: Record<string, Buffer> = {}, deflate = false): string {
  const entries: Entry[] = [{ name: 'archive/data.pkl', data: pkl }];
  for (const [key, data] of Object.entries(storages)) entries.push({ name: `archive/data/${key}`, data, deflate });
  entries.push({ name: 'archive/version', data: Buffer.from('3\n') });
  fs.writeFileSync(file, zip(entries));
  return file;
}

/** Writes an ordinary float32 state dict {name: tensor} (contiguous, one storage each), as torch.save(model.state_dict()). */
export function writeStateDict(file: string, tensors: Record<string, { data: Float32Array; shape: number[] }>): string {
  const entries: [Buffer, Buffer][] = [];
  const storages: Record<string, Buffer> = {};
  Object.entries(tensors).forEach(([name, t], i) => {
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    entries.push([str(name), tensor({ key: String(i), numel: t.data.length, size: t.shape, stride })]);
    storages[String(i)] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  });
  return writePth(file, pickle(dict(entries)), storages);
}
