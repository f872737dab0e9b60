// WAL preallocation (wal-writer.ts): with fsync on, zeros are kept written ahead of the records,
// never where records go, and recovery reads the records back exactly, leaving the zeros for
// the next writes. A frame whose own last bytes are zeros is not taken for the zero tail.
import t from "tap";
import { open, readFile, readdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { entries, openStorage, plain, tempDir } from "./helpers";
import { encodeFrameInto, frameBytes, RecordType } from "../../src/storage/record-codec";
import { contentBytes, readSegment } from "../../src/storage/segment-reader";

const KiB = 1024;

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".seg")).sort().map((n) => path.join(dir, n));
}

/** Offset just past the last byte that is not zero. */
function nonZeroEnd(bytes: Buffer): number {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  return end;
}

t.test("zeros stay ahead of the records and recovery goes on over them", async (t) => {
  const dir = await tempDir(t);
  const options = { fsync: "always" as const, preallocateBytes: 64 * KiB, segmentBytes: 1024 * KiB };
  const { storage } = await openStorage(t, dir, options);
  await storage.load();
  for (let i = 0; i < 40; i++) {
    await storage.persist({ term: 1, votedFor: null, commitIndex: i * 10 }, entries(i * 10 + 1, i * 10 + 10, 1, 200), null);
  }
  await storage.close(); // waits for a fill under way
  const [file] = await segmentFiles(dir);
  const bytes = await readFile(file!);
  const recordsEnd = nonZeroEnd(bytes);
  t.ok(bytes.length - recordsEnd >= 32 * KiB, `at least half of preallocateBytes ahead (${bytes.length - recordsEnd} bytes)`);
  t.ok(bytes.length <= 1024 * KiB, "never past segmentBytes");
  t.ok(storage.stats().bytesPreallocated >= bytes.length - recordsEnd, "counted");

  const reopened = await openStorage(t, dir, options);
  const state = await reopened.storage.load();
  t.same(plain(state.entries), plain(entries(1, 400, 1, 200)), "every entry back");
  t.same(reopened.logger.at("warn"), [], "no torn tail, no warning");
  t.equal((await readFile(file!)).length, bytes.length, "the zeros are kept");
  await reopened.storage.persist({ term: 1, votedFor: null, commitIndex: 400 }, entries(401, 450, 1, 200), null);
  await reopened.storage.close();
  const third = await openStorage(t, dir, options);
  t.same(plain((await third.storage.load()).entries), plain(entries(1, 450, 1, 200)), "and the ones written over the zeros");
});

t.test("off with preallocateBytes 0 or without fsync: the file ends with the records", async (t) => {
  for (const options of [{ fsync: "always" as const, preallocateBytes: 0 }, { fsync: "never" as const }]) {
    const dir = await tempDir(t);
    const { storage } = await openStorage(t, dir, options);
    await storage.load();
    await storage.persist({ term: 1, votedFor: null, commitIndex: 0 }, entries(1, 50, 1, 100), null);
    await storage.close();
    const [file] = await segmentFiles(dir);
    const bytes = await readFile(file!);
    t.equal(nonZeroEnd(bytes), bytes.length, `${JSON.stringify(options)}: no zero tail`);
    t.equal(storage.stats().bytesPreallocated, 0);
  }
});

t.test("preallocateBytes must be a non-negative integer", async (t) => {
  const dir = await tempDir(t);
  for (const preallocateBytes of [-1, 1.5, Number.NaN]) {
    await t.rejects(openStorage(t, dir, { preallocateBytes }), { code: "CONFIG_INVALID" }, String(preallocateBytes));
  }
});

t.test("readSegment: a frame ending in zeros before the zero tail is read whole", async (t) => {
  const dir = await tempDir(t);
  const payloads = [Buffer.from([1, 2, 3]), Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])];
  const records = Buffer.alloc(payloads.reduce((n, p) => n + frameBytes(p.length), 0));
  let used = 0;
  payloads.forEach((payload, pos) => (used = encodeFrameInto(records, used, RecordType.Entry, payload, 1, pos, payloads.length)));
  for (const tail of [0, 1, 24, 5000]) {
    const file = path.join(dir, `seg-${tail}`);
    await writeFile(file, Buffer.concat([records, Buffer.alloc(tail)]));
    const fh = await open(file, "r");
    const size = records.length + tail;
    const end = await contentBytes(fh, size, 4096);
    t.ok(end < records.length, "the frame's own zeros look like part of the tail");
    const seen: number[] = [];
    const result = await readSegment(fh, size, end, { bufferBytes: 4096, payloadBytesMax: 1024 }, (frame) => seen.push(frame.payload.length));
    await fh.close();
    t.same(seen, [3, 8], `tail ${tail}: both frames`);
    t.same(result, { kind: "clean", validBytes: records.length }, `tail ${tail}: clean at the end of the records`);
  }
});

t.test("readSegment: a record cut by zeros (a torn write into preallocated space) is damage", async (t) => {
  const dir = await tempDir(t);
  const payload = Buffer.from("a record whose end never reached the disk");
  const records = Buffer.alloc(2 * frameBytes(payload.length));
  let used = encodeFrameInto(records, 0, RecordType.Entry, payload, 1, 0, 1);
  const second = used;
  used = encodeFrameInto(records, used, RecordType.Entry, payload, 2, 0, 1);
  records.fill(0, second + 30); // the second record's last bytes are zeros, as is everything after
  const file = path.join(dir, "seg");
  await writeFile(file, Buffer.concat([records, Buffer.alloc(10_000)]));
  const fh = await open(file, "r");
  const size = records.length + 10_000;
  const result = await readSegment(fh, size, await contentBytes(fh, size, 4096), { bufferBytes: 4096, payloadBytesMax: 1024 }, () => undefined);
  await fh.close();
  t.equal(result.kind, "damaged");
  t.equal(result.kind === "damaged" ? result.offset : -1, second, "at the record cut short");
});
