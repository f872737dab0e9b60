/**
 * RaftLog: one node's in-memory log on top of a snapshot offset, plus its commit and apply
 * cursors and the durability frontier.
 *
 *   snapshot.index      stableIndex        lastIndex
 *        |  compacted  |  durable entries  |  unstable (not yet handed to persist) |
 *   lastApplied <= appliedCursor <= commitIndex <= lastIndex
 *
 * Entries up to packedIndex (applied and durable) are kept packed as bytes (PackedEntries); the
 * rest are the LogEntry objects they arrived as, in `recent`:
 *   snapshot.index < packed <= packedIndex < recent <= lastIndex,  packedIndex <= min(lastApplied, stableIndex)
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
import { DEFAULT_BLOCK_ENTRIES, PackedEntries } from "./packed-entries";
import type { ClusterConfig, LogEntry, PersistentState, Snapshot, SnapshotData, SnapshotMeta } from "./types";

/** What a spent slot of `recent` holds (see setRecentHead). */
const SPENT: LogEntry = Object.freeze({ index: 0, term: 0, kind: "noop", data: new Uint8Array(0) });

export class RaftLog {
  /** Entries snapshotIndex + 1 .. packedIndex (packed.last()). */
  private readonly packed: PackedEntries;
  /** Invariant: recent[recentHead + k].index === packedIndex + 1 + k; slots before recentHead are spent. */
  private recent: LogEntry[];
  private recentHead = 0;
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

  /** blockEntries: entries per packed block (the simulator uses tiny ones to cross block edges often). */
  constructor(state: PersistentState, blockEntries = DEFAULT_BLOCK_ENTRIES) {
    const snapshot = state.snapshot;
    this.snapshot = snapshot;
    this.snapshotIndexValue = snapshot === null ? 0 : snapshot.meta.index;
    this.snapshotTermValue = snapshot === null ? 0 : snapshot.meta.term;
    this.packed = new PackedEntries(blockEntries, this.snapshotIndexValue);
    this.recent = state.entries.slice();
    for (let k = 0; k < this.recent.length; k++) {
      assert(this.recent[k]!.index === this.snapshotIndexValue + 1 + k, "persisted log must be contiguous");
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
    return this.packed.last() + this.recent.length - this.recentHead;
  }

  /** Entries up to here are packed (applied and durable). */
  packedIndex(): number {
    return this.packed.last();
  }

  lastTerm(): number {
    if (this.recent.length > this.recentHead) return this.recent[this.recent.length - 1]!.term;
    return this.packed.size() > 0 ? this.packed.term(this.packed.last()) : this.snapshotTermValue;
  }

  /** Term at `index`, or null when compacted away or beyond the end. */
  term(index: number): number | null {
    if (index === this.snapshotIndexValue) return this.snapshotTermValue;
    if (index < this.snapshotIndexValue || index > this.lastIndex()) return null;
    const packedIndex = this.packed.last();
    if (index <= packedIndex) return this.packed.term(index);
    return this.recent[this.recentHead + index - packedIndex - 1]!.term;
  }

  /** The entry at `index`; a packed one is a fresh object each call. */
  entry(index: number): LogEntry {
    assert(index > this.snapshotIndexValue, "entry: index is compacted");
    assert(index <= this.lastIndex(), "entry: index beyond last");
    const packedIndex = this.packed.last();
    if (index <= packedIndex) return this.packed.entry(index);
    return this.recent[this.recentHead + index - packedIndex - 1]!;
  }

  private kindAt(index: number): LogEntry["kind"] {
    return index <= this.packed.last() ? this.packed.kind(index) : this.entry(index).kind;
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
      this.recent.push(entry);
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
    assert(index > this.packed.last(), "truncate: packed entries are applied");
    this.recent.length = this.recentHead + index - this.packed.last() - 1;
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
    return this.recent.slice(this.recentHead + this.stableIndex - this.packed.last());
  }

  /** `persisted` was made durable; a later truncation may have replaced some of it. */
  stableTo(persisted: LogEntry[]): void {
    for (let k = persisted.length - 1; k >= 0; k--) {
      const entry = persisted[k]!;
      if (entry.index <= this.stableIndex) return;
      if (this.term(entry.index) === entry.term && entry.index > this.snapshotIndexValue) {
        this.stableIndex = entry.index;
        this.pack();
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
    this.pack();
  }

  /** Move entries that are applied and durable from `recent` into `packed`. */
  private pack(): void {
    const upTo = Math.min(this.lastApplied, this.stableIndex);
    if (upTo <= this.packed.last()) return;
    let head = this.recentHead;
    for (let index = this.packed.last() + 1; index <= upTo; index++) this.packed.push(this.recent[head++]!);
    this.setRecentHead(head);
  }

  /**
   * Spent slots are cut off once they are at least half of `recent` (amortized O(1) per entry).
   * Until then they hold SPENT, not the entries: an entry kept reachable by a spent slot outlives
   * a young-generation collection or two and is copied into the old one (a follower keeps
   * unapplied entries in `recent` all the time, so its spent slots reached 1,024 and more).
   */
  private setRecentHead(head: number): void {
    if (head >= this.recent.length) {
      this.recent = [];
      head = 0;
    } else if (head >= 1024 && head * 2 >= this.recent.length) {
      this.recent = this.recent.slice(head);
      head = 0;
    } else {
      this.recent.fill(SPENT, this.recentHead, head);
    }
    this.recentHead = head;
  }

  /** Follower: replace the whole log by a snapshot from the leader (§7). */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commitIndex, "restore: snapshot must be ahead of commitIndex");
    this.recent = [];
    this.recentHead = 0;
    this.packed.reset(snapshot.meta.index);
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
    const packedIndex = this.packed.last();
    if (index <= packedIndex) {
      this.packed.dropThrough(index);
    } else {
      this.packed.reset(index);
      this.setRecentHead(this.recentHead + index - packedIndex);
    }
    this.snapshotIndexValue = index;
    this.snapshotTermValue = snapshot.meta.term;
    this.snapshot = snapshot;
    return snapshot;
  }

  /** The configuration in force at `index` (snapshotIndex <= index <= lastIndex). */
  configAt(index: number): ClusterConfig {
    if (index >= this.configIndex) return this.config;
    for (let i = index; i > this.snapshotIndexValue; i--) {
      if (this.kindAt(i) === "config") return decodeConfig(this.entry(i).data);
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
    for (let index = this.lastIndex(); index > this.snapshotIndexValue; index--) {
      if (this.kindAt(index) === "config") {
        this.setConfig(decodeConfig(this.entry(index).data), index);
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
    const packedIndex = this.packed.last();
    assert(this.packed.first() === this.snapshotIndexValue + 1, "packed entries follow the snapshot");
    if (this.packed.size() > 0) {
      assert(packedIndex <= this.lastApplied && packedIndex <= this.stableIndex, "only applied, durable entries are packed");
    }
    assert(this.recentHead <= this.recent.length, "recentHead within recent");
    if (this.recent.length > this.recentHead) {
      assert(this.recent[this.recentHead]!.index === packedIndex + 1, "recent entries follow the packed ones");
      assert(this.recent[this.recent.length - 1]!.index === this.lastIndex(), "recent entries are contiguous");
    }
    if (this.lastIndex() > this.snapshotIndexValue) {
      assert(this.term(this.snapshotIndexValue + 1)! >= this.snapshotTermValue, "first entry term >= snapshot term");
    }
    this.packed.checkInvariants();
  }
}
