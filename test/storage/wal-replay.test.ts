// LogReplay: the rules that turn the append-only WAL into the log (truncation, markers, joins).
import t from "tap";
import { LogReplay } from "../../src/storage/wal-replay";
import { WalDecodeError } from "../../src/storage/wal-records";

type It = { index: number; term: number };
const it = (index: number, term: number): It => ({ index, term });

function replay(floorIndex = 0): LogReplay<It> {
  const log = new LogReplay<It>();
  log.segmentStart({ segmentSeq: 1, floorIndex });
  return log;
}

function fill(log: LogReplay<It>, from: number, to: number, term: number): void {
  for (let i = from; i <= to; i++) log.entry(it(i, term));
}

t.test("appending below the end truncates the conflicting suffix (§5.3)", async (t) => {
  const log = replay();
  fill(log, 1, 10, 1);
  log.entry(it(6, 2));
  t.equal(log.lastIndex(), 6);
  t.equal(log.termAt(5), 1);
  t.equal(log.termAt(6), 2);
  t.equal(log.termAt(7), undefined);
});

t.test("a gap or a decreasing term is corruption", async (t) => {
  const log = replay();
  fill(log, 1, 3, 2);
  t.throws(() => log.entry(it(5, 2)), WalDecodeError);
  t.throws(() => log.entry(it(4, 1)), WalDecodeError);
  const headless = new LogReplay<It>();
  t.throws(() => headless.entry(it(1, 1)), WalDecodeError, "records before SegmentStart");
});

t.test("a marker with a matching entry keeps the suffix, otherwise discards the log (§7)", async (t) => {
  const keep = replay();
  fill(keep, 1, 10, 1);
  keep.marker(it(5, 1));
  t.equal(keep.firstIndex(), 6);
  t.equal(keep.lastIndex(), 10);
  const discard = replay();
  fill(discard, 1, 10, 1);
  discard.marker(it(5, 3));
  t.equal(discard.firstIndex(), 6);
  t.equal(discard.lastIndex(), 5, "whole log discarded, continues at 6");
  const beyond = replay();
  fill(beyond, 1, 3, 1);
  beyond.marker(it(20, 4));
  t.equal(beyond.lastIndex(), 20);
  beyond.entry(it(21, 4));
  t.equal(beyond.firstIndex(), 21);
});

t.test("finish joins a snapshot or reports the gap", async (t) => {
  const log = replay(100); // earlier segments were deleted by compaction
  fill(log, 101, 120, 3);
  const gap = log.finish({ index: 50, term: 2 });
  t.equal(gap.ok, false);
  const joined = log.finish({ index: 110, term: 3 });
  t.equal(joined.ok, true);
  if (joined.ok) t.same(joined.entries.map((e) => e.index), [111, 112, 113, 114, 115, 116, 117, 118, 119, 120]);
  const fresh = replay();
  t.equal(fresh.finish(null).ok, true);
  const late = replay(100);
  t.equal(late.finish(null).ok, false, "no snapshot but the log starts at 101");
});

t.test("a later segment's floor must equal the replayed log's end", async (t) => {
  const log = replay();
  fill(log, 1, 5, 1);
  log.segmentStart({ segmentSeq: 2, floorIndex: 5 });
  t.throws(() => log.segmentStart({ segmentSeq: 3, floorIndex: 4 }), WalDecodeError);
});
