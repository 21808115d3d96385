// Box access for tests: flat arrays hold 4 numbers per box.
/** The k-th box of a flat array of 4 numbers per box (the index must be in range). */
export function boxAt(boxes: ArrayLike<number>, k: number): [number, number, number, number] {
  return [boxes[4 * k]!, boxes[4 * k + 1]!, boxes[4 * k + 2]!, boxes[4 * k + 3]!];
}
