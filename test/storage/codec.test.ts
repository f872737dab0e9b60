// Pure codecs: WAL frames, record payloads, snapshot header, file names, tail classifier, policy.
import t from "tap";
import {
  FRAME_HEADER_BYTES,
  RecordType,
  encodeFrameInto,
  parseFrame,
} from "../../src/storage/record-codec";
import { decodeEntry, decodeHardState, encodeEntry, encodeHardState } from "../../src/storage/wal-records";
import { classifyFileName, segmentFileName, snapshotFileName } from "../../src/storage/file-names";
import { classifyDamage } from "../../src/storage/tail-classifier";
import { decodeSnapshotHeader, decodeSnapshotMeta, encodeSnapshotHead, encodeSnapshotMeta } from "../../src/storage/snapshot-format";
import { SeededRng } from "../../src/util/rng";

function frame(payload: Buffer, type = RecordType.Entry, seq = 3, pos = 1, count = 2): Buffer {
  const buffer = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  encodeFrameInto(buffer, 0, type, payload, seq, pos, count);
  return buffer;
}

t.test("a frame round-trips and every single-bit flip is detected", async (t) => {
  const payload = Buffer.from("hello, write-ahead log");
  const good = frame(payload);
  const parsed = parseFrame(good, 0, good.length);
  t.equal(parsed.kind, "frame");
  if (parsed.kind === "frame") {
    t.same(parsed.frame.header, { crc: good.readUInt32LE(0), length: payload.length, flushSeq: 3, flushPos: 1, flushCount: 2, type: RecordType.Entry });
    t.same(Buffer.from(parsed.frame.payload), payload);
    t.equal(parsed.next, good.length);
  }
  let detected = 0;
  for (let bit = 0; bit < good.length * 8; bit++) {
    const bad = Buffer.from(good);
    bad[bit >> 3]! ^= 1 << (bit & 7);
    const result = parseFrame(bad, 0, bad.length);
    // A flipped length bit may also make the frame look incomplete: either way it is not a frame.
    if (result.kind !== "frame") detected += 1;
  }
  t.equal(detected, good.length * 8, "no flipped bit yields a valid frame");
});

t.test("a frame cut short is incomplete, not invalid", async (t) => {
  const good = frame(Buffer.alloc(100, 7));
  for (const cut of [0, 5, FRAME_HEADER_BYTES - 1, FRAME_HEADER_BYTES, good.length - 1]) {
    t.equal(parseFrame(good, 0, cut).kind, "incomplete", `cut at ${cut}`);
  }
  t.equal(parseFrame(Buffer.alloc(64), 0, 64).kind, "invalid", "zeros are not a frame");
});

t.test("an oversized length is refused before the checksum", async (t) => {
  const good = frame(Buffer.alloc(100));
  const result = parseFrame(good, 0, good.length, 50);
  t.equal(result.kind, "invalid");
  if (result.kind === "invalid") t.match(result.reason, /exceeds the maximum/);
});

t.test("entry and hard state payloads round-trip, including large indexes", async (t) => {
  const rng = new SeededRng(7);
  for (let i = 0; i < 200; i++) {
    const data = new Uint8Array(rng.nextInt(64));
    for (let j = 0; j < data.length; j++) data[j] = rng.nextInt(256);
    const index = rng.nextInt(2 ** 20) * 2 ** 30 + rng.nextInt(2 ** 30) + 1;
    const kinds = ["normal", "noop", "config"] as const;
    const original = { index, term: rng.nextInt(1000) * 2 ** 20, kind: kinds[rng.nextInt(3)]!, data };
    const decoded = decodeEntry(encodeEntry(original));
    t.same({ ...decoded, data: Array.from(decoded.data) }, { ...original, data: Array.from(data) });
  }
  for (const hs of [{ term: 0, votedFor: null, commitIndex: 0 }, { term: 2 ** 40, votedFor: "node-ü:9000", commitIndex: 12345 }]) {
    t.same(decodeHardState(encodeHardState(hs)), hs);
  }
});

t.test("snapshot header round-trips and detects damage", async (t) => {
  const meta = { index: 42, term: 3, config: { voters: ["a:1"], learners: ["b:2"] } };
  const head = encodeSnapshotHead(encodeSnapshotMeta(meta), 1000, 0xdeadbeef);
  const header = decodeSnapshotHeader(head);
  if (typeof header === "string") throw new Error(header);
  t.same(header, { metaBytes: head.length - 40, dataBytes: 1000, dataCrc: 0xdeadbeef });
  t.same(decodeSnapshotMeta(head, header), meta);
  const bad = Buffer.from(head);
  bad[head.length - 3]! ^= 0x10;
  t.equal(decodeSnapshotMeta(bad, header), "header checksum mismatch");
  t.equal(decodeSnapshotHeader(Buffer.alloc(40)), "bad magic");
});

t.test("file names sort numerically and parse back", async (t) => {
  t.same(classifyFileName(segmentFileName(12)), { kind: "segment", name: segmentFileName(12), segmentSeq: 12 });
  t.same(classifyFileName(snapshotFileName(100, 4)), { kind: "snapshot", name: snapshotFileName(100, 4), index: 100, term: 4 });
  t.ok(segmentFileName(9) < segmentFileName(10));
  t.equal(classifyFileName("x.snap.tmp").kind, "temp");
  t.equal(classifyFileName("snap-1-2.snap").kind, "other");
});

t.test("tail classifier: torn last flush vs damaged acknowledged flush", async (t) => {
  const at = (flushSeq: number, flushPos: number, flushCount: number) => ({ flushSeq, flushPos, flushCount });
  t.same(classifyDamage(true, at(5, 2, 3), []), { kind: "torn" }, "nothing valid after: torn");
  t.same(classifyDamage(true, at(5, 2, 3), [at(6, 4, 9)]), { kind: "torn" }, "rest of the next flush only");
  t.same(classifyDamage(true, at(5, 0, 3), [at(5, 2, 3)]), { kind: "torn" }, "inside the last flush");
  t.equal(classifyDamage(true, at(5, 0, 3), [at(5, 2, 3), at(6, 0, 1)]).kind, "corrupt", "flush 5 was followed by 6: it was acknowledged");
  t.equal(classifyDamage(true, at(5, 2, 3), [at(7, 0, 1)]).kind, "corrupt", "flush 6 vanished but 7 is there");
  t.equal(classifyDamage(true, at(5, 0, 3), [at(6, 0, 1)]).kind, "corrupt", "rest of flush 5 missing yet 6 follows");
  t.equal(classifyDamage(false, at(5, 2, 3), []).kind, "corrupt", "older segments are never torn");
  t.same(classifyDamage(true, null, [at(1, 1, 2)]), { kind: "torn" });
});
