// AbortSignal support of the async methods (AlignDetr.create / load / predict,
// Trainer.evaluate). Native work cannot be interrupted once queued: an abort settles the
// caller's promise at once with the signal's reason, and the native result, when it arrives,
// is handed to a discard function (a model handle is disposed) instead of the caller.

/** The `signal` option: undefined, or an AbortSignal (TypeError "<name>: expected an AbortSignal" otherwise). */
export function checkSignal(signal: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new TypeError(`${name}: expected an AbortSignal`);
  return signal;
}

/**
 * Settles as `work` does, unless `signal` aborts first: then it rejects at once with
 * `signal.reason`, and `work`'s value (when it comes) goes to `discard` and its error nowhere.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, discard?: (late: T) => void): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (!aborted) {
          resolve(value);
          return;
        }
        try {
          discard?.(value);
        } catch {
          // nothing is waiting for the late result any more
        }
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!aborted) reject(err);
      },
    );
  });
}

/** Keeps the promises of native work in flight, so an async dispose can wait for them. */
export class InFlight {
  readonly #pending = new Set<Promise<unknown>>();

  /** Registers `work` until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#pending.add(work);
    const done = (): void => {
      this.#pending.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /**
   * Resolves once nothing is in flight (work started meanwhile included) and the continuations
   * of what finished (the methods' own awaits, callers' callbacks) have run; never rejects.
   */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#pending.size > 0) {
        await Promise.allSettled([...this.#pending]);
        continue;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#pending.size === 0) return;
    }
  }
}
