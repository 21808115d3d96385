// Narrowing for values the code's own invariants guarantee (an index within a checked length, a
// key just inserted) but the type checker cannot see under noUncheckedIndexedAccess. A miss is a
// bug in align-detr, not bad input, so it throws a plain internal Error.

/** Returns `value`, or throws an internal Error naming `what` when it is undefined. */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`align-detr internal error: ${what} is missing`);
  return value;
}
