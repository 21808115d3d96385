// The CLI's parsed flags and the readers every command uses on them; a bad value is a
// UsageError (exit status 2, with the usage hint).
export type Flags = Record<string, string | boolean | undefined>;

export class UsageError extends Error {}

/** A number flag (`fallback` when absent): positive, or non-negative with `allowZero`; an integer with `integer`. */
export function num(flags: Flags, key: string, fallback: number, integer = false, allowZero = false): number {
  const v = flags[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0 || (n === 0 && !allowZero)) {
    throw new UsageError(`--${key}: expected a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got '${v}'`);
  }
  return n;
}

/** A string flag with a value, or undefined when absent. */
export function str(flags: Flags, key: string): string | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${key}: expected a value`);
  return v;
}

/** A flag of decimal digits only (no sign, exponent or fraction), or undefined when absent. */
export function digits(flags: Flags, key: string, expected = 'a positive integer'): number | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${key}: expected ${expected}, got '${String(v)}'`);
  }
  return n;
}
