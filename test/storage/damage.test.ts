// Fault injection into segment and snapshot files: torn tails are repaired with a warning,
// damage to acknowledged data refuses to start with STORAGE_CORRUPT naming file and offset
// (or is truncated loudly with repair: true), and nothing is silently lost.
import t from "tap";
import { readFile, readdir, truncate, unlink, writeFile, appendFile } from "node:fs/promises";
import * as path from "node:path";
import { entries, openStorage, snapshotAt, tempDir, type Teardown } from "./helpers";
import { encodeFrameInto, parseFrame, RecordType } from "../../src/storage/record-codec";
import { isRaftmqError } from "../../src/util/errors";
import type { FileStorageOptions } from "../../src/storage/options";

interface FrameAt {
  offset: number;
  end: number;
  flushSeq: number;
  type: RecordType;
}

async function framesOf(file: string): Promise<FrameAt[]> {
  const bytes = await readFile(file);
  const out: FrameAt[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const parsed = parseFrame(bytes, offset, bytes.length);
    if (parsed.kind !== "frame") throw new Error(`unexpected ${parsed.kind} at ${offset}`);
    out.push({ offset, end: parsed.next, flushSeq: parsed.frame.header.flushSeq, type: parsed.frame.header.type });
    offset = parsed.next;
  }
  return out;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".seg")).sort().map((n) => path.join(dir, n));
}

async function flipByte(file: string, offset: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[offset]! ^= 0x40;
  await writeFile(file, bytes);
}

/** Ten flushes of ten 50-byte entries each (indexes 1..100), hard state per flush. */
async function writeTenFlushes(t: Teardown, dir: string, options: Partial<FileStorageOptions> = {}): Promise<void> {
  const { storage } = await openStorage(t, dir, options);
  await storage.load();
  for (let i = 0; i < 10; i++) {
    await storage.persist({ term: 1, votedFor: null, commitIndex: i * 10 }, entries(i * 10 + 1, i * 10 + 10, 1, 50), null);
  }
  await storage.close();
}

async function load(t: Teardown, dir: string, options: Partial<FileStorageOptions> = {}) {
  const { storage, logger } = await openStorage(t, dir, options);
  const state = await storage.load();
  return { storage, logger, state };
}

t.test("torn tail: last flush cut short is truncated with a warning naming file and offset", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const frames = await framesOf(file!);
  const lastFlush = frames[frames.length - 1]!.flushSeq;
  const firstOfLast = frames.find((f) => f.flushSeq === lastFlush)!;
  const cutAt = firstOfLast.offset + 300; // inside the last flush
  await truncate(file!, cutAt);
  const { state, logger } = await load(t, dir);
  const warning = logger.at("warn").find((l) => l.message === "wal torn tail truncated");
  t.ok(warning, "warned");
  t.equal(warning?.fields["file"], file);
  const brokenFrame = frames.find((f) => f.offset <= cutAt && f.end > cutAt)!;
  t.equal(warning?.fields["offset"], brokenFrame.offset, "offset of the first broken record");
  // A flush is replayed whole or not at all: the torn last flush goes, every earlier one stays.
  t.equal(state.entries.length, 90);
  t.equal((await readFile(file!)).length, firstOfLast.offset, "file truncated at the start of the torn flush");
});

t.test("torn tail: garbage after the last record is dropped, no entry lost", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const size = (await readFile(file!)).length;
  await appendFile(file!, Buffer.from("\x13\x37garbage that is not a frame at all".repeat(20)));
  const { state, logger } = await load(t, dir);
  t.equal(state.entries.length, 100);
  t.equal(logger.at("warn").filter((l) => l.message === "wal torn tail truncated").length, 1);
  t.equal((await readFile(file!)).length, size, "truncated after the last record");
});

// Zeros after the last record are what preallocation leaves (wal-writer.ts): the end of the
// records, not damage. They stay, for the next writes to overwrite.
t.test("zeros after the last record end the log quietly and are kept", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const size = (await readFile(file!)).length;
  await appendFile(file!, Buffer.alloc(4096));
  const { storage, state, logger } = await load(t, dir);
  t.equal(state.entries.length, 100);
  t.same(logger.at("warn").filter((l) => l.message.startsWith("wal")), [], "no warning about the log");
  t.equal((await readFile(file!)).length, size + 4096, "the zeros are kept");
  await storage.persist({ term: 1, votedFor: null, commitIndex: 100 }, entries(101, 110, 1, 50), null);
  await storage.close();
  const again = await load(t, dir);
  t.equal(again.state.entries.length, 110, "records written over the zeros read back");
  t.same(again.logger.at("warn").filter((l) => l.message.startsWith("wal")), []);
});

t.test("torn tail: an unwritten sector inside the last flush, later sectors written", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const frames = await framesOf(file!);
  const last = frames.filter((f) => f.flushSeq === frames[frames.length - 1]!.flushSeq);
  const bytes = await readFile(file!);
  bytes.fill(0, last[2]!.offset, last[3]!.end); // records 2-3 of the last flush never hit the disk
  await writeFile(file!, bytes);
  const { state, logger } = await load(t, dir);
  t.equal(logger.at("warn").filter((l) => l.message === "wal torn tail truncated").length, 1);
  t.equal(state.entries.length, 90, "the torn flush is dropped whole, earlier flushes stay");
});

t.test("bit rot in an acknowledged flush refuses to start, repair truncates loudly", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const frames = await framesOf(file!);
  const victim = frames.filter((f) => f.type === RecordType.Entry)[35]!; // flush 4, index 36
  await flipByte(file!, victim.offset + 30);
  const { storage } = await openStorage(t, dir);
  const error = await storage.load().then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(isRaftmqError(error, "STORAGE_CORRUPT"), "STORAGE_CORRUPT");
  if (isRaftmqError(error)) {
    t.same({ file: error.details["file"], offset: error.details["offset"] }, { file, offset: victim.offset });
    t.match(error.message, file!);
    t.match(error.message, `offset ${victim.offset}`);
  }
  t.equal((await readFile(file!)).length, frames[frames.length - 1]!.end, "nothing truncated without repair");
  const repaired = await load(t, dir, { repair: true });
  t.equal(repaired.state.entries.length, 30, "entries of the flushes before the damaged one");
  t.ok(repaired.logger.at("error").some((l) => l.message.includes("REPAIR") && l.fields["offset"] === victim.offset));
  await repaired.storage.persist(null, entries(31, 40, 1), null);
  await repaired.storage.close();
  t.equal((await load(t, dir)).state.entries.length, 40, "the repaired log takes appends and reloads");
});

t.test("damage in an older segment is corruption even at its end; repair drops later segments", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir, { segmentBytes: 1500 });
  const files = await segments(dir);
  t.ok(files.length >= 3, `${files.length} segments`);
  await truncate(files[1]!, (await readFile(files[1]!)).length - 10);
  await t.rejects(load(t, dir), { code: "STORAGE_CORRUPT", details: { file: files[1] } });
  const repaired = await load(t, dir, { repair: true, segmentBytes: 1500 });
  t.equal((await segments(dir)).length, 2, "later segments deleted");
  t.ok(repaired.state.entries.length < 100);
  t.ok(repaired.logger.at("error").filter((l) => l.message.includes("deleting a later segment")).length >= 1);
});

t.test("a missing segment in the middle is corruption", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir, { segmentBytes: 1500 });
  const files = await segments(dir);
  await unlink(files[1]!);
  await t.rejects(load(t, dir), { code: "STORAGE_CORRUPT" });
});

t.test("a corrupt newest snapshot falls back to an older one only when the log covers the gap", async (t) => {
  const dir = await tempDir(t);
  const a = await load(t, dir);
  await a.storage.persist(null, entries(1, 60, 1), null);
  await a.storage.compact(snapshotAt(20, 1));
  await a.storage.compact(snapshotAt(40, 1));
  await a.storage.close();
  const snaps = (await readdir(dir)).filter((n) => n.endsWith(".snap")).sort();
  const newest = path.join(dir, snaps[snaps.length - 1]!);
  await flipByte(newest, (await readFile(newest)).length - 5); // in the data
  const b = await load(t, dir);
  t.equal(b.state.snapshot?.meta.index, 20, "older snapshot used");
  t.same(b.state.entries.map((e) => e.index), Array.from({ length: 40 }, (_, i) => 21 + i), "the log covers 21..60");
  t.ok(b.logger.at("error").some((l) => l.fields["file"] === newest), "logged loudly");
  t.ok((await readdir(dir)).includes(`${path.basename(newest)}.corrupt`), "set aside");
});

t.test("a corrupt only snapshot whose log was compacted refuses to start, even with repair", async (t) => {
  const dir = await tempDir(t);
  const a = await load(t, dir, { snapshotsKept: 1, segmentBytes: 1000 });
  for (let i = 0; i < 6; i++) await a.storage.persist(null, entries(i * 10 + 1, i * 10 + 10, 1, 40), null);
  await a.storage.compact(snapshotAt(50, 1));
  await a.storage.close();
  const [snap] = (await readdir(dir)).filter((n) => n.endsWith(".snap"));
  const file = path.join(dir, snap!);
  await flipByte(file, 20); // header
  for (const repair of [false, true]) {
    const { storage } = await openStorage(t, dir, { repair });
    await t.rejects(storage.load(), { code: "STORAGE_CORRUPT", details: { file } }, `repair=${repair}`);
  }
  t.ok((await readdir(dir)).includes(snap!), "left in place for the operator");
});

t.test("leftover temp files are deleted on open", async (t) => {
  const dir = await tempDir(t);
  const a = await load(t, dir);
  await a.storage.persist(null, entries(1, 5, 1), null);
  await a.storage.close();
  await writeFile(path.join(dir, "snap-00000000000000000005-00000000000000000001.snap.tmp"), "half a snapshot");
  const b = await load(t, dir);
  t.equal(b.state.snapshot, null);
  t.notOk((await readdir(dir)).some((n) => n.endsWith(".tmp")));
});

t.test("a torn rotation flush is dropped whole and the vote survives compaction", async (t) => {
  const dir = await tempDir(t);
  const options = { segmentBytes: 1500, snapshotsKept: 1 };
  const a = await load(t, dir, options);
  await a.storage.persist({ term: 7, votedFor: "x:1", commitIndex: 0 }, entries(1, 40, 7, 50), null);
  await a.storage.persist(null, entries(41, 41, 7, 50), null); // rotates: SegmentStart + HardState + entry 41
  await a.storage.close();
  const files = await segments(dir);
  t.equal(files.length, 2);
  const frames = await framesOf(files[1]!);
  t.same(frames.map((f) => f.type), [RecordType.SegmentStart, RecordType.HardState, RecordType.Entry]);
  await truncate(files[1]!, frames[0]!.end + 5); // the power cut took the rest of that flush
  const b = await load(t, dir, options);
  t.same(b.state.hardState, { term: 7, votedFor: "x:1", commitIndex: 0 });
  t.equal(b.state.entries.length, 40);
  const restarted = await framesOf(files[1]!);
  t.same(restarted.map((f) => f.type), [RecordType.SegmentStart, RecordType.HardState], "segment restarted with the hard state");
  await b.storage.compact(snapshotAt(40, 7));
  await b.storage.close();
  const c = await load(t, dir, options);
  t.same(c.state.hardState, { term: 7, votedFor: "x:1", commitIndex: 40 }, "vote survived");
  t.equal(c.state.snapshot?.meta.index, 40);
});

t.test("after a write error every call fails with STORAGE_IO", async (t) => {
  const dir = await tempDir(t);
  const a = await load(t, dir);
  await a.storage.persist(null, entries(1, 3, 1), null);
  // Pull the file handle out from under the writer: the next write fails with EBADF.
  const internals = a.storage as unknown as { writer: { state: { handle: { close(): Promise<void> } } } };
  await internals.writer.state.handle.close();
  await t.rejects(a.storage.persist(null, entries(4, 4, 1), null), { code: "STORAGE_IO" });
  await t.rejects(a.storage.persist(null, entries(4, 4, 1), null), { code: "STORAGE_IO" }, "no retry after a failed write");
  t.ok(a.logger.at("error").some((l) => l.message === "wal write failed"));
});

t.test("two torn tails in a row: the second is still recognised as torn", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  let frames = await framesOf(file!);
  const lastSeq = frames[frames.length - 1]!.flushSeq;
  await truncate(file!, frames.find((f) => f.flushSeq === lastSeq)!.offset + 200); // first power cut
  const a = await load(t, dir);
  t.equal(a.state.entries.length, 90);
  await a.storage.persist({ term: 1, votedFor: null, commitIndex: 90 }, entries(91, 100, 1, 50), null);
  await a.storage.close();
  // Second power cut: the first record of the newest flush never landed, the rest did.
  frames = await framesOf(file!);
  const newest = frames.filter((f) => f.flushSeq === frames[frames.length - 1]!.flushSeq);
  const bytes = await readFile(file!);
  bytes.fill(0, newest[0]!.offset, newest[0]!.end);
  await writeFile(file!, bytes);
  const b = await load(t, dir);
  t.equal(b.state.entries.length, 90);
  t.equal(b.logger.at("warn").filter((l) => l.message === "wal torn tail truncated").length, 1);
});

t.test("a record with a valid checksum but an impossible index is corruption; repair keeps flushes whole", async (t) => {
  const dir = await tempDir(t);
  await writeTenFlushes(t, dir);
  const [file] = await segments(dir);
  const frames = await framesOf(file!);
  const victim = frames.filter((f) => f.type === RecordType.Entry)[34]!; // index 35, inside flush 4
  const bytes = await readFile(file!);
  const parsed = parseFrame(bytes, victim.offset, bytes.length);
  if (parsed.kind !== "frame") throw new Error("victim frame must parse");
  const payload = Buffer.from(parsed.frame.payload);
  payload.writeUInt32LE(99, 0); // entry 35 now claims index 99: a gap, with a correct checksum
  const h = parsed.frame.header;
  encodeFrameInto(bytes, victim.offset, h.type, payload, h.flushSeq, h.flushPos, h.flushCount);
  await writeFile(file!, bytes);
  await t.rejects(load(t, dir), { code: "STORAGE_CORRUPT", details: { file, offset: victim.offset } });
  const repaired = await load(t, dir, { repair: true });
  t.equal(repaired.state.entries.length, 30, "the whole flush holding the bad record is gone, in memory and on disk");
  await repaired.storage.persist(null, entries(31, 40, 1), null);
  await repaired.storage.close();
  const again = await load(t, dir);
  t.equal(again.state.entries.length, 40);
  t.same(again.logger.at("warn").filter((l) => !l.message.includes("FSYNC")), [], "nothing left to repair");
  t.same(again.logger.at("error"), []);
});
