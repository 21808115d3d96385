// Tensor: a typed handle to native (libtorch) memory.
//
// Data crosses the boundary by copy in both directions. A tensor's native memory is freed by
// `dispose()`, or by the garbage collector when the tensor becomes unreachable (the native
// handle's finalizer); dispose() is the way to free memory at a known point.
import { binding } from './binding';
import type { TensorHandle } from './binding';

/** Element types a Tensor can hold, by name. */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';

/** The TypedArray that holds each dtype's elements. */
export interface DataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
}

/** Any TypedArray a Tensor can be made from. */
export type TensorData = DataTypeMap[DType];

/** The dtype a TypedArray type maps to. */
export type DTypeOf<A extends TensorData> = A extends Float32Array
  ? 'float32'
  : A extends Float64Array
    ? 'float64'
    : A extends Int32Array
      ? 'int32'
      : A extends BigInt64Array
        ? 'int64'
        : 'uint8';

const handles = new WeakMap<Tensor, TensorHandle>();
// Assigned in Tensor's static block.
let wrapNative: <D extends DType>(handle: TensorHandle) => Tensor<D>;

/** @internal Wraps a native tensor handle returned by the addon (lib/ only; not exported from the package). */
export function wrapHandle<D extends DType = DType>(handle: TensorHandle): Tensor<D> {
  return wrapNative<D>(handle);
}

/** A dense CPU (or, when built with CUDA, GPU) tensor owned by libtorch. */
export class Tensor<D extends DType = DType> {
  private constructor(handle: TensorHandle) {
    handles.set(this, handle);
  }

  /**
   * Copies `data` into a new tensor of the given shape. The dtype follows the TypedArray
   * (Float32Array → 'float32', Float64Array → 'float64', Int32Array → 'int32',
   * BigInt64Array → 'int64', Uint8Array → 'uint8'); pass `dtype` to assert it.
   * @throws TypeError for an unsupported array or a dtype that does not match it;
   *         RangeError for negative or fractional dims or a shape whose size differs from data.length.
   */
  static from<A extends TensorData>(data: A, shape: readonly number[], dtype?: DTypeOf<A>): Tensor<DTypeOf<A>> {
    return new Tensor<DTypeOf<A>>(binding().TensorHandle.fromTypedArray(data, shape, dtype));
  }

  static {
    // The one way lib/ code turns a native handle into a Tensor; not part of the public class.
    wrapNative = <D extends DType>(handle: TensorHandle) => new Tensor<D>(handle);
  }

  /** Sizes of each dimension. */
  get shape(): number[] {
    return this.handle('shape').shape;
  }

  /** Element type. */
  get dtype(): D {
    return this.handle('dtype').dtype as D;
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** True once dispose() has run. */
  get disposed(): boolean {
    return handles.get(this)!.disposed;
  }

  /** A copy of the elements in row-major order. */
  toTypedArray(): DataTypeMap[D] {
    return this.handle('toTypedArray').toTypedArray() as DataTypeMap[D];
  }

  /**
   * A copy of this tensor with a new shape of the same element count; one dim may be -1 (inferred).
   * @throws RangeError for dims that are not integers >= -1; Error (libtorch's message) when the
   *         element counts differ.
   */
  reshape(shape: readonly number[]): Tensor<D> {
    return new Tensor<D>(this.handle('reshape').reshape(shape));
  }

  /** Frees the native memory now. Further use throws a TypeError; calling dispose() again is a no-op. */
  dispose(): void {
    handles.get(this)!.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return this.disposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape.join(', ')}])`;
  }

  private handle(what: string): TensorHandle {
    const h = handles.get(this)!;
    if (h.disposed) throw new TypeError(`tensor.${what}: Tensor has been disposed`);
    return h;
  }
}

/** @internal The native handle of a Tensor argument; TypeError naming `argName` otherwise. */
export function handleOf(value: unknown, argName: string): TensorHandle {
  const h = value instanceof Tensor ? handles.get(value) : undefined;
  if (!h) throw new TypeError(`${argName}: expected a Tensor, got ${describe(value)}`);
  if (h.disposed) throw new TypeError(`${argName}: Tensor has been disposed`);
  return h;
}

/** @internal A short description of a JS value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `${typeof value} ${String(value)}`;
}
