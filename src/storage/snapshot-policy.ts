/**
 * When to take an application snapshot (pure). The runtime calls snapshotDue() after applying
 * entries; when it returns true it asks src/queue for its state and calls storage.compact().
 * A snapshot is due when enough entries OR enough log bytes accumulated since the last one.
 */
import { RaftmqError } from "../util/errors";

export interface SnapshotPolicy {
  /** Take a snapshot once this many entries were applied since the last one (>= 1). */
  entriesSinceSnapshotMax: number;
  /** ... or once the WAL grew by this many bytes since the last one (>= 1). */
  bytesSinceSnapshotMax: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = {
  entriesSinceSnapshotMax: 100_000,
  bytesSinceSnapshotMax: 256 * 1024 * 1024,
};

export interface SnapshotProgress {
  lastApplied: number;
  snapshotIndex: number;
  /** WAL bytes written since the last snapshot (FileStorage.stats().bytesSinceSnapshot). */
  bytesSinceSnapshot: number;
}

export function validateSnapshotPolicy(policy: SnapshotPolicy): SnapshotPolicy {
  for (const key of ["entriesSinceSnapshotMax", "bytesSinceSnapshotMax"] as const) {
    const value = policy[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RaftmqError("CONFIG_INVALID", `snapshot policy ${key} must be a positive integer`, { details: { [key]: value } });
    }
  }
  return policy;
}

export function snapshotDue(progress: SnapshotProgress, policy: SnapshotPolicy): boolean {
  if (progress.lastApplied <= progress.snapshotIndex) return false;
  if (progress.lastApplied - progress.snapshotIndex >= policy.entriesSinceSnapshotMax) return true;
  return progress.bytesSinceSnapshot >= policy.bytesSinceSnapshotMax;
}
