/**
 * MemLog: one node's raft state as FileStorage's recovery would rebuild it (pure, in memory).
 *
 * The rules are those of src/storage/wal-replay.ts, applied record by record as they are written
 * instead of at load time:
 *   - snapshot S (index, term): ignored if S is not newer than the current snapshot; otherwise
 *     §7: if the log holds S.index with S.term the suffix after it is kept, else the whole log is
 *     discarded. FileStorage does the same for its SnapshotMarker record, and again at load for
 *     a snapshot file whose marker never reached the WAL, so one record stands for both.
 *   - entry i: i <= last + 1; entries >= i are dropped first (a leader overwrote a conflicting
 *     suffix, §5.3), and terms never decrease along the log.
 *   - hard state: replaces the previous one; the term never decreases, one vote per term (and,
 *     checked here only, commitIndex never decreases and stays within the log).
 * persistentState() raises commitIndex to the snapshot's index and the term to its term, with
 * the function recovery.ts uses (raiseToSnapshot).
 *
 * Invariant: `entries` are contiguous, start at snapshotIndex() + 1, and their terms never
 * decrease. Breaking a rule is a bug in the caller (the core or the simulator): assert.
 */
import type { HardState, LogEntry, PersistentState, Snapshot } from "../../src/raft/types";
import { raiseToSnapshot } from "../../src/storage/wal-replay";
import { assert } from "../../src/util/assert";

export class MemLog {
  private constructor(
    private snapshot: Snapshot | null,
    private entries: LogEntry[],
    private hard: HardState,
  ) {}

  static from(state: PersistentState): MemLog {
    const log = new MemLog(state.snapshot, state.entries.slice(), { ...state.hardState });
    const first = state.entries[0];
    assert(first === undefined || first.index === log.snapshotIndex() + 1, "initial entries start after the snapshot");
    return log;
  }

  clone(): MemLog {
    return new MemLog(this.snapshot, this.entries.slice(), { ...this.hard });
  }

  snapshotIndex(): number {
    return this.snapshot === null ? 0 : this.snapshot.meta.index;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  /** Term at `index`, or undefined when the log does not hold it (nor its snapshot ends there). */
  termAt(index: number): number | undefined {
    const base = this.snapshotIndex();
    if (index === base) return this.snapshot === null ? 0 : this.snapshot.meta.term;
    if (index < base || index > this.lastIndex()) return undefined;
    return this.entries[index - base - 1]!.term;
  }

  hardState(): HardState {
    return this.hard;
  }

  /** What load() returns: copies, so that a restarted node shares nothing with this log. */
  persistentState(): PersistentState {
    return { hardState: raiseToSnapshot(this.hard, this.snapshot), snapshot: this.snapshot, entries: this.entries.slice() };
  }

  installSnapshot(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    if (meta.index <= this.snapshotIndex()) return;
    if (this.termAt(meta.index) === meta.term) {
      this.entries = this.entries.slice(meta.index - this.snapshotIndex());
    } else {
      this.entries = [];
    }
    this.snapshot = snapshot;
  }

  appendEntry(entry: LogEntry): void {
    const base = this.snapshotIndex();
    assert(entry.index > base, "entries are above the snapshot");
    assert(entry.index <= this.lastIndex() + 1, "entries join the log without a gap");
    this.entries.length = entry.index - base - 1;
    const previousTerm = this.termAt(entry.index - 1)!;
    assert(entry.term >= previousTerm, "entry terms never decrease along the log");
    this.entries.push(entry);
  }

  recordHardState(hardState: HardState): void {
    const previous = this.hard;
    assert(hardState.term >= previous.term, "hard state term never decreases");
    assert(hardState.term !== previous.term || previous.votedFor === null || hardState.votedFor === previous.votedFor, "one vote per term");
    assert(hardState.commitIndex >= previous.commitIndex, "durable commitIndex never decreases");
    assert(hardState.commitIndex <= this.lastIndex(), "commitIndex <= last index of the same log");
    this.hard = { ...hardState };
  }
}
