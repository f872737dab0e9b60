/**
 * Whole-buffer snapshots of the queue state (format in snapshot-format.ts), for tests and small
 * states. The runtime never builds one: it writes encodeSnapshotChunks() (snapshot-encoder.ts)
 * to a file chunk by chunk and restores through SnapshotDecoder (snapshot-decoder.ts); these two
 * functions are those, with all chunks in one buffer.
 *
 * Contract: encoding is deterministic (equal states give equal bytes). Decoding checks the
 * checksum and every length, then every state invariant a snapshot can break, and throws
 * RaftmqError SNAPSHOT_CORRUPT (or CONFIG_INVALID for different limits); it never returns a
 * state that would fail checkInvariants().
 */
import { assert } from "../util/assert";
import type { QueueLimits } from "./limits";
import type { QueueState } from "./queue-state";
import { SnapshotDecoder } from "./snapshot-decoder";
import { encodeSnapshotChunks, snapshotTotalBytes } from "./snapshot-encoder";

export { SNAPSHOT_FORMAT_VERSION } from "./snapshot-format";

export function encodeSnapshot(state: QueueState, limits: QueueLimits): Uint8Array {
  const totalBytes = snapshotTotalBytes(state);
  const chunks = [...encodeSnapshotChunks(state, limits, totalBytes)];
  assert(chunks.length === 1, "a chunk of totalBytes holds the whole snapshot");
  return chunks[0]!;
}

/** Decodes and validates a snapshot into a fresh state (the caller's state is untouched). */
export function decodeSnapshot(bytes: Uint8Array, limits: QueueLimits): QueueState {
  const decoder = new SnapshotDecoder(limits);
  decoder.push(bytes);
  return decoder.finish();
}
