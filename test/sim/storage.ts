/**
 * MemDisk and MemStorage: the simulator's storage, in memory, with FileStorage's semantics.
 *
 * MemStorage implements RaftStorage itself rather than a narrower interface: load / persist /
 * compact / close are exactly what a Ready loop needs from any storage, and FileStorage adds
 * only runtime concerns (stats, snapshot streaming) that the simulator has no use for. The same
 * contract suite (test/storage/contract.ts) runs against both, so what the simulator crashes is
 * what raftd runs on.
 *
 * As on a real machine, the state is split in two:
 *   MemDisk     the disk: durable state (MemLog: snapshot, log, hard state) plus the writes
 *               still in the cache, not yet synced. It survives crashes.
 *   MemStorage  what one process opens on it (FileStorage's counterpart): it checks every call
 *               against its own view of the log, writes the call's records to the disk and
 *               returns a promise that resolves once the disk has synced them. It dies with
 *               the process.
 *
 * Fault model:
 *   writes   a call's records go to the cache in call order: [snapshot], [entry ...],
 *            [hard state] (FileStorage's order: snapshot file, then marker, entries and hard
 *            state in one WAL flush); compact(snapshot) writes one snapshot record.
 *   sync     makes every write issued so far durable and resolves their promises (group
 *            commit, like FileStorage's flusher). With syncMode "manual" only the owner calls
 *            sync(): the simulator does it at its scheduled fsync event, so durability follows
 *            the event order, never the microtask queue, and a seed replays exactly. With
 *            "immediate" every write is synced as it is issued (tests that await promises, and
 *            the hand-driven raft harness).
 *   crash    crash(rng) is a power cut: the unsynced records are lost, except a seeded-random
 *            prefix of them that reached the platter. The cut falls only where FileStorage's
 *            recovery can leave one: at the end of a call, since recovery drops a torn flush
 *            whole, or just after a snapshot record, since a snapshot file is durable before
 *            its flush starts. The lost calls' promises never settle: the process that awaited
 *            them is gone.
 *            A cut between any two records (a disk without FileStorage's atomic flushes) is not
 *            modelled: RaftCore's constructor asserts that the durable term is >= the last
 *            entry's term, and a cut between a call's entries and its hard state breaks that
 *            (seeds 1815/3 nodes, 826/7 nodes found it when this file had such a mode).
 * Bugs in the caller (a call the contract forbids, or a call on a closed or crashed storage)
 * throw at once instead of rejecting, so the simulator stops at the step that made them.
 * Two differences from FileStorage that the simulator cannot observe: only the newest snapshot
 * is kept (snapshotsKept: 1), and compact()'s snapshot is ordered after earlier unsynced calls,
 * while FileStorage may make it durable before them (the simulator only compacts what a sync
 * already made durable).
 */
import type { HardState, LogEntry, PersistentState, RaftStorage, Snapshot } from "../../src/raft/types";
import { assert } from "../../src/util/assert";
import type { Rng } from "../../src/util/rng";
import { MemLog } from "./mem-log";

export type SyncMode = "manual" | "immediate";

/** One call's records in write order: snapshot (0 or 1), entries, hard state (0 or 1). */
interface Write {
  snapshot: Snapshot | null;
  entries: LogEntry[];
  hardState: HardState | null;
  resolve: () => void;
}

export interface CrashReport {
  recordsKept: number;
  recordsLost: number;
}

/** Entries that just became durable, and the durable term of the entry before the first. */
export type DurableListener = (entries: LogEntry[], prevTerm: number) => void;

export class MemDisk {
  private readonly durable: MemLog;
  /** Written, not yet synced, in write order. */
  private unsynced: Write[] = [];
  /** The storage a running process has open on this disk. */
  private handle: MemStorage | null = null;
  syncMode: SyncMode;
  /** The simulator's log-matching check sees every entry that reaches the disk, torn or synced. */
  onDurable: DurableListener | null = null;

  constructor(initial: PersistentState, syncMode: SyncMode) {
    this.durable = MemLog.from(initial);
    this.syncMode = syncMode;
  }

  /** What a (re)started process does with its data directory. */
  open(): MemStorage {
    assert(this.handle === null, "one process at a time has a disk open");
    this.handle = new MemStorage(this);
    return this.handle;
  }

  durableLog(): MemLog {
    return this.durable;
  }

  unsyncedWrites(): number {
    return this.unsynced.length;
  }

  /** Completes the pending sync: every write issued so far is durable, its promise resolves. */
  sync(): void {
    const writes = this.unsynced;
    this.unsynced = [];
    for (const write of writes) this.apply(write, recordsOf(write));
    for (const write of writes) write.resolve();
  }

  /** Power cut: unsynced records are lost but for a seeded prefix; the open storage dies. */
  crash(rng: Rng): CrashReport {
    const cuts = this.cutPoints();
    const total = cuts[cuts.length - 1]!;
    const kept = cuts.length === 1 ? 0 : cuts[rng.nextInt(cuts.length)]!;
    let left = kept;
    for (const write of this.unsynced) {
      const records = Math.min(left, recordsOf(write));
      if (records > 0) this.apply(write, records);
      left -= records;
    }
    this.unsynced = [];
    this.handle?.die();
    this.handle = null;
    return { recordsKept: kept, recordsLost: total - kept };
  }

  /** MemStorage's write path. Records enter the cache now; the promise resolves at the sync. */
  write(snapshot: Snapshot | null, entries: LogEntry[], hardState: HardState | null): Promise<void> {
    return new Promise((resolve) => {
      this.unsynced.push({ snapshot, entries, hardState, resolve });
      if (this.syncMode === "immediate") this.sync();
    });
  }

  /** A clean shutdown: everything written is synced, the disk is free for the next process. */
  release(handle: MemStorage): void {
    assert(this.handle === handle, "only the open storage releases the disk");
    this.sync();
    this.handle = null;
  }

  /** Numbers of unsynced records a crash may keep (ascending, from 0 to all of them). */
  private cutPoints(): number[] {
    const cuts = [0];
    let before = 0;
    for (const write of this.unsynced) {
      const records = recordsOf(write);
      if (write.snapshot !== null && records > 1) cuts.push(before + 1);
      cuts.push(before + records);
      before += records;
    }
    return cuts;
  }

  /** Makes the first `records` records of `write` durable. */
  private apply(write: Write, records: number): void {
    let left = records;
    if (write.snapshot !== null && left > 0) {
      this.durable.installSnapshot(write.snapshot);
      left -= 1;
    }
    const count = Math.min(left, write.entries.length);
    if (count > 0) {
      const entries = count === write.entries.length ? write.entries : write.entries.slice(0, count);
      const prevTerm = this.durable.termAt(entries[0]!.index - 1);
      assert(prevTerm !== undefined, "durable entries join the durable log");
      this.onDurable?.(entries, prevTerm);
      for (const entry of entries) this.durable.appendEntry(entry);
      left -= count;
    }
    if (write.hardState !== null && left > 0) this.durable.recordHardState(write.hardState);
  }
}

function recordsOf(write: Write): number {
  return (write.snapshot === null ? 0 : 1) + write.entries.length + (write.hardState === null ? 0 : 1);
}

export class MemStorage implements RaftStorage {
  /** Invariant: the durable log plus every write this process issued (FileStorage's `model`). */
  private view: MemLog | null = null;
  private state: "new" | "open" | "closed" | "dead" = "new";

  constructor(private readonly disk: MemDisk) {}

  load(): Promise<PersistentState> {
    return new Promise((resolve) => resolve(this.loadNow()));
  }

  /** load() for the synchronous simulator. */
  loadNow(): PersistentState {
    assert(this.state === "new", "load() is called once, first");
    this.state = "open";
    this.view = this.disk.durableLog().clone();
    return this.view.persistentState();
  }

  persist(hardState: HardState | null, entries: LogEntry[], snapshot: Snapshot | null): Promise<void> {
    const view = this.openView();
    if (snapshot !== null) {
      assert(snapshot.meta.index > view.snapshotIndex(), "a leader's snapshot is newer than ours");
      view.installSnapshot(snapshot);
    }
    for (let i = 0; i < entries.length; i++) {
      assert(i === 0 || entries[i]!.index === entries[i - 1]!.index + 1, "entries are contiguous");
      view.appendEntry(entries[i]!);
    }
    if (hardState !== null) view.recordHardState(hardState);
    return this.disk.write(snapshot, entries, hardState);
  }

  compact(snapshot: Snapshot): Promise<void> {
    const view = this.openView();
    const meta = snapshot.meta;
    if (meta.index <= view.snapshotIndex()) return Promise.resolve(); // already covered
    assert(meta.index <= view.lastIndex(), "compact() within the log");
    assert(view.termAt(meta.index) === meta.term, "compact() snapshot term matches the log");
    view.installSnapshot(snapshot);
    return this.disk.write(snapshot, [], null);
  }

  close(): Promise<void> {
    if (this.state === "closed") return Promise.resolve();
    assert(this.state !== "dead", "a crashed process closes nothing");
    this.state = "closed";
    this.disk.release(this);
    return Promise.resolve();
  }

  /** The disk lost power under this process. */
  die(): void {
    this.state = "dead";
  }

  private openView(): MemLog {
    assert(this.state === "open", "persist() and compact() after load() and before close()");
    return this.view!;
  }
}
