/**
 * Whether objects can be garbage collected: a forced full GC, then WeakRef.deref().
 *
 * For tests of "this structure no longer keeps X reachable". `--expose-gc` is set at run time
 * (v8.setFlagsFromString) and `gc` taken from a fresh context, so tests need no node flags. A
 * WeakRef's target stays alive until the job that made or read it ends, so the check waits a
 * macrotask before collecting. Deterministic for objects nothing reaches: a full GC collects them.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Resolves with how many of `refs` still point at a live object after a full GC. */
export async function liveAfterGc(refs: readonly WeakRef<object>[]): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}
