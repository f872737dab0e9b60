/**
 * MemStorage: the simulator's RaftStorage, holding only what is durable.
 *
 * Fault model: the simulator hands a Ready's hardState / snapshot / entries to persist() only
 * when the corresponding fsync completes (a separate scheduled event); a crash before that event
 * loses the whole write, exactly as an un-fsynced write is lost. A completed persist is atomic
 * (no torn writes: a WAL record batch either fully survives or not at all). compact() is durable
 * at once (losing a compaction is harmless). load() returns copies, so a restarted node shares
 * nothing with its previous incarnation.
 */
import { assert } from "../../src/util/assert";
import type { HardState, LogEntry, PersistentState, Snapshot } from "../../src/raft/types";

export class MemStorage {
  private hardState: HardState;
  private snapshot: Snapshot | null;
  private entries: LogEntry[];

  constructor(initial: PersistentState) {
    this.hardState = { ...initial.hardState };
    this.snapshot = initial.snapshot;
    this.entries = initial.entries.slice();
  }

  load(): PersistentState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: this.entries.slice() };
  }

  durableHardState(): HardState {
    return this.hardState;
  }

  private firstIndex(): number {
    return (this.snapshot === null ? 0 : this.snapshot.meta.index) + 1;
  }

  lastIndex(): number {
    return this.firstIndex() - 1 + this.entries.length;
  }

  term(index: number): number | null {
    const snapIndex = this.firstIndex() - 1;
    if (index === snapIndex) return this.snapshot === null ? 0 : this.snapshot.meta.term;
    if (index < snapIndex || index > this.lastIndex()) return null;
    return this.entries[index - snapIndex - 1]!.term;
  }

  persist(hardState: HardState | null, entries: LogEntry[], snapshot: Snapshot | null): void {
    if (snapshot !== null) {
      this.snapshot = snapshot;
      this.entries = [];
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      assert(first >= this.firstIndex(), "storage: persisted entries start after the snapshot");
      assert(first <= this.lastIndex() + 1, "storage: persisted entries leave no gap");
      this.entries.length = first - this.firstIndex();
      for (const entry of entries) this.entries.push(entry);
    }
    if (hardState !== null) {
      assert(hardState.term >= this.hardState.term, "storage: durable term never decreases");
      assert(hardState.commitIndex >= this.hardState.commitIndex, "storage: durable commitIndex never decreases");
      this.hardState = { ...hardState };
    }
    assert(this.hardState.commitIndex <= this.lastIndex(), "storage: durable commitIndex <= durable last index");
  }

  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (this.snapshot !== null && this.snapshot.meta.index >= index) return;
    assert(index <= this.lastIndex(), "storage: compact within the durable log");
    this.entries = this.entries.slice(index - this.firstIndex() + 1);
    this.snapshot = snapshot;
  }
}
