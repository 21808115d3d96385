// Padding masks in the graph (native/model/masking.*). A map after k stride-2 halvings of an
// H×W batch is ⌈H/2^k⌉×⌈W/2^k⌉, and the valid part of an image of valid size (h, w) in it is
// ⌈h/2^k⌉×⌈w/2^k⌉; a position past either is padding. Masks depend only on sizes, so they are
// built once per resolution from the batch's shape and the valid sizes.
import type { GraphBuilder, Value } from './graph';

/** [B, 2] or [2] int64 sizes after `halvings` halvings: ⌈v / 2^halvings⌉. */
export function sizesAt(g: GraphBuilder, sizes: Value, halvings: number): Value {
  const f = 2 ** halvings;
  return g.div(g.add(sizes, g.ints([f - 1], [])), g.ints([f], []));
}

export class MaskSource {
  readonly #g: GraphBuilder;
  readonly #validSizes: Value;
  readonly #batchSize: Value;
  readonly #bool = new Map<number, Value>();
  readonly #float = new Map<number, Value>();

  /** `images` [B, C, H, W]; `validSizes` [B, 2] int64 (h, w). */
  constructor(g: GraphBuilder, images: Value, validSizes: Value) {
    this.#g = g;
    this.#validSizes = validSizes;
    this.#batchSize = g.op1('Shape', [images], { start: 2, end: 4 });
  }

  /** Bool [B, H_k, W_k], true = padding, after `halvings` halvings. */
  padding(halvings: number): Value {
    const known = this.#bool.get(halvings);
    if (known !== undefined) return known;
    const g = this.#g;
    const size = sizesAt(g, this.#batchSize, halvings); // [2]
    const valid = sizesAt(g, this.#validSizes, halvings); // [B, 2]
    const zero = g.ints([0], []);
    const one = g.ints([1], []);
    const rows = g.reshape(g.op1('Range', [zero, g.squeeze(g.slice(size, [0], [1], [0]), [0]), one]), [1, -1, 1]);
    const cols = g.reshape(g.op1('Range', [zero, g.squeeze(g.slice(size, [1], [2], [0]), [0]), one]), [1, 1, -1]);
    const h = g.reshape(g.select(valid, 1, 0), [-1, 1, 1]);
    const w = g.reshape(g.select(valid, 1, 1), [-1, 1, 1]);
    const mask = g.op1('Or', [g.op1('GreaterOrEqual', [rows, h]), g.op1('GreaterOrEqual', [cols, w])]);
    this.#bool.set(halvings, mask);
    return mask;
  }

  /** Float [B, 1, H_k, W_k]: 1 inside the image, 0 in the padding. */
  valid(halvings: number): Value {
    const known = this.#float.get(halvings);
    if (known !== undefined) return known;
    const g = this.#g;
    const mask = g.unsqueeze(g.cast(g.op1('Not', [this.padding(halvings)]), 'float32'), [1]);
    this.#float.set(halvings, mask);
    return mask;
  }
}
