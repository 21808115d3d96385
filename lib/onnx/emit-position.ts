// Sine position encodings (native/model/position_encoding.*): the 2-D map encoding of the
// encoder tokens (from the padding mask) and the 4-D box encoding of the decoder queries.
import type { GraphBuilder, Value } from './graph';

const TWO_PI = 2 * Math.PI;

/** 10000^(2·⌊i/2⌋/n), i = 0..n−1, as the native float32 computation gives it. */
function frequencies(n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.fround(10000 ** Math.fround(Math.fround(2 * Math.floor(i / 2)) / n)));
}

/** Angles [..., n] → [sin a0, cos a1, sin a2, cos a3, ...] (exact: multiplied by 0/1 masks). */
function interleaveSinCos(g: GraphBuilder, angles: Value, n: number): Value {
  const even = g.floats(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0)));
  const odd = g.floats(Array.from({ length: n }, (_, i) => (i % 2 === 1 ? 1 : 0)));
  return g.add(g.mul(g.op1('Sin', [angles]), even), g.mul(g.op1('Cos', [angles]), odd));
}

/** Map encoding of a level from its padding mask [B, H, W] bool: [B, H·W, 2n] (y features first). */
export function sineMapEncoding(g: GraphBuilder, paddingMask: Value, n: number): Value {
  return g.scoped('pos', () => {
    const notMask = g.cast(g.op1('Not', [paddingMask]), 'float32');
    const ny = g.op1('CumSum', [notMask, g.ints([1], [])]);
    const nx = g.op1('CumSum', [notMask, g.ints([2], [])]);
    const eps = g.scalar(1e-6);
    const half = g.scalar(0.5);
    const twoPi = g.scalar(TWO_PI);
    const last = (t: Value, axis: number) => g.slice(t, [-1], [Number.MAX_SAFE_INTEGER], [axis]);
    const y = g.mul(g.div(g.sub(ny, half), g.add(last(ny, 1), eps)), twoPi);
    const x = g.mul(g.div(g.sub(nx, half), g.add(last(nx, 2), eps)), twoPi);
    const dimT = g.floats(frequencies(n));
    const posY = interleaveSinCos(g, g.div(g.unsqueeze(y, [3]), dimT), n);
    const posX = interleaveSinCos(g, g.div(g.unsqueeze(x, [3]), dimT), n);
    return g.reshape(g.concat([posY, posX], 3), [0, -1, 2 * n]);
  });
}

/** Box encoding of [..., 4] (cx, cy, w, h): [..., 4n] in the order y, x, w, h. */
export function sineBoxEncoding(g: GraphBuilder, boxes: Value, n: number): Value {
  return g.scoped('pos', () => {
    const dimT = g.floats(frequencies(n));
    const enc = (coord: number) => interleaveSinCos(g, g.div(g.mul(g.unsqueeze(g.select(boxes, -1, coord), [-1]), g.scalar(TWO_PI)), dimT), n);
    return g.concat([enc(1), enc(0), enc(2), enc(3)], -1);
  });
}
