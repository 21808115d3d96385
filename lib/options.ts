// Option checks shared by the Trainer and the evaluator: unknown keys (with a suggestion) and
// bounded integers.

/** Levenshtein distance of two short strings. */
function editDistance(a: string, b: string): number {
  // Rows of the dynamic-programming table; every index below is within [0, b.length].
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** TypeError "<name>: unknown option 'key'; did you mean 'x'?" for the first key outside `known`. */
export function checkOptionKeys(options: object, name: string, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const [best, second] = known.map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) })).sort((x, y) => x.d - y.d);
    const hint = best && key.length <= 64 && best.d <= 2 && second?.d !== best.d ? `; did you mean '${best.k}'?` : '';
    throw new TypeError(`${name}: unknown option ${JSON.stringify(key).replace(/^"|"$/g, "'")}${hint}`);
  }
}

/** An optional integer option in [lo, hi]: TypeError for a non-number, RangeError otherwise. */
export function checkIntegerOption(value: unknown, name: string, lo: number, hi: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number') throw new TypeError(`${name}: expected an integer, got ${typeof value}`);
  if (!Number.isInteger(value) || value < lo || value > hi) throw new RangeError(`${name}: expected an integer in [${lo}, ${hi}], got ${value}`);
}
