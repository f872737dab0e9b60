/**
 * Progress: what a leader knows about one follower's log (etcd-io/raft tracker/progress.go).
 *
 *            +--------------------------------------------------------+
 *            |                 reject / stall / snapshot done          |
 *            v                                                         |
 *        +-------+  ack advances match   +-----------+  next compacted  +----------+
 *        | probe | --------------------> | replicate | ---------------> | snapshot |
 *        +-------+                       +-----------+                  +----------+
 *            |  next compacted away                                         ^
 *            +-------------------------------------------------------------+
 *
 * probe:     one AppendEntries at a time (paused until an answer or the next heartbeat), used
 *            while we search for the match point or after the follower looked unreachable.
 * replicate: pipelining; nextIndex advances optimistically, bounded by `inflights`.
 * snapshot:  an InstallSnapshot is outstanding; nothing else is sent until it is answered or
 *            times out.
 *
 * Invariant: matchIndex < nextIndex. matchIndex never decreases within a leader's term.
 */
import { assert } from "../util/assert";
import { Inflights } from "./inflights";

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  matchIndex = 0;
  nextIndex: number;
  state: ProgressState = "probe";
  /** probe: an AppendEntries is outstanding; wait for an answer or the next heartbeat. */
  probeSent = false;
  /** snapshot: the snapshot index sent; ticks since it was sent. */
  pendingSnapshotIndex = 0;
  snapshotElapsedTicks = 0;
  /** Heard from within the current check-quorum window. */
  recentActive = false;
  /** replicate: leader ticks without matchIndex moving while behind (lost messages suspected). */
  stallTicks = 0;
  readonly inflights: Inflights;

  constructor(nextIndex: number, maxInflightMsgs: number) {
    assert(nextIndex >= 1, "nextIndex >= 1");
    this.nextIndex = nextIndex;
    this.inflights = new Inflights(maxInflightMsgs);
  }

  becomeProbe(): void {
    // After a snapshot, continue right after it; otherwise right after the known match.
    const next = this.state === "snapshot" ? Math.max(this.matchIndex, this.pendingSnapshotIndex) + 1 : this.matchIndex + 1;
    this.reset("probe");
    this.nextIndex = next;
  }

  becomeReplicate(): void {
    this.reset("replicate");
    this.nextIndex = this.matchIndex + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.reset("snapshot");
    this.pendingSnapshotIndex = snapshotIndex;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.snapshotElapsedTicks = 0;
    this.stallTicks = 0;
    this.inflights.reset();
  }

  /** An acknowledgement up to `index`; false when it tells us nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.matchIndex) {
      this.matchIndex = index;
      updated = true;
      this.probeSent = false;
      this.stallTicks = 0;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    return updated;
  }

  /** We sent entries up to lastIndex. */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    } else {
      assert(false, "sentEntries in snapshot state");
    }
  }

  /** May the leader send an AppendEntries now? */
  paused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  checkInvariants(): void {
    assert(this.matchIndex < this.nextIndex, "progress: matchIndex < nextIndex");
    assert(this.state === "snapshot" || this.pendingSnapshotIndex === 0, "progress: pendingSnapshotIndex only in snapshot state");
    assert(this.state === "replicate" || this.inflights.count() === 0, "progress: inflights only in replicate state");
  }
}
