// MemDisk's own fault model, beyond the shared contract (test/storage/contract.test.ts): the
// owner completes syncs, a crash may keep a leader's snapshot without the rest of its call, the
// log-matching hook sees exactly what reaches the disk, and a crashed process can do nothing more.
import t from "tap";
import { emptyState } from "../../src/raft/membership";
import type { LogEntry } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { entries, snapshotAt } from "../storage/helpers";
import { MemDisk } from "./storage";

t.test("manual sync: a write is durable, and its promise resolves, only at sync()", async (t) => {
  const disk = new MemDisk(emptyState(), "manual");
  const storage = disk.open();
  storage.loadNow();
  let resolved = false;
  const written = storage.persist({ term: 1, votedFor: "a", commitIndex: 0 }, entries(1, 3, 1), null).then(() => {
    resolved = true;
  });
  await Promise.resolve();
  t.equal(resolved, false, "not resolved before the sync");
  t.equal(disk.durableLog().lastIndex(), 0, "nothing durable before the sync");
  t.equal(disk.unsyncedWrites(), 1);
  disk.sync();
  await written;
  t.equal(resolved, true);
  t.equal(disk.durableLog().lastIndex(), 3);
  t.same(disk.durableLog().hardState(), { term: 1, votedFor: "a", commitIndex: 0 });
});

t.test("a crash keeps whole calls, or a leader's snapshot without the rest of its call", async (t) => {
  const rng = new SeededRng(7);
  const kept = new Set<string>();
  for (let trial = 0; trial < 40; trial++) {
    const disk = new MemDisk(emptyState(), "manual");
    const storage = disk.open();
    storage.loadNow();
    void storage.persist({ term: 1, votedFor: "a", commitIndex: 0 }, entries(1, 3, 1), null);
    void storage.persist({ term: 2, votedFor: null, commitIndex: 10 }, entries(11, 12, 2), snapshotAt(10, 2));
    const report = disk.crash(rng);
    t.equal(report.recordsKept + report.recordsLost, 8, "4 records, then snapshot, 2 entries, hard state");
    t.ok([0, 4, 5, 8].includes(report.recordsKept), `cut at a call's end or after its snapshot (${report.recordsKept})`);
    const state = disk.open().loadNow();
    const summary = `${state.snapshot?.meta.index ?? 0}:${state.entries.map((e) => e.index).join(",")}:${state.hardState.term}`;
    kept.add(summary);
  }
  t.same([...kept].sort(), ["0::0", "0:1,2,3:1", "10::2", "10:11,12:2"].sort(), "every cut point happens; the snapshot alone discards the mismatching log and raises the term");
});

t.test("the durable hook sees synced and torn entries with the term before them", async (t) => {
  const disk = new MemDisk(emptyState(), "manual");
  const seen: string[] = [];
  disk.onDurable = (list: LogEntry[], prevTerm: number) => seen.push(`${list.map((e) => `${e.index}/${e.term}`).join(",")} after ${prevTerm}`);
  const storage = disk.open();
  storage.loadNow();
  void storage.persist(null, entries(1, 2, 1), null);
  disk.sync();
  void storage.persist(null, entries(2, 4, 2), null);
  void storage.persist(null, entries(5, 5, 2), null);
  disk.crash({ nextU32: () => 0, nextInt: () => 1, nextFloat: () => 0, chance: () => false });
  t.same(seen, ["1/1,2/1 after 0", "2/2,3/2,4/2 after 1"], "the first unsynced call kept, the second lost");
});

t.test("a crash kills the open storage; the disk opens again for the next process", async (t) => {
  const disk = new MemDisk(emptyState(), "manual");
  const first = disk.open();
  first.loadNow();
  disk.crash(new SeededRng(1));
  t.throws(() => first.persist(null, entries(1, 1, 1), null), { name: "AssertionError" });
  const second = disk.open();
  t.throws(() => disk.open(), { name: "AssertionError" }, "one process at a time");
  second.loadNow();
  void second.persist(null, entries(1, 1, 1), null);
  await second.close();
  t.equal(disk.durableLog().lastIndex(), 1, "a clean close syncs");
  t.same((await disk.open().load()).entries.map((e) => e.index), [1]);
});
