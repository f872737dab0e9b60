// WalWriter.forgetSegmentsThrough: which old segments compaction may delete.
import t from "tap";
import { WalWriter, type SegmentInfo } from "../../src/storage/wal-writer";
import { newStorageStats } from "../../src/storage/fs-util";
import type { FileHandle } from "node:fs/promises";

function writer(segments: SegmentInfo[]): WalWriter {
  const options = { dir: "/nonexistent", fsync: false, segmentBytes: 1, flushBytesMax: 1, writeChunkBytes: 1, queuedBatchesMax: 1, preallocateBytes: 0, blockingWrites: false };
  const state = { segments, handle: {} as FileHandle, segmentBytesUsed: 0, segmentFileBytes: 0, nextFlushSeq: 1, lastIndex: 0, lastHardState: Buffer.alloc(0) };
  return new WalWriter(options, state, newStorageStats(), { info() {}, warn() {}, error() {} });
}

const seg = (segmentSeq: number, maxIndex: number, hasHardState = true): SegmentInfo => ({ segmentSeq, name: `s${segmentSeq}`, maxIndex, hasHardState });

t.test("only a prefix wholly at or below the index goes, never the current segment", async (t) => {
  const w = writer([seg(1, 10), seg(2, 20), seg(3, 30), seg(4, 40)]);
  t.same(w.forgetSegmentsThrough(25).map((s) => s.segmentSeq), [1, 2]);
  t.same(w.forgetSegmentsThrough(1000).map((s) => s.segmentSeq), [3], "the current segment stays");
  t.same(w.segments().map((s) => s.segmentSeq), [4]);
});

t.test("a segment whose successor holds no durable hard state yet is kept", async (t) => {
  // Segment 2 was just rotated in; its first flush (SegmentStart + HardState) is not durable yet.
  const w = writer([seg(1, 10), seg(2, 10, false)]);
  t.same(w.forgetSegmentsThrough(100), []);
  const later = writer([seg(1, 10), seg(2, 10, true)]);
  t.same(later.forgetSegmentsThrough(100).map((s) => s.segmentSeq), [1]);
});
