/**
 * The RaftStorage contract as one suite, run by contract.test.ts against FileStorage (a temp dir)
 * and against the simulator's MemStorage (test/sim/storage.ts). Both get the same calls and the
 * same assertions; that they pass the same suite is what makes a crash in the simulator mean a
 * crash of raftd's storage.
 *
 * A StorageDisk is what outlives a process: a directory, or a MemDisk. Its crashDuring() is the
 * injected fault: the given calls reach the disk's cache but are never synced, then the power
 * goes. Each implementation injects it its own way (FileStorage: the segment is cut, or zeroed,
 * at a seeded byte after the last synced flush; MemStorage: MemDisk.crash drops all but a seeded
 * prefix of the unsynced records), and the suite checks the outcome the same way: every synced
 * call is there, and the unsynced calls survive as a prefix of whole calls.
 */
import type { Test } from "tap";
import type { HardState, LogEntry, PersistentState, RaftStorage, Snapshot } from "../../src/raft/types";
import { readSnapshotData } from "../../src/storage/snapshot-files";
import { SeededRng, type Rng } from "../../src/util/rng";
import { entries, plain, snapshotAt } from "./helpers";

export type StorageCall = (storage: RaftStorage) => Promise<void>;

export interface StorageDisk {
  /** A storage over this disk, as a (re)started process opens it; not loaded yet. */
  open(): Promise<RaftStorage>;
  /** Runs `unsynced` on `storage` without syncing them, then cuts the power: `storage` is dead. */
  crashDuring(storage: RaftStorage, unsynced: StorageCall[], rng: Rng): Promise<void>;
}

/** Makes a fresh, empty disk; the suite makes many (one per test, one per crash trial). */
export type DiskFactory = (t: Test) => Promise<StorageDisk>;

const CRASH_TRIALS = 16;

/** A loaded state as plain values with a fixed key order (compared with t.same or as JSON). */
async function comparable(state: PersistentState): Promise<unknown> {
  const { term, votedFor, commitIndex } = state.hardState;
  return { hardState: { term, votedFor, commitIndex }, snapshot: await comparableSnapshot(state.snapshot), entries: plain(state.entries) };
}

async function comparableSnapshot(snapshot: Snapshot | null): Promise<unknown> {
  if (snapshot === null) return null;
  // Snapshot.data is opaque to raft: bytes in MemStorage, a file reference from FileStorage.
  const data = await readSnapshotData(snapshot.data);
  const { index, term, config } = snapshot.meta;
  const meta = { index, term, config: { voters: config.voters, learners: config.learners } };
  return { meta, data: Array.from(data) };
}

async function reopen(disk: StorageDisk, previous: RaftStorage | null): Promise<{ storage: RaftStorage; state: PersistentState }> {
  if (previous !== null) await previous.close();
  const storage = await disk.open();
  return { storage, state: await storage.load() };
}

function persistCall(hardState: HardState | null, list: LogEntry[], snapshot: Snapshot | null = null): StorageCall {
  return (storage) => storage.persist(hardState, list, snapshot);
}

export function storageContract(t: Test, newDisk: DiskFactory): void {
  t.test("a fresh disk loads the empty state", async (t) => {
    const { state } = await reopen(await newDisk(t), null);
    t.same(await comparable(state), { hardState: { term: 0, votedFor: null, commitIndex: 0 }, snapshot: null, entries: [] });
  });

  t.test("entries and hard state come back after close and load", async (t) => {
    const disk = await newDisk(t);
    const a = await reopen(disk, null);
    await a.storage.persist({ term: 1, votedFor: "a:1", commitIndex: 0 }, entries(1, 5, 1), null);
    await a.storage.persist({ term: 2, votedFor: null, commitIndex: 4 }, entries(6, 7, 2, 0), null);
    const b = await reopen(disk, a.storage);
    t.same(b.state.hardState, { term: 2, votedFor: null, commitIndex: 4 });
    t.same(plain(b.state.entries), plain([...entries(1, 5, 1), ...entries(6, 7, 2, 0)]));
    t.equal(b.state.snapshot, null);
    await b.storage.close();
  });

  t.test("entries at or below the last index truncate the suffix from there (§5.3)", async (t) => {
    const disk = await newDisk(t);
    const a = await reopen(disk, null);
    await a.storage.persist({ term: 1, votedFor: null, commitIndex: 3 }, entries(1, 10, 1), null);
    await a.storage.persist({ term: 3, votedFor: "b:1", commitIndex: 3 }, entries(5, 7, 3), null);
    const b = await reopen(disk, a.storage);
    t.same(plain(b.state.entries), plain([...entries(1, 4, 1), ...entries(5, 7, 3)]));
    await b.storage.persist(null, entries(8, 9, 3), null);
    const c = await reopen(disk, b.storage);
    t.same(c.state.entries.map((e) => `${e.index}/${e.term}`), ["1/1", "2/1", "3/1", "4/1", "5/3", "6/3", "7/3", "8/3", "9/3"]);
    await c.storage.close();
  });

  t.test("a hard state alone replaces the previous one and leaves the log alone", async (t) => {
    const disk = await newDisk(t);
    const a = await reopen(disk, null);
    await a.storage.persist({ term: 1, votedFor: null, commitIndex: 0 }, entries(1, 3, 1), null);
    await a.storage.persist({ term: 2, votedFor: "c:1", commitIndex: 0 }, [], null);
    await a.storage.persist({ term: 2, votedFor: "c:1", commitIndex: 2 }, [], null);
    const b = await reopen(disk, a.storage);
    t.same(b.state.hardState, { term: 2, votedFor: "c:1", commitIndex: 2 });
    t.same(b.state.entries.map((e) => e.index), [1, 2, 3]);
    await b.storage.close();
  });

  t.test("compact keeps the snapshot and the log after it; commitIndex rises to it", async (t) => {
    const disk = await newDisk(t);
    const a = await reopen(disk, null);
    await a.storage.persist({ term: 1, votedFor: null, commitIndex: 3 }, entries(1, 10, 1), null);
    await a.storage.compact(snapshotAt(6, 1));
    await a.storage.compact(snapshotAt(4, 1)); // older than what is kept: nothing happens
    const b = await reopen(disk, a.storage);
    t.same(await comparableSnapshot(b.state.snapshot), await comparableSnapshot(snapshotAt(6, 1)));
    t.same(b.state.entries.map((e) => e.index), [7, 8, 9, 10]);
    t.equal(b.state.hardState.commitIndex, 6, "a snapshot holds only committed state");
    await b.storage.persist({ term: 1, votedFor: null, commitIndex: 8 }, entries(11, 12, 1), null);
    await b.storage.compact(snapshotAt(9, 1));
    const c = await reopen(disk, b.storage);
    t.equal(c.state.snapshot?.meta.index, 9);
    t.same(c.state.entries.map((e) => e.index), [10, 11, 12]);
    t.equal(c.state.hardState.commitIndex, 9);
    await c.storage.close();
  });

  t.test("a leader's snapshot: matching suffix kept, mismatching log discarded (§7)", async (t) => {
    const disk = await newDisk(t);
    const a = await reopen(disk, null);
    await a.storage.persist({ term: 2, votedFor: null, commitIndex: 5 }, entries(1, 30, 2), null);
    await a.storage.persist({ term: 4, votedFor: null, commitIndex: 20 }, entries(21, 22, 4), snapshotAt(20, 3));
    const b = await reopen(disk, a.storage);
    t.equal(b.state.snapshot?.meta.index, 20);
    t.same(b.state.entries.map((e) => `${e.index}/${e.term}`), ["21/4", "22/4"]);
    t.same(b.state.hardState, { term: 4, votedFor: null, commitIndex: 20 });
    await b.storage.persist(null, entries(23, 40, 4), null);
    await b.storage.persist(null, [], snapshotAt(30, 4));
    const c = await reopen(disk, b.storage);
    t.equal(c.state.snapshot?.meta.index, 30);
    t.same(c.state.entries.map((e) => e.index), [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    t.equal(c.state.hardState.commitIndex, 30, "commitIndex raised to the snapshot's index");
    await c.storage.close();
  });

  t.test("a crash loses only unsynced writes, and keeps a prefix of whole calls", async (t) => {
    const synced = [
      persistCall({ term: 1, votedFor: "a:1", commitIndex: 0 }, entries(1, 4, 1, 40)),
      persistCall({ term: 1, votedFor: "a:1", commitIndex: 3 }, [], null),
    ];
    const unsynced = [
      persistCall({ term: 1, votedFor: "a:1", commitIndex: 4 }, entries(5, 7, 1, 40)),
      persistCall({ term: 2, votedFor: "b:1", commitIndex: 5 }, entries(6, 8, 2, 40)), // truncates 6, 7
      persistCall({ term: 3, votedFor: "c:1", commitIndex: 5 }, []),
      persistCall(null, entries(9, 10, 3, 40)),
    ];
    // What a clean run of the synced calls plus the first k unsynced ones leaves, k = 0..4.
    const expected: unknown[] = [];
    for (let k = 0; k <= unsynced.length; k++) {
      const disk = await newDisk(t);
      const a = await reopen(disk, null);
      for (const call of [...synced, ...unsynced.slice(0, k)]) await call(a.storage);
      const b = await reopen(disk, a.storage);
      expected.push(await comparable(b.state));
      await b.storage.close();
    }
    const rng = new SeededRng(20261122);
    const seen = new Set<number>();
    for (let trial = 0; trial < CRASH_TRIALS; trial++) {
      const disk = await newDisk(t);
      const a = await reopen(disk, null);
      for (const call of synced) await call(a.storage);
      await disk.crashDuring(a.storage, unsynced, rng);
      const b = await reopen(disk, null);
      const state = await comparable(b.state);
      const kept = expected.findIndex((candidate) => sameValue(candidate, state));
      t.ok(kept >= 0, `trial ${trial}: the state is the synced calls plus a prefix of the unsynced ones`);
      seen.add(kept);
      await b.storage.close();
    }
    t.comment(`unsynced calls kept by the ${CRASH_TRIALS} crashes: ${[...seen].sort().join(" ")}`);
    t.ok(seen.has(0), "some crash lost every unsynced call");
    t.ok([...seen].some((k) => k > 0), "some crash kept a prefix of the unsynced calls");
  });

  t.test("a crash after a leader's snapshot, before its hard state: the term rises to the snapshot's", async (t) => {
    // A follower first hears of term 5 through InstallSnapshot: one call raises the term and
    // installs a snapshot of term 5. The snapshot may be durable before the rest of the call.
    const before = { term: 2, votedFor: "a:1", commitIndex: 5 };
    const rng = new SeededRng(5);
    const seen = new Set<string>();
    for (let trial = 0; trial < CRASH_TRIALS; trial++) {
      const disk = await newDisk(t);
      const a = await reopen(disk, null);
      await a.storage.persist(before, entries(1, 10, 2), null);
      await disk.crashDuring(a.storage, [persistCall({ term: 5, votedFor: null, commitIndex: 20 }, entries(21, 22, 5), snapshotAt(20, 5))], rng);
      const { storage, state } = await reopen(disk, null);
      const lastTerm = state.entries.length > 0 ? state.entries[state.entries.length - 1]!.term : (state.snapshot?.meta.term ?? 0);
      t.ok(state.hardState.term >= lastTerm, `trial ${trial}: term ${state.hardState.term} >= last log term ${lastTerm} (RaftCore requires it)`);
      const hs = state.hardState;
      const outcome = `snapshot ${state.snapshot?.meta.index ?? 0}, entries ${state.entries.map((e) => e.index).join(",")}, term ${hs.term} vote ${hs.votedFor} commit ${hs.commitIndex}`;
      t.ok(
        [
          "snapshot 0, entries 1,2,3,4,5,6,7,8,9,10, term 2 vote a:1 commit 5",
          "snapshot 20, entries , term 5 vote null commit 20",
          "snapshot 20, entries 21,22, term 5 vote null commit 20",
        ].includes(outcome),
        `trial ${trial}: nothing, the snapshot alone, or the whole call (${outcome})`,
      );
      seen.add(outcome);
      await storage.close();
    }
    t.ok([...seen].some((o) => o.includes("entries ,")), "some crash kept the snapshot without the rest of its call");
  });
}

/** `comparable` values have a fixed key order, so equal values have equal JSON. */
function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
