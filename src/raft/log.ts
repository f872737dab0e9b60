/**
 * RaftLog: one node's in-memory log on top of a snapshot offset, plus its commit and apply
 * cursors and the durability frontier.
 *
 *   snapshot.index      stableIndex        lastIndex
 *        |  compacted  |  durable entries  |  unstable (not yet handed to persist) |
 *   lastApplied <= appliedCursor <= commitIndex <= lastIndex
 *
 * Contract: entries are contiguous from snapshotIndex + 1; term(i) is known for
 * snapshotIndex <= i <= lastIndex. Committed entries are never truncated (asserted). The core
 * hands out `unstableEntries()` in a Ready and calls `stableTo` once they are durable; after a
 * truncation the durability frontier moves back so the replacement entries are persisted too.
 * The configuration in force is the last config entry in the log (thesis §4.1: effective when
 * appended), else the snapshot's.
 */
import { assert } from "../util/assert";
import { decodeConfig } from "./membership";
import type { ClusterConfig, LogEntry, PersistentState, Snapshot, SnapshotData, SnapshotMeta } from "./types";

export class RaftLog {
  /** Invariant: entries[k].index === snapshotIndex + 1 + k. */
  private entries: LogEntry[];
  private snapshotIndexValue: number;
  private snapshotTermValue: number;
  /** The latest snapshot, kept so a leader can send InstallSnapshot. Null: nothing compacted. */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader and not yet handed out in a Ready. */
  pendingSnapshot: Snapshot | null = null;
  /** Invariant: snapshotIndex <= stableIndex <= lastIndex. Entries <= it are durable. */
  stableIndex: number;
  /** Invariant: never decreases; snapshotIndex <= commitIndex <= lastIndex. */
  commitIndex: number;
  /** Confirmed applied by advance(). Invariant: lastApplied <= appliedCursor <= commitIndex. */
  lastApplied: number;
  /** Handed out in a Ready (committed entries or snapshot), possibly not yet advanced. */
  appliedCursor: number;
  config: ClusterConfig = { voters: [], learners: [] };
  /** Index of the entry that set `config` (snapshotIndex when it came from the snapshot). */
  configIndex = 0;

  constructor(state: PersistentState) {
    const snapshot = state.snapshot;
    this.snapshot = snapshot;
    this.snapshotIndexValue = snapshot === null ? 0 : snapshot.meta.index;
    this.snapshotTermValue = snapshot === null ? 0 : snapshot.meta.term;
    this.entries = state.entries.slice();
    for (let k = 0; k < this.entries.length; k++) {
      assert(this.entries[k]!.index === this.snapshotIndexValue + 1 + k, "persisted log must be contiguous");
    }
    this.stableIndex = this.lastIndex();
    assert(state.hardState.commitIndex >= this.snapshotIndexValue, "persisted commitIndex >= snapshot index");
    assert(state.hardState.commitIndex <= this.lastIndex(), "persisted commitIndex <= last index");
    this.commitIndex = state.hardState.commitIndex;
    // The application restores the snapshot before the core starts; entries after it are
    // re-applied from the log.
    this.lastApplied = this.snapshotIndexValue;
    this.appliedCursor = this.snapshotIndexValue;
    this.recomputeConfig();
  }

  snapshotIndex(): number {
    return this.snapshotIndexValue;
  }

  snapshotTerm(): number {
    return this.snapshotTermValue;
  }

  firstIndex(): number {
    return this.snapshotIndexValue + 1;
  }

  lastIndex(): number {
    return this.snapshotIndexValue + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snapshotTermValue : this.entries[this.entries.length - 1]!.term;
  }

  /** Term at `index`, or null when compacted away or beyond the end. */
  term(index: number): number | null {
    if (index === this.snapshotIndexValue) return this.snapshotTermValue;
    if (index < this.snapshotIndexValue || index > this.lastIndex()) return null;
    return this.entries[index - this.snapshotIndexValue - 1]!.term;
  }

  entry(index: number): LogEntry {
    assert(index > this.snapshotIndexValue, "entry: index is compacted");
    assert(index <= this.lastIndex(), "entry: index beyond last");
    return this.entries[index - this.snapshotIndexValue - 1]!;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [from, lastIndex], at most maxCount and about maxBytes of data (at least one). */
  slice(from: number, maxCount: number, maxBytes: number): LogEntry[] {
    assert(from > this.snapshotIndexValue, "slice: from is compacted");
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let index = from; index <= this.lastIndex() && out.length < maxCount; index++) {
      const entry = this.entry(index);
      if (out.length > 0 && bytes + entry.data.length > maxBytes) break;
      bytes += entry.data.length;
      out.push(entry);
    }
    return out;
  }

  /** Leader append: entries continue the log. */
  append(entries: LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, "append must be contiguous");
      assert(entry.term >= this.lastTerm(), "append: terms never decrease along the log");
      this.entries.push(entry);
      if (entry.kind === "config") this.setConfig(decodeConfig(entry.data), entry.index);
    }
  }

  /**
   * §5.3 follower append after a successful consistency check at entries[0].index - 1: skip the
   * entries we already hold, truncate at the first conflict, append the rest. Returns the index
   * of the last entry of the message (known to match the leader's log).
   */
  appendFromLeader(prevLogIndex: number, entries: LogEntry[]): number {
    let k = 0;
    for (; k < entries.length; k++) {
      const entry = entries[k]!;
      assert(entry.index === prevLogIndex + 1 + k, "AppendEntries entries must be contiguous");
      if (entry.index <= this.snapshotIndexValue) continue;
      const ours = this.term(entry.index);
      if (ours === null || ours !== entry.term) break;
    }
    if (k < entries.length) {
      const first = entries[k]!.index;
      if (first <= this.lastIndex()) this.truncateFrom(first);
      this.append(entries.slice(k));
    }
    return prevLogIndex + entries.length;
  }

  private truncateFrom(index: number): void {
    assert(index > this.commitIndex, "never truncate committed entries");
    assert(index > this.snapshotIndexValue, "truncate: index is compacted");
    this.entries.length = index - this.snapshotIndexValue - 1;
    if (this.stableIndex >= index) this.stableIndex = index - 1;
    if (this.configIndex >= index) this.recomputeConfig();
  }

  commitTo(index: number): void {
    if (index <= this.commitIndex) return;
    assert(index <= this.lastIndex(), "commitIndex <= lastIndex");
    this.commitIndex = index;
  }

  /** First index of the term held at `index`, not going below commitIndex + 1 or the snapshot. */
  firstIndexOfTermAt(index: number): number {
    const term = this.term(index);
    assert(term !== null, "firstIndexOfTermAt: unknown index");
    let first = index;
    const floor = Math.max(this.snapshotIndexValue + 1, this.commitIndex + 1);
    while (first - 1 >= floor && this.term(first - 1) === term) first--;
    return first;
  }

  /** Largest index <= atMost whose term is `term`, or null (only entries still in memory). */
  lastIndexOfTerm(term: number, atMost: number): number | null {
    for (let index = Math.min(atMost, this.lastIndex()); index > this.snapshotIndexValue; index--) {
      const t = this.term(index)!;
      if (t === term) return index;
      if (t < term) return null;
    }
    return null;
  }

  unstableEntries(): LogEntry[] {
    return this.entries.slice(this.stableIndex - this.snapshotIndexValue);
  }

  /** `persisted` was made durable; a later truncation may have replaced some of it. */
  stableTo(persisted: LogEntry[]): void {
    for (let k = persisted.length - 1; k >= 0; k--) {
      const entry = persisted[k]!;
      if (entry.index <= this.stableIndex) return;
      if (this.term(entry.index) === entry.term && entry.index > this.snapshotIndexValue) {
        this.stableIndex = entry.index;
        return;
      }
    }
  }

  /** Committed entries not yet handed out; moves the cursor. */
  takeCommitted(): LogEntry[] {
    const out: LogEntry[] = [];
    for (let index = this.appliedCursor + 1; index <= this.commitIndex; index++) out.push(this.entry(index));
    this.appliedCursor = this.commitIndex;
    return out;
  }

  appliedTo(index: number): void {
    assert(index <= this.appliedCursor, "appliedTo beyond what was handed out");
    if (index > this.lastApplied) this.lastApplied = index;
  }

  /** Follower: replace the whole log by a snapshot from the leader (§7). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commitIndex, "restore: snapshot must be ahead of commitIndex");
    this.entries = [];
    this.snapshotIndexValue = snapshot.meta.index;
    this.snapshotTermValue = snapshot.meta.term;
    this.snapshot = snapshot;
    this.pendingSnapshot = snapshot;
    // Handed out in the next Ready together with every entry appended after it.
    this.stableIndex = snapshot.meta.index;
    this.commitIndex = snapshot.meta.index;
    this.setConfig(snapshot.meta.config, snapshot.meta.index);
  }

  /** What a snapshot of the application at `index` will say about the log (checked as compact() would). */
  snapshotMetaAt(index: number): SnapshotMeta {
    assert(index > this.snapshotIndexValue, "compact: index already compacted");
    assert(index <= this.lastApplied, "compact: index must be applied");
    assert(index <= this.stableIndex, "compact: index must be durable");
    return { index, term: this.term(index)!, config: this.configAt(index) };
  }

  /** The application snapshotted its state at `index`: keep the snapshot, drop entries <= index. */
  compact(index: number, data: SnapshotData): Snapshot {
    const snapshot: Snapshot = { meta: this.snapshotMetaAt(index), data };
    this.entries = this.entries.slice(index - this.snapshotIndexValue);
    this.snapshotIndexValue = index;
    this.snapshotTermValue = snapshot.meta.term;
    this.snapshot = snapshot;
    return snapshot;
  }

  /** The configuration in force at `index` (snapshotIndex <= index <= lastIndex). */
  configAt(index: number): ClusterConfig {
    if (index >= this.configIndex) return this.config;
    for (let i = index; i > this.snapshotIndexValue; i--) {
      const entry = this.entry(i);
      if (entry.kind === "config") return decodeConfig(entry.data);
    }
    assert(this.snapshot !== null || this.snapshotIndexValue === 0, "configAt: snapshot config missing");
    return this.snapshot === null ? { voters: [], learners: [] } : this.snapshot.meta.config;
  }

  /** Index of the last config entry after commitIndex, or 0 (at most one is allowed). */
  hasUncommittedConfig(): boolean {
    return this.configIndex > this.commitIndex;
  }

  private setConfig(config: ClusterConfig, index: number): void {
    this.config = config;
    this.configIndex = index;
  }

  private recomputeConfig(): void {
    for (let k = this.entries.length - 1; k >= 0; k--) {
      const entry = this.entries[k]!;
      if (entry.kind === "config") {
        this.setConfig(decodeConfig(entry.data), entry.index);
        return;
      }
    }
    const config = this.snapshot === null ? { voters: [], learners: [] } : this.snapshot.meta.config;
    this.setConfig(config, this.snapshotIndexValue);
  }

  checkInvariants(): void {
    assert(this.snapshotIndexValue <= this.stableIndex, "snapshotIndex <= stableIndex");
    assert(this.stableIndex <= this.lastIndex(), "stableIndex <= lastIndex");
    assert(this.snapshotIndexValue <= this.commitIndex || this.pendingSnapshot !== null, "snapshotIndex <= commitIndex");
    assert(this.commitIndex <= this.lastIndex(), "commitIndex <= lastIndex");
    assert(this.lastApplied <= this.appliedCursor, "lastApplied <= appliedCursor");
    assert(this.appliedCursor <= this.commitIndex, "appliedCursor <= commitIndex");
    assert(this.configIndex <= this.lastIndex(), "configIndex <= lastIndex");
    if (this.entries.length > 0) {
      assert(this.entries[0]!.index === this.snapshotIndexValue + 1, "first entry follows the snapshot");
      assert(this.entries[0]!.term >= this.snapshotTermValue, "first entry term >= snapshot term");
    }
  }
}
