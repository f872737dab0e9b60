/**
 * Assertions for our own invariants. A failed assertion is a bug in raftmq, never an operating
 * error: it throws AssertionError and is never caught (STYLE.md §4). Operating errors (bad input,
 * dead peer, full disk) are RaftmqError values instead, see errors.ts.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new AssertionError(what);
}

/** Marks a switch as exhaustive: the compiler proves `value` is `never`, the runtime double-checks. */
export function unreachable(value: never, what: string): never {
  throw new AssertionError(`${what}: unexpected ${JSON.stringify(value)}`);
}
