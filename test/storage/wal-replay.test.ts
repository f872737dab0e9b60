// LogReplay: the rules that turn the append-only WAL into the log (truncation, markers, joins).
import t from "tap";
import { LogReplay } from "../../src/storage/wal-replay";
import { WalDecodeError } from "../../src/storage/wal-records";
import { SeededRng } from "../../src/util/rng";

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

/** The replay rules written the plain way (an array of every entry), to hold LogReplay's term runs to. */
class ArrayReplay {
  entries: It[] = [];
  floor = 0;
  first(): number {
    return this.entries.length > 0 ? this.entries[0]!.index : this.floor + 1;
  }
  last(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.index : this.floor;
  }
  termAt(index: number): number | undefined {
    return this.entries.find((e) => e.index === index)?.term;
  }
  entry(e: It): boolean {
    if (e.index > this.last() + 1) return false;
    this.entries = this.entries.filter((x) => x.index < e.index);
    const previous = this.entries[this.entries.length - 1];
    if (previous !== undefined && previous.term > e.term) return false;
    if (this.entries.length === 0) this.floor = e.index - 1;
    this.entries.push(e);
    return true;
  }
  install(at: It): void {
    if (at.index < this.first()) return;
    if (this.termAt(at.index) === at.term) {
      this.entries = this.entries.filter((x) => x.index > at.index);
      if (this.entries.length === 0) this.floor = at.index;
      return;
    }
    this.entries = [];
    this.floor = at.index;
  }
}

t.test("term runs answer as an array of every entry would (random WAL histories)", async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const rng = new SeededRng(seed);
    const floor = rng.nextInt(20);
    const kept = replay(floor);
    const lean = new LogReplay<It>({ keepEntries: false });
    lean.segmentStart({ segmentSeq: 1, floorIndex: floor });
    const model = new ArrayReplay();
    model.floor = floor;
    let term = 1 + rng.nextInt(3);
    for (let step = 0; step < 150; step++) {
      const roll = rng.nextInt(100);
      if (roll < 70) {
        // Mostly the next entry; sometimes a leader's overwrite further back, in a later term.
        if (rng.chance(0.1)) term += 1 + rng.nextInt(2);
        const back = rng.chance(0.1) ? rng.nextInt(8) : 0;
        const index = Math.max(1, model.last() + 1 - back);
        // An overwrite in its predecessor's term is legal; one below it is corruption.
        const entryTerm = back > 0 && rng.chance(0.5) ? Math.max(1, (model.termAt(index - 1) ?? term) - rng.nextInt(2)) : term;
        const e = it(index, entryTerm);
        if (!model.entry(e)) {
          t.throws(() => kept.entry(e), WalDecodeError, `seed ${seed}: entry ${index} term ${entryTerm} is refused`);
          t.throws(() => lean.entry(e), WalDecodeError);
          break;
        }
        kept.entry(e);
        lean.entry(e);
      } else if (roll < 90) {
        // A marker: at a held index with its term or another, or beyond the end.
        const span = model.last() - model.first() + 1;
        const index = model.first() - 1 + rng.nextInt(span + 6);
        const markerTerm = rng.chance(0.7) ? (model.termAt(index) ?? term) : term + 1;
        if (markerTerm > term) term = markerTerm;
        model.install(it(index, markerTerm));
        kept.marker(it(index, markerTerm));
        lean.marker(it(index, markerTerm));
      } else {
        kept.segmentStart({ segmentSeq: 2 + step, floorIndex: model.last() });
        lean.segmentStart({ segmentSeq: 2 + step, floorIndex: model.last() });
      }
      for (const log of [kept, lean]) {
        if (log.firstIndex() !== model.first() || log.lastIndex() !== model.last()) {
          t.fail(`seed ${seed} step ${step}: ${log.firstIndex()}..${log.lastIndex()}, want ${model.first()}..${model.last()}`);
          return;
        }
        for (let index = model.first() - 3; index <= model.last() + 3; index++) {
          if (log.termAt(index) !== model.termAt(index)) {
            t.fail(`seed ${seed} step ${step}: term at ${index} is ${log.termAt(index)}, want ${model.termAt(index)}`);
            return;
          }
        }
      }
    }
    const finished = kept.finish({ index: model.first() - 1, term: model.termAt(model.first() - 1) ?? 0 });
    t.ok(finished.ok, `seed ${seed}: finish joins at the first index`);
    if (finished.ok) t.same(finished.entries, model.entries, `seed ${seed}: the kept entries`);
  }
  t.throws(() => new LogReplay<It>({ keepEntries: false }).finish(null), /keeps its entries/);
});
