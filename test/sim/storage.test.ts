// MemDisk's own fault model, beyond the shared contract (test/storage/contract.test.ts): the
// owner completes syncs, "record" tears cut inside a call, the log-matching hook sees exactly what
// reaches the disk, and a crashed process can do nothing more.
import t from "tap";
import { emptyState } from "../../src/raft/membership";
import type { LogEntry } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { entries } from "../storage/helpers";
import { MemDisk } from "./storage";

t.test("manual sync: a write is durable, and its promise resolves, only at sync()", async (t) => {
  const disk = new MemDisk(emptyState(), { syncMode: "manual", tear: "flush" });
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

t.test("record tears keep any prefix of records, even inside a call", async (t) => {
  const rng = new SeededRng(7);
  const kept = new Set<string>();
  for (let trial = 0; trial < 40; trial++) {
    const disk = new MemDisk(emptyState(), { syncMode: "manual", tear: "record" });
    const storage = disk.open();
    storage.loadNow();
    void storage.persist({ term: 1, votedFor: "a", commitIndex: 0 }, entries(1, 3, 1), null);
    const report = disk.crash(rng);
    t.equal(report.recordsKept + report.recordsLost, 4, "three entries and a hard state");
    const state = disk.open().loadNow();
    const hardState = report.recordsKept === 4 ? { term: 1, votedFor: "a", commitIndex: 0 } : { term: 0, votedFor: null, commitIndex: 0 };
    t.same(state.hardState, hardState, "the hard state, written last, survives only with every entry");
    t.equal(state.entries.length, Math.min(report.recordsKept, 3));
    kept.add(String(report.recordsKept));
  }
  t.same([...kept].sort(), ["0", "1", "2", "3", "4"], "every cut point happens");
});

t.test("the durable hook sees synced and torn entries with the term before them", async (t) => {
  const disk = new MemDisk(emptyState(), { syncMode: "manual", tear: "record" });
  const seen: string[] = [];
  disk.onDurable = (list: LogEntry[], prevTerm: number) => seen.push(`${list.map((e) => `${e.index}/${e.term}`).join(",")} after ${prevTerm}`);
  const storage = disk.open();
  storage.loadNow();
  void storage.persist(null, entries(1, 2, 1), null);
  disk.sync();
  void storage.persist(null, entries(2, 4, 2), null);
  disk.crash({ nextU32: () => 0, nextInt: () => 2, nextFloat: () => 0, chance: () => false });
  t.same(seen, ["1/1,2/1 after 0", "2/2,3/2 after 1"]);
});

t.test("a crash kills the open storage; the disk opens again for the next process", async (t) => {
  const disk = new MemDisk(emptyState(), { syncMode: "manual", tear: "flush" });
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
