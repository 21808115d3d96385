// The inference ends of the graph (native/model/inference.*): uint8 HWC RGB in → normalised
// NCHW (docs/numerical-contract.md §A.1), and the final layer's predictions → the top-K detections in input pixels
// (§F): top-K of sigmoid scores over queries × classes, boxes to pixels and clipped,
// detections whose clipped box is empty moved to the end with score 0.
import type { GraphBuilder, Value } from './graph';

const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];

/** uint8 [N, H, W, 3] → float [N, 3, H, W], (x − mean) / std. */
export function emitPreprocess(g: GraphBuilder, images: Value): Value {
  const chw = g.transpose(g.cast(images, 'float32'), [0, 3, 1, 2]);
  return g.div(g.sub(chw, g.floats(MEAN, [1, 3, 1, 1])), g.floats(STD, [1, 3, 1, 1]));
}

export interface PostprocessSpec {
  numClasses: number;
  numQueries: number;
  selectTopK: number;
  maxDetections: number;
  categoryIds: number[];
}

/** scores [N, K], labels [N, K] (category ids), boxes [N, K, 4] (x, y, w, h in input pixels). */
export function emitPostprocess(g: GraphBuilder, logits: Value, boxes: Value, image: Value, spec: PostprocessSpec): { scores: Value; labels: Value; boxes: Value } {
  return g.scoped('postprocess', () => {
    const c = spec.numClasses;
    const k = Math.min(spec.selectTopK, spec.numQueries * c);
    const prob = g.reshape(g.sigmoid(logits), [0, -1]);
    const [top, index] = g.op2('TopK', [prob, g.ints([k])], { axis: 1, largest: 1, sorted: 1 }); // [N, k]
    const query = g.div(index, g.ints([c], []));
    const label = g.op1('Mod', [index, g.ints([c], [])]);
    const gatherIndex = g.op1('Expand', [g.unsqueeze(query, [2]), g.concat([g.op1('Shape', [query]), g.ints([4])], 0)]);
    const picked = g.op1('GatherElements', [boxes, gatherIndex], { axis: 1 }); // [N, k, 4] cxcywh
    const coord = (i: number) => g.select(picked, 2, i);
    const halfW = g.mul(coord(2), g.scalar(0.5));
    const halfH = g.mul(coord(3), g.scalar(0.5));
    const hw = g.cast(g.op1('Shape', [image], { start: 2, end: 4 }), 'float32'); // (H, W)
    const h = g.slice(hw, [0], [1], [0]);
    const w = g.slice(hw, [1], [2], [0]);
    const clip = (v: Value, hi: Value) => g.op1('Min', [g.op1('Max', [v, g.scalar(0)]), hi]);
    const x1 = clip(g.mul(g.sub(coord(0), halfW), w), w);
    const y1 = clip(g.mul(g.sub(coord(1), halfH), h), h);
    const x2 = clip(g.mul(g.add(coord(0), halfW), w), w);
    const y2 = clip(g.mul(g.add(coord(1), halfH), h), h);
    const bw = g.sub(x2, x1);
    const bh = g.sub(y2, y1);
    const keep = g.op1('And', [g.op1('Greater', [bw, g.scalar(0)]), g.op1('Greater', [bh, g.scalar(0)])]);
    // Kept detections first, in score order (TopK keeps the first pass's order among equals).
    const [, order] = g.op2('TopK', [g.where(keep, top, g.scalar(-1)), g.ints([spec.maxDetections])], { axis: 1, largest: 1, sorted: 1 });
    const take = (v: Value) => g.op1('GatherElements', [v, order], { axis: 1 });
    const scores = g.where(take(keep), take(top), g.scalar(0));
    const labels = g.op1('Gather', [g.ints(spec.categoryIds), take(label)], { axis: 0 });
    const xywh = [x1, y1, bw, bh].map((v) => g.unsqueeze(take(v), [2]));
    return { scores, labels, boxes: g.concat(xywh, 2) };
  });
}
