/**
 * When RaftNode takes a snapshot (pure).
 *
 * A snapshot writes the queue's whole state, so its cost grows with the queue, while the log it
 * lets go of grows with the traffic. Taken every N entries, a long queue is written out again
 * and again: with 1M messages of 64 B queued, a 72 MiB snapshot per 100,000 enqueues is 0.75 KiB
 * written per 64 B enqueued, on top of the WAL, and ten times that with 10M queued. So a snapshot
 * waits, past `entries`, until the log data applied since the last one is at least `logFraction`
 * of the last snapshot's size: snapshots then write at most 1 / logFraction bytes per byte of
 * log, however long the queue. The price is memory and disk: the log kept (packed in memory, in
 * the WAL on disk) grows to logFraction of the queue's size, and to `maxLogBytes` at most, which
 * forces a snapshot whatever the other two say.
 *
 * Contract: snapshotDue is false when nothing was applied since the last snapshot.
 */
import { RaftmqError } from "../util/errors";

export interface SnapshotPolicy {
  /** At least this many entries applied since the last snapshot (>= 1). */
  readonly entries: number;
  /** ... and log data of at least this fraction of the last snapshot's bytes (0: no such rule). */
  readonly logFraction: number;
  /** A snapshot is due once this much log data was applied since the last one, whatever the rules above say. */
  readonly maxLogBytes: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = Object.freeze({
  entries: 100_000,
  logFraction: 0.25,
  maxLogBytes: 256 * 1024 * 1024,
});

export interface SnapshotProgress {
  /** Entries applied since the last snapshot. */
  entriesSince: number;
  /** Bytes of entry data applied since the last snapshot. */
  logBytesSince: number;
  /** Size of the last snapshot (0: none). */
  snapshotBytes: number;
}

export function validateSnapshotPolicy(policy: SnapshotPolicy): SnapshotPolicy {
  const bad = (key: keyof SnapshotPolicy, why: string): never => {
    throw new RaftmqError("CONFIG_INVALID", `snapshot policy: ${key} ${why}`, { details: { [key]: policy[key] } });
  };
  if (!Number.isSafeInteger(policy.entries) || policy.entries < 1) bad("entries", "must be a positive integer");
  if (!Number.isSafeInteger(policy.maxLogBytes) || policy.maxLogBytes < 1) bad("maxLogBytes", "must be a positive integer");
  if (!Number.isFinite(policy.logFraction) || policy.logFraction < 0 || policy.logFraction > 100) {
    bad("logFraction", "must be a number from 0 to 100");
  }
  return policy;
}

export function snapshotDue(progress: SnapshotProgress, policy: SnapshotPolicy): boolean {
  if (progress.entriesSince <= 0) return false;
  if (progress.logBytesSince >= policy.maxLogBytes) return true;
  return progress.entriesSince >= policy.entries && progress.logBytesSince >= progress.snapshotBytes * policy.logFraction;
}
