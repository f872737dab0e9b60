/**
 * In-memory snapshot data: for hosts whose SnapshotData are plain bytes (the simulator, unit
 * tests, the wire conversion of a whole InstallSnapshot). Pure.
 */
import { assert } from "../util/assert";
import type { SnapshotData } from "./types";

/** The bytes of in-memory snapshot data; asserts that `data` is bytes (a host bug otherwise). */
export function snapshotBytes(data: SnapshotData): Uint8Array {
  assert(data instanceof Uint8Array, "snapshot data held in memory as bytes");
  return data;
}
