// The ONNX graph under construction: nodes in topological order (every emitter appends after
// its inputs exist), initializers (weights and constants) and the graph's inputs and outputs.
// Values are referred to by name; `op` returns the names of a node's outputs. The messages are
// onnx-proto's (protobufjs) plain objects; lib/onnx/writer.ts encodes them.
import { onnx } from 'onnx-proto';

/** A value in the graph (the name of a node output, an initializer or a graph input). */
export type Value = string;

/** Attribute values a node may carry. */
export type AttrValue = number | string | number[] | { ints: number[] } | { float: number };

/** Element types the exporter uses. */
export type ElemType = 'float32' | 'int64' | 'uint8' | 'bool';

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/** A weight or constant stored with the graph. */
export interface Initializer {
  name: string;
  dims: number[];
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
}

export class GraphBuilder {
  readonly opset: number;
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  #counter = 0;
  #scope: string[] = [];
  #constants = new Map<string, Value>();
  #weights = new Set<string>();

  constructor(opset: number) {
    this.opset = opset;
  }

  /** Runs `body` with names prefixed by `name` (the module path), returning its result. */
  scoped<T>(name: string, body: () => T): T {
    this.#scope.push(name);
    try {
      return body();
    } finally {
      this.#scope.pop();
    }
  }

  /** A fresh value name in the current scope. */
  fresh(hint: string): Value {
    const prefix = this.#scope.length > 0 ? `${this.#scope.join('/')}/` : '';
    return `${prefix}${hint}_${this.#counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): Value {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Marks `value` as a graph output under `name` (an Identity renames it). */
  output(value: Value, name: string, type: ElemType, dims: Dim[]): void {
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `output/${name}` });
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Appends a node; returns its `outputs` output names. */
  op(opType: string, inputs: Value[], attrs: Record<string, AttrValue> = {}, outputs = 1): Value[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      input: inputs,
      output: names,
      name: names[0] ?? opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return names;
  }

  /** A node with one output. */
  op1(opType: string, inputs: Value[], attrs: Record<string, AttrValue> = {}): Value {
    return this.op(opType, inputs, attrs, 1)[0]!;
  }

  /** A node with two outputs. */
  op2(opType: string, inputs: Value[], attrs: Record<string, AttrValue> = {}): [Value, Value] {
    const [a, b] = this.op(opType, inputs, attrs, 2);
    return [a!, b!];
  }

  /**
   * A float32 weight under a state-dict-derived name. A module emitted more than once (the
   * decoder's shared ref_point_head) asks again under the same name and gets the same value.
   */
  weight(name: string, data: Float32Array, dims: number[]): Value {
    if (this.#weights.has(name)) return name;
    checkSize(name, data.length, dims);
    this.initializers.push({ name, dims, type: 'float32', data });
    this.#weights.add(name);
    return name;
  }

  /** A float32 constant, shared between identical requests. */
  floats(values: readonly number[] | Float32Array, dims: number[] = [values.length]): Value {
    const data = Float32Array.from(values);
    return this.constant('f', dims, data, () => this.weight(this.fresh('const_f'), data, dims));
  }

  /** An int64 constant, shared between identical requests. */
  ints(values: readonly number[], dims: number[] = [values.length]): Value {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.constant('i', dims, data, () => {
      const name = this.fresh('const_i');
      checkSize(name, data.length, dims);
      this.initializers.push({ name, dims, type: 'int64', data });
      return name;
    });
  }

  /** A scalar float32 constant (rank 0). */
  scalar(v: number): Value {
    return this.floats([v], []);
  }

  // ---- helpers for the most common nodes

  add(a: Value, b: Value): Value {
    return this.op1('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op1('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op1('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op1('Div', [a, b]);
  }
  relu(a: Value): Value {
    return this.op1('Relu', [a]);
  }
  sigmoid(a: Value): Value {
    return this.op1('Sigmoid', [a]);
  }
  reshape(a: Value, shape: number[] | Value): Value {
    return this.op1('Reshape', [a, Array.isArray(shape) ? this.ints(shape) : shape]);
  }
  transpose(a: Value, perm: number[]): Value {
    return this.op1('Transpose', [a], { perm: { ints: perm } });
  }
  unsqueeze(a: Value, axes: number[]): Value {
    return this.op1('Unsqueeze', [a, this.ints(axes)]);
  }
  squeeze(a: Value, axes: number[]): Value {
    return this.op1('Squeeze', [a, this.ints(axes)]);
  }
  concat(values: Value[], axis: number): Value {
    return this.op1('Concat', values, { axis });
  }
  cast(a: Value, to: ElemType): Value {
    return this.op1('Cast', [a], { to: ELEM[to] });
  }
  /** x[..., starts:ends] on `axes` (ends may exceed the size). */
  slice(a: Value, starts: number[] | Value, ends: number[] | Value, axes: number[]): Value {
    const s = Array.isArray(starts) ? this.ints(starts) : starts;
    const e = Array.isArray(ends) ? this.ints(ends) : ends;
    return this.op1('Slice', [a, s, e, this.ints(axes)]);
  }
  /** x.select(axis, index) (the axis removed). */
  select(a: Value, axis: number, index: number): Value {
    return this.op1('Gather', [a, this.ints([index], [])], { axis });
  }
  /** Shape of `a` along `axis`, as int64 [1]. */
  dim(a: Value, axis: number): Value {
    return this.op1('Shape', [a], { start: axis, end: axis + 1 });
  }
  /** ReduceSum over `axes` (axes as an input since opset 13). */
  reduceSum(a: Value, axes: number[], keepdims = true): Value {
    return this.op1('ReduceSum', [a, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  /** ReduceMax / ReduceMin / ReduceMean: axes an attribute before opset 18, an input from 18. */
  reduce(kind: 'ReduceMax' | 'ReduceMin' | 'ReduceMean', a: Value, axes: number[], keepdims = true): Value {
    if (this.opset >= 18) return this.op1(kind, [a, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op1(kind, [a], { axes: { ints: axes }, keepdims: keepdims ? 1 : 0 });
  }
  where(cond: Value, a: Value, b: Value): Value {
    return this.op1('Where', [cond, a, b]);
  }

  private constant(kind: string, dims: number[], data: Float32Array | BigInt64Array, make: () => Value): Value {
    const key = `${kind}:${dims.join(',')}:${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    if (data.length > 64) return make();
    const known = this.#constants.get(key);
    if (known !== undefined) return known;
    const name = make();
    this.#constants.set(key, name);
    return name;
  }
}

function checkSize(name: string, length: number, dims: number[]): void {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== length) throw new Error(`onnx export: ${name} has ${length} values for dims [${dims.join(', ')}]`);
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.FLOATS, floats: v };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.FLOAT, f: v.float };
}
