/**
 * Rebuilds the log and hard state from WAL records, in the order they were written (pure).
 *
 * The WAL is append-only; the log it describes is obtained by replaying:
 *   - Entry i: i must be <= last + 1. If i <= last, a leader overwrote a conflicting suffix
 *     (§5.3): entries >= i are dropped, then i is appended. This is how truncation is made
 *     durable with a single appended record.
 *   - HardState: replaces the previous one (term never decreases).
 *   - SnapshotMarker (index S, term T), written when a leader's snapshot was installed (§7): if
 *     the log holds S with term T, entries <= S are dropped and the suffix kept; otherwise the
 *     whole log is discarded. Either way the log continues at S + 1.
 *   - SegmentStart: the first record of each segment; its floorIndex (the log's last index when
 *     the segment began) lets replay start at a segment whose predecessors were deleted by
 *     compaction, and is cross-checked against the replayed log otherwise.
 *
 * finish(snapshot) then checks the log joins the chosen snapshot without a gap and drops
 * entries <= snapshot.index, applying the §7 rule once more for a snapshot that reached disk
 * without its marker (a crash between the two).
 */
import type { HardState, LogEntry, Snapshot } from "../raft/types";
import { WalDecodeError, type IndexTerm, type SegmentStart } from "./wal-records";

export const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: 0 };

export class LogReplay<T extends IndexTerm = LogEntry> {
  /** Invariant: contiguous indexes, non-decreasing terms. */
  private entries: T[] = [];
  /** The log's last index while `entries` is empty. */
  private floorIndex = 0;
  private started = false;
  hardState: HardState = EMPTY_HARD_STATE;

  firstIndex(): number {
    return this.entries.length > 0 ? this.entries[0]!.index : this.floorIndex + 1;
  }

  lastIndex(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : this.floorIndex;
  }

  termAt(index: number): number | undefined {
    const first = this.firstIndex();
    if (index < first || index > this.lastIndex()) return undefined;
    return this.entries[index - first]!.term;
  }

  segmentStart(start: SegmentStart): void {
    if (!this.started) {
      this.started = true;
      this.floorIndex = start.floorIndex;
      return;
    }
    if (start.floorIndex !== this.lastIndex()) {
      throw new WalDecodeError(`segment ${start.segmentSeq} starts at floor ${start.floorIndex} but the log ends at ${this.lastIndex()}`);
    }
  }

  entry(entry: T): void {
    this.requireStarted();
    const last = this.lastIndex();
    if (entry.index > last + 1) throw new WalDecodeError(`entry ${entry.index} leaves a gap after ${last}`);
    if (entry.index <= last) this.truncateFrom(entry.index);
    const previous = this.entries[this.entries.length - 1];
    if (previous !== undefined && previous.term > entry.term) {
      throw new WalDecodeError(`entry ${entry.index} has term ${entry.term} below its predecessor's ${previous.term}`);
    }
    if (this.entries.length === 0) this.floorIndex = entry.index - 1;
    this.entries.push(entry);
  }

  recordHardState(hardState: HardState): void {
    this.requireStarted();
    if (hardState.term < this.hardState.term) {
      throw new WalDecodeError(`hard state term ${hardState.term} below the previous ${this.hardState.term}`);
    }
    this.hardState = hardState;
  }

  marker(marker: IndexTerm): void {
    this.requireStarted();
    this.installAt(marker);
  }

  /**
   * Joins the log to `snapshot` (null: the log must start at index 1). Returns the entries after
   * it, or a reason when the log does not reach back to snapshot.index + 1.
   */
  finish(snapshot: IndexTerm | null): { ok: true; entries: T[] } | { ok: false; reason: string } {
    const base = snapshot?.index ?? 0;
    if (this.firstIndex() > base + 1) {
      return { ok: false, reason: `log starts at ${this.firstIndex()}, snapshot covers only through ${base}` };
    }
    if (snapshot !== null) this.installAt(snapshot);
    return { ok: true, entries: this.entries };
  }

  private installAt(at: IndexTerm): void {
    // The log already starts after `at` (at.index === first - 1 joins it exactly; lower indexes
    // are refused by finish() as a gap and never written as markers).
    if (at.index < this.firstIndex()) return;
    if (this.termAt(at.index) === at.term) {
      this.entries = this.entries.slice(at.index - this.firstIndex() + 1);
      if (this.entries.length === 0) this.floorIndex = at.index;
      return;
    }
    this.entries = [];
    this.floorIndex = at.index;
  }

  private truncateFrom(index: number): void {
    const first = this.firstIndex();
    if (index <= first) {
      this.entries = [];
      return;
    }
    this.entries.length = index - first;
  }

  private requireStarted(): void {
    if (!this.started) throw new WalDecodeError("record before the segment start record");
  }
}

/**
 * A snapshot holds only committed state, so commitIndex rises to its index. The term rises to
 * the snapshot's term too: a leader's snapshot file is made durable before the WAL flush that
 * carries the same Ready's hard state, so a crash between the two leaves a snapshot of a term the
 * durable hard state never reached (and RaftCore refuses a term below its last log term). No vote
 * in that term can have been sent: it would have been durable first, and the hard state would
 * hold it. So the raised term starts with no vote.
 */
export function raiseToSnapshot(walHardState: HardState, snapshot: Snapshot | null): HardState {
  const commitIndex = Math.max(walHardState.commitIndex, snapshot?.meta.index ?? 0);
  const snapshotTerm = snapshot?.meta.term ?? 0;
  if (snapshotTerm > walHardState.term) return { term: snapshotTerm, votedFor: null, commitIndex };
  return { ...walHardState, commitIndex };
}
