// FileStorage behaviour through its public API: round trips across close/load, truncation,
// compaction, snapshots from a leader, segment rotation and pruning, group commit, limits.
import t from "tap";
import { readdir } from "node:fs/promises";
import { entries, entry, openStorage, plain, snapshotAt, tempDir, type Teardown } from "./helpers";
import type { FileStorageOptions } from "../../src/storage/options";
import { openFileStorage } from "../../src/storage/file-storage";
import { readSnapshotData } from "../../src/storage/snapshot-files";

async function reopen(t: Teardown, dir: string, options: Partial<FileStorageOptions> = {}) {
  const { storage, logger } = await openStorage(t, dir, options);
  const state = await storage.load();
  return { storage, logger, state };
}

t.test("round trip: entries and hard state survive close and load", async (t) => {
  const dir = await tempDir(t);
  const first = await reopen(t, dir, { fsync: "always" });
  t.same(first.state, { hardState: { term: 0, votedFor: null, commitIndex: 0 }, snapshot: null, entries: [] });
  const written = [...entries(1, 50, 1, 33), entry(51, 2, 0), { index: 52, term: 2, kind: "config" as const, data: new Uint8Array([1, 2]) }];
  await first.storage.persist({ term: 1, votedFor: "a:1", commitIndex: 0 }, written.slice(0, 20), null);
  await first.storage.persist({ term: 2, votedFor: null, commitIndex: 19 }, written.slice(20), null);
  await first.storage.close();
  const second = await reopen(t, dir);
  t.same(second.state.hardState, { term: 2, votedFor: null, commitIndex: 19 });
  t.same(plain(second.state.entries), plain(written));
  t.equal(second.state.snapshot, null);
  t.same(second.logger.at("warn").map((l) => l.message).filter((m) => !m.includes("FSYNC")), [], "no recovery warnings after a clean close");
  t.ok(second.logger.at("warn").some((l) => l.fields["fsync"] === "never" && l.message.includes("FSYNC DISABLED")), "fsync never is warned about");
  t.notOk(first.logger.at("warn").some((l) => l.message.includes("FSYNC")), "fsync always is not");
});

t.test("a conflicting suffix is truncated durably, hard state alone updates", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir);
  await a.storage.persist({ term: 1, votedFor: "a:1", commitIndex: 3 }, entries(1, 10, 1), null);
  await a.storage.persist({ term: 3, votedFor: "b:1", commitIndex: 3 }, entries(5, 7, 3), null);
  await a.storage.persist({ term: 3, votedFor: "b:1", commitIndex: 6 }, [], null);
  await a.storage.close();
  const b = await reopen(t, dir);
  t.same(plain(b.state.entries), plain([...entries(1, 4, 1), ...entries(5, 7, 3)]));
  t.same(b.state.hardState, { term: 3, votedFor: "b:1", commitIndex: 6 });
  // And the reopened storage keeps appending after the truncated log.
  await b.storage.persist(null, entries(8, 9, 3), null);
  await b.storage.close();
  const c = await reopen(t, dir);
  t.same(c.state.entries.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

t.test("compaction keeps the suffix, drops old segments, and loads the snapshot", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir, { segmentBytes: 4096, snapshotsKept: 1 });
  for (let i = 0; i < 20; i++) {
    await a.storage.persist({ term: 2, votedFor: null, commitIndex: i * 10 }, entries(i * 10 + 1, i * 10 + 10, 2, 100), null);
  }
  const segmentsBefore = (await readdir(dir)).filter((n) => n.endsWith(".seg")).length;
  t.ok(segmentsBefore > 3, `rotated into ${segmentsBefore} segments`);
  await a.storage.compact(snapshotAt(150, 2));
  const names = await readdir(dir);
  const segmentsAfter = names.filter((n) => n.endsWith(".seg")).length;
  t.ok(segmentsAfter < segmentsBefore, `dropped segments (${segmentsBefore} -> ${segmentsAfter})`);
  t.equal(names.filter((n) => n.endsWith(".snap")).length, 1);
  t.equal(a.storage.snapshotIndex(), 150);
  await a.storage.persist(null, entries(201, 205, 2), null);
  await a.storage.close();
  const b = await reopen(t, dir, { segmentBytes: 4096, snapshotsKept: 1 });
  t.equal(b.state.snapshot?.meta.index, 150);
  t.same(Array.from(await readSnapshotData(b.state.snapshot!.data)), Array.from(snapshotAt(150, 2).data));
  t.same(b.state.entries.map((e) => e.index)[0], 151);
  t.equal(b.state.entries.length, 55);
  t.equal(b.state.hardState.commitIndex, 190);
});

t.test("snapshotsKept=2 retains the previous snapshot and the log since it", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir, { segmentBytes: 2048 });
  for (let i = 0; i < 30; i++) await a.storage.persist(null, entries(i * 10 + 1, i * 10 + 10, 1, 64), null);
  await a.storage.compact(snapshotAt(100, 1));
  await a.storage.compact(snapshotAt(200, 1));
  await a.storage.compact(snapshotAt(250, 1));
  const snaps = (await readdir(dir)).filter((n) => n.endsWith(".snap")).sort();
  t.same(snaps.map((n) => Number(n.slice(5, 25))), [200, 250]);
  await a.storage.close();
  const b = await reopen(t, dir);
  t.equal(b.state.snapshot?.meta.index, 250);
  t.same(b.state.entries.map((e) => e.index), Array.from({ length: 50 }, (_, i) => 251 + i));
});

t.test("a leader's snapshot: mismatching log discarded, matching suffix kept (§7)", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir);
  await a.storage.persist({ term: 2, votedFor: null, commitIndex: 5 }, entries(1, 30, 2), null);
  // Snapshot at 20 with a different term: our entries after 5 were never committed.
  await a.storage.persist({ term: 4, votedFor: null, commitIndex: 20 }, entries(21, 22, 4), snapshotAt(20, 3));
  await a.storage.close();
  const b = await reopen(t, dir);
  t.equal(b.state.snapshot?.meta.index, 20);
  t.same(b.state.entries.map((e) => `${e.index}/${e.term}`), ["21/4", "22/4"]);
  t.same(b.state.hardState, { term: 4, votedFor: null, commitIndex: 20 });
  // A snapshot whose last entry matches ours keeps the entries after it.
  await b.storage.persist(null, entries(23, 40, 4), null);
  await b.storage.persist(null, [], snapshotAt(30, 4));
  await b.storage.close();
  const c = await reopen(t, dir);
  t.equal(c.state.snapshot?.meta.index, 30);
  t.same(c.state.entries.map((e) => e.index), [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
  t.equal(c.state.hardState.commitIndex, 30, "commitIndex raised to the snapshot's index");
});

t.test("group commit: concurrent persist calls share fsyncs and resolve in order", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir, { fsync: "always" });
  const before = a.storage.stats();
  const order: number[] = [];
  const calls = [];
  for (let i = 0; i < 64; i++) {
    calls.push(a.storage.persist(null, [entry(i + 1, 1)], null).then(() => order.push(i)));
  }
  await Promise.all(calls);
  const after = a.storage.stats();
  t.same(order, Array.from({ length: 64 }, (_, i) => i), "resolved in call order");
  t.equal(after.entriesAppended - before.entriesAppended, 64);
  t.ok(after.fsyncs - before.fsyncs < 64, `64 calls took ${after.fsyncs - before.fsyncs} fsyncs`);
  t.ok(after.flushes - before.flushes <= 2, "the first flush takes one call, the second all the rest");
  await a.storage.close();
  t.equal((await reopen(t, dir)).state.entries.length, 64);
});

t.test("limits and misuse", async (t) => {
  const dir = await tempDir(t);
  const logger = { info() {}, warn() {}, error() {} };
  await t.rejects(openFileStorage(dir, { fsync: "never", logger, segmentByte: 1 } as never), { code: "CONFIG_INVALID" });
  await t.rejects(openFileStorage(dir, { fsync: "sometimes", logger } as never), { code: "CONFIG_INVALID" });
  await t.rejects(openFileStorage(dir, { fsync: "never", logger, recordBytesMax: 1024, readBufferBytes: 1024 }), { code: "CONFIG_INVALID" });
  await t.rejects(openFileStorage(dir, { fsync: "always", logger, walWrites: "async" } as never), { code: "CONFIG_INVALID" });
  const a = await reopen(t, dir, { recordBytesMax: 1024, readBufferBytes: 2048 });
  await t.rejects(a.storage.persist(null, [entry(1, 1, 2000)], null), { code: "STORAGE_TOO_LARGE" });
  await a.storage.persist(null, [entry(1, 1, 1000)], null);
  await t.rejects(a.storage.persist(null, [entry(3, 1)], null), { name: "AssertionError" }, "a gap is a bug");
  await t.rejects(a.storage.persist(null, [entry(2, 0)], null), { name: "AssertionError" }, "decreasing term is a bug");
});

t.test("persist calls beyond queuedBatchesMax are refused with STORAGE_BUSY", async (t) => {
  const dir = await tempDir(t);
  const a = await reopen(t, dir, { queuedBatchesMax: 2 });
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => a.storage.persist(null, [entry(i + 1, 1)], null)));
  const busy = results.filter((r) => r.status === "rejected" && (r.reason as { code?: string }).code === "STORAGE_BUSY").length;
  // The first call is being flushed, two wait, the rest are refused before touching any state.
  t.same(results.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected", "rejected"]);
  t.equal(busy, 3);
  await a.storage.persist(null, [entry(4, 1)], null); // the caller retries the refused entries
  await a.storage.close();
  t.same((await reopen(t, dir)).state.entries.map((e) => e.index), [1, 2, 3, 4]);
});

t.test("walWrites blocking: the WAL write is done when persist() returns; pool: only when it resolves", async (t) => {
  // The writer counts bytesWritten right after its write call returns: inside persist() when the
  // write blocks, on a later turn when the thread pool does it. (Reading the file cannot tell:
  // the pool's write is in the page cache at once, durable or not.)
  for (const walWrites of ["blocking", "pool"] as const) {
    const dir = await tempDir(t);
    const { storage } = await reopen(t, dir, { fsync: "always", walWrites });
    const before = storage.stats().bytesWritten;
    const written = storage.persist({ term: 1, votedFor: null, commitIndex: 0 }, [entry(1, 1, 64)], null);
    const atReturn = storage.stats().bytesWritten - before;
    await written;
    const atResolve = storage.stats().bytesWritten - before;
    t.ok(atResolve > 64, `${walWrites}: the record is written once persist() resolves (${atResolve} bytes)`);
    t.equal(atReturn, walWrites === "blocking" ? atResolve : 0, `${walWrites}: bytes written when persist() returned`);
    await storage.close();
  }
});
