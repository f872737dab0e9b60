// Chunked snapshot transfer: a reader on the leader's storage streams the newest snapshot, a
// writer on the follower's storage receives it (with resent and out-of-order chunks), and
// persist() with the same snapshot then reuses the file.
import t from "tap";
import { readdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { entries, openStorage, snapshotAt, tempDir } from "./helpers";
import { readSnapshotData, SNAPSHOT_SYNC_EVERY_BYTES } from "../../src/storage/snapshot-files";

t.test("stream a snapshot from one storage into another", async (t) => {
  const leaderDir = await tempDir(t);
  const followerDir = await tempDir(t);
  const leader = (await openStorage(t, leaderDir)).storage;
  await leader.load();
  await leader.persist(null, entries(1, 100, 2), null);
  const snapshot = snapshotAt(90, 2, 100_000);
  await leader.compact(snapshot);
  const follower = (await openStorage(t, followerDir)).storage;
  await follower.load();
  await follower.persist({ term: 1, votedFor: null, commitIndex: 0 }, entries(1, 5, 1), null);

  const reader = await leader.openSnapshotReader();
  t.ok(reader);
  t.same(reader!.meta, snapshot.meta);
  t.equal(reader!.dataBytes, 100_000);
  const writer = await follower.beginSnapshot(reader!.meta, reader!.dataBytes);
  let chunks = 0;
  for await (const chunk of reader!.chunks(7_000)) {
    t.ok(chunk.data.length <= 7_000, "chunk bounded");
    chunks += 1;
    t.equal(await writer.write(chunk.offset, chunk.data), true);
    if (chunks === 3) {
      // A resent chunk and a chunk from the future: the first is ignored, the second refused.
      t.equal(await writer.write(chunk.offset, chunk.data), true);
      t.equal(await writer.write(writer.bytesWritten + 7_000, chunk.data), false);
    }
  }
  await reader!.close();
  t.equal(chunks, Math.ceil(100_000 / 7_000));
  const info = await writer.finish();
  t.same(info.meta, snapshot.meta);
  const writesBefore = follower.stats().snapshotsWritten;
  // The core hands the assembled snapshot to persist(): the file is reused, not rewritten.
  await follower.persist({ term: 2, votedFor: null, commitIndex: 90 }, entries(91, 92, 2), snapshot);
  t.equal(follower.stats().snapshotsWritten, writesBefore, "file reused");
  await follower.close();
  const again = (await openStorage(t, followerDir)).storage;
  const state = await again.load();
  t.same(state.snapshot?.meta, snapshot.meta);
  t.same(Buffer.from(await readSnapshotData(state.snapshot!.data)), Buffer.from(snapshot.data));
  t.same(state.entries.map((e) => e.index), [91, 92]);
});

t.test("a transfer restarted from 0 and an aborted one", async (t) => {
  const dir = await tempDir(t);
  const storage = (await openStorage(t, dir)).storage;
  await storage.load();
  const snapshot = snapshotAt(10, 1, 5000);
  const writer = await storage.beginSnapshot(snapshot.meta, 5000);
  await writer.write(0, snapshot.data.subarray(0, 3000));
  await writer.write(0, snapshot.data); // sender restarted from 0: only the new tail is written
  await writer.finish();
  const reader = await storage.openSnapshotReader();
  const parts: Buffer[] = [];
  for await (const chunk of reader!.chunks(1024)) parts.push(Buffer.from(chunk.data));
  await reader!.close();
  t.same(Buffer.concat(parts), Buffer.from(snapshot.data));
  const aborted = await storage.beginSnapshot(snapshotAt(20, 1).meta, 100);
  await aborted.write(0, new Uint8Array(10));
  await t.rejects(aborted.finish(), { code: "STORAGE_IO" }, "incomplete");
  const other = await storage.beginSnapshot(snapshotAt(30, 1).meta, 100);
  await other.abort();
  t.notOk((await readdir(dir)).some((n) => n.startsWith("snap-00000000000000000030")), "aborted temp removed");
  await t.rejects(storage.beginSnapshot(snapshot.meta, 2 ** 40), { code: "STORAGE_TOO_LARGE" });
});

t.test("the reader detects data damaged on disk", async (t) => {
  const dir = await tempDir(t);
  const storage = (await openStorage(t, dir)).storage;
  await storage.load();
  await storage.persist(null, entries(1, 10, 1), null);
  await storage.compact(snapshotAt(10, 1, 3000));
  const name = (await readdir(dir)).find((n) => n.endsWith(".snap"))!;
  const bytes = await readFile(path.join(dir, name));
  bytes[bytes.length - 100]! ^= 1;
  await writeFile(path.join(dir, name), bytes);
  const reader = await storage.openSnapshotReader();
  await t.rejects(
    (async () => {
      for await (const chunk of reader!.chunks(1000)) void chunk;
    })(),
    { code: "STORAGE_CORRUPT" },
  );
  await reader!.close();
});

t.test("a long snapshot write is flushed every SNAPSHOT_SYNC_EVERY_BYTES, not all at the end", async (t) => {
  const dir = await tempDir(t);
  const storage = (await openStorage(t, dir, { fsync: "always" })).storage;
  await storage.load();
  const dataBytes = 2 * SNAPSHOT_SYNC_EVERY_BYTES + 1000;
  const data = new Uint8Array(dataBytes).map((_, i) => i % 251);
  const writer = await storage.beginSnapshot({ index: 10, term: 1, config: { voters: ["a:1"], learners: [] } }, dataBytes);
  const fsyncsAt = (): number => storage.stats().fsyncs;
  const before = fsyncsAt();
  const flushedAfter: number[] = [];
  for (let offset = 0; offset < dataBytes; offset += 1024 * 1024) {
    const seen = fsyncsAt();
    await writer.write(offset, data.subarray(offset, Math.min(dataBytes, offset + 1024 * 1024)));
    if (fsyncsAt() > seen) flushedAfter.push(writer.bytesWritten);
  }
  t.same(flushedAfter, [SNAPSHOT_SYNC_EVERY_BYTES, 2 * SNAPSHOT_SYNC_EVERY_BYTES], "one flush per 4 MiB written, while writing");
  t.equal(fsyncsAt() - before, 2);
  await writer.finish();
  await storage.close();
  const state = await (await openStorage(t, dir)).storage.load();
  t.same(Buffer.from(await readSnapshotData(state.snapshot!.data)), Buffer.from(data), "the file holds every byte");
});

t.test("with fsync never, a long snapshot write flushes nothing", async (t) => {
  const dir = await tempDir(t);
  const storage = (await openStorage(t, dir)).storage;
  await storage.load();
  const dataBytes = SNAPSHOT_SYNC_EVERY_BYTES + 10;
  const writer = await storage.beginSnapshot({ index: 10, term: 1, config: { voters: ["a:1"], learners: [] } }, dataBytes);
  const before = storage.stats().fsyncs;
  await writer.write(0, new Uint8Array(dataBytes));
  t.equal(storage.stats().fsyncs, before);
  await writer.abort();
});
