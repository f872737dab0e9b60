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
import { assert } from "../util/assert";
import { WalDecodeError, type IndexTerm, type SegmentStart } from "./wal-records";

export const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: 0 };

export class LogReplay<T extends IndexTerm = LogEntry> {
  /**
   * The replayed entries, kept only when asked for (recovery hands them to the core); FileStorage's
   * model of what its WAL holds needs only indexes and terms.
   * Invariant: entries[k].index === first + k, when kept.
   */
  private entries: T[] | null;
  /** The log is first..last; empty when last === first - 1 (last is then the floor). */
  private first = 1;
  private last = 0;
  /**
   * Terms as runs: runStart[k] is the first index whose term is runTerm[k]; both increase, the
   * first run may start before `first` (compaction), and there are no runs when the log is empty.
   * A term changes a handful of times per snapshot, so this costs next to nothing per entry.
   */
  private runStart: number[] = [];
  private runTerm: number[] = [];
  private started = false;
  hardState: HardState = EMPTY_HARD_STATE;

  constructor(options: { keepEntries: boolean } = { keepEntries: true }) {
    this.entries = options.keepEntries ? [] : null;
  }

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.last;
  }

  termAt(index: number): number | undefined {
    if (index < this.first || index > this.last) return undefined;
    // The last run starting at or before index (runs are few: scan from the end).
    let k = this.runStart.length - 1;
    while (this.runStart[k]! > index) k--;
    return this.runTerm[k];
  }

  segmentStart(start: SegmentStart): void {
    if (!this.started) {
      this.started = true;
      this.first = start.floorIndex + 1;
      this.last = start.floorIndex;
      return;
    }
    if (start.floorIndex !== this.lastIndex()) {
      throw new WalDecodeError(`segment ${start.segmentSeq} starts at floor ${start.floorIndex} but the log ends at ${this.lastIndex()}`);
    }
  }

  entry(entry: T): void {
    this.requireStarted();
    const last = this.last;
    if (entry.index > last + 1) throw new WalDecodeError(`entry ${entry.index} leaves a gap after ${last}`);
    if (entry.index <= last) this.truncateFrom(entry.index);
    const runs = this.runTerm.length;
    const previousTerm = runs === 0 ? undefined : this.runTerm[runs - 1]!;
    if (previousTerm !== undefined && previousTerm > entry.term) {
      throw new WalDecodeError(`entry ${entry.index} has term ${entry.term} below its predecessor's ${previousTerm}`);
    }
    if (runs === 0) this.first = entry.index;
    if (previousTerm !== entry.term) {
      this.runStart.push(entry.index);
      this.runTerm.push(entry.term);
    }
    this.last = entry.index;
    this.entries?.push(entry);
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
    assert(this.entries !== null, "finish() needs a replay that keeps its entries");
    return { ok: true, entries: this.entries };
  }

  private installAt(at: IndexTerm): void {
    // The log already starts after `at` (at.index === first - 1 joins it exactly; lower indexes
    // are refused by finish() as a gap and never written as markers).
    if (at.index < this.first) return;
    if (this.termAt(at.index) === at.term) {
      if (this.entries !== null) this.entries = this.entries.slice(at.index - this.first + 1);
      this.first = at.index + 1;
      if (this.first > this.last) {
        this.clearRuns();
        return;
      }
      let drop = 0;
      while (drop + 1 < this.runStart.length && this.runStart[drop + 1]! <= this.first) drop++;
      if (drop > 0) {
        this.runStart.splice(0, drop);
        this.runTerm.splice(0, drop);
      }
      return;
    }
    if (this.entries !== null) this.entries = [];
    this.first = at.index + 1;
    this.last = at.index;
    this.clearRuns();
  }

  private truncateFrom(index: number): void {
    if (index <= this.first) {
      if (this.entries !== null) this.entries = [];
      this.last = this.first - 1;
      this.clearRuns();
      return;
    }
    if (this.entries !== null) this.entries.length = index - this.first;
    this.last = index - 1;
    let runs = this.runStart.length;
    while (this.runStart[runs - 1]! >= index) runs--;
    this.runStart.length = runs;
    this.runTerm.length = runs;
  }

  private clearRuns(): void {
    this.runStart = [];
    this.runTerm = [];
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
