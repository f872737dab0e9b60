/** PackedEntries against a plain array: pushes, reads, compaction and resets, across block edges. */
import t, { type Test } from "tap";
import { BIG_ENTRY_BYTES, PackedEntries } from "../../src/raft/packed-entries";
import type { EntryKind, LogEntry } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";

const KINDS: EntryKind[] = ["normal", "noop", "config"];

function makeEntry(rng: SeededRng, index: number, term: number): LogEntry {
  // Mostly small data, sometimes empty, sometimes big enough to be kept whole (>= 1 KiB).
  const roll = rng.nextInt(100);
  const length = roll < 5 ? 0 : roll < 10 ? BIG_ENTRY_BYTES + rng.nextInt(3000) : rng.nextInt(300);
  const data = new Uint8Array(length);
  for (let k = 0; k < length; k += 97) data[k] = (index * 31 + k) & 0xff;
  if (length > 0) data[length - 1] = index & 0xff;
  return { index, term, kind: KINDS[rng.nextInt(3)]!, data };
}

function check(t: Test, packed: PackedEntries, model: LogEntry[], first: number): void {
  packed.checkInvariants();
  if (packed.first() !== first || packed.last() !== first + model.length - 1) {
    t.fail(`holds ${packed.first()}..${packed.last()}, want ${first}..${first + model.length - 1}`);
    return;
  }
  for (const want of model) {
    const got = packed.entry(want.index);
    if (got.term !== want.term || got.kind !== want.kind || Buffer.compare(got.data, want.data) !== 0) {
      t.fail(`entry ${want.index} differs`, { got: { term: got.term, kind: got.kind, bytes: got.data.length }, want: { term: want.term, kind: want.kind, bytes: want.data.length } });
      return;
    }
    if (packed.term(want.index) !== want.term || packed.kind(want.index) !== want.kind) t.fail(`term/kind ${want.index} differ`);
  }
}

for (const blockEntries of [1, 2, 3, 7, 64, 256]) {
  t.test(`matches an array of entries (blocks of ${blockEntries})`, async (t) => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new SeededRng(seed * 1000 + blockEntries);
      const start = rng.nextInt(50);
      const packed = new PackedEntries(blockEntries, start);
      let model: LogEntry[] = [];
      let first = start + 1;
      let term = 1;
      const views: LogEntry[] = [];
      for (let step = 0; step < 600; step++) {
        const roll = rng.nextInt(100);
        if (roll < 75) {
          if (rng.chance(0.05)) term++;
          const next = makeEntry(rng, first + model.length, term);
          packed.push(next);
          model.push(next);
        } else if (roll < 90) {
          if (model.length === 0) continue;
          // Compaction: drop a prefix, usually a short one, sometimes all.
          const through = first - 1 + (rng.chance(0.02) ? model.length : rng.nextInt(Math.min(model.length, 30) + 1));
          packed.dropThrough(through);
          model = model.slice(through - first + 1);
          first = through + 1;
        } else if (roll < 95) {
          // A leader's snapshot replaces the log: next entry anywhere above.
          const after = first + model.length - 1 + rng.nextInt(20);
          packed.reset(after);
          model = [];
          first = after + 1;
        } else if (model.length > 0) {
          // Hold on to a view: later pushes (arena growth) must not change it.
          const index = model[rng.nextInt(model.length)]!.index;
          views.push({ ...packed.entry(index) });
          views.push(model[index - first]!);
        }
        if (step % 25 === 0) check(t, packed, model, first);
      }
      check(t, packed, model, first);
      for (let k = 0; k < views.length; k += 2) {
        if (Buffer.compare(views[k]!.data, views[k + 1]!.data) !== 0) t.fail(`a view of entry ${views[k]!.index} changed`);
      }
      t.pass(`seed ${seed}: ${first}..${first + model.length - 1} held as pushed`);
    }
  });
}

t.test("data is copied into the arena, not kept as the caller's view", async (t) => {
  const packed = new PackedEntries(4, 0);
  const source = new Uint8Array([1, 2, 3]);
  packed.push({ index: 1, term: 1, kind: "normal", data: source });
  source[0] = 9;
  t.same([...packed.entry(1).data], [1, 2, 3]);
  t.not(packed.entry(1).data.buffer, source.buffer);
  const big = new Uint8Array(BIG_ENTRY_BYTES);
  packed.push({ index: 2, term: 1, kind: "normal", data: big });
  t.equal(packed.entry(2).data, big, "big data that owns its buffer is kept as it is");
  const frame = new Uint8Array(4 * BIG_ENTRY_BYTES).fill(5);
  packed.push({ index: 3, term: 1, kind: "normal", data: frame.subarray(10, 10 + BIG_ENTRY_BYTES) });
  const kept = packed.entry(3).data;
  t.equal(kept.buffer.byteLength, BIG_ENTRY_BYTES, "big data viewing a larger buffer is copied out of it");
  t.equal(kept[0], 5);
  frame.fill(6);
  t.equal(packed.entry(3).data[0], 5, "and no longer shares it");
});

t.test("out-of-order pushes and reads outside the run are bugs", async (t) => {
  const packed = new PackedEntries(4, 10);
  t.throws(() => packed.push({ index: 12, term: 1, kind: "normal", data: new Uint8Array(0) }), /contiguous/);
  packed.push({ index: 11, term: 1, kind: "normal", data: new Uint8Array(0) });
  t.throws(() => packed.entry(10), /not held/);
  t.throws(() => packed.term(12), /not held/);
  t.throws(() => new PackedEntries(0, 0), /positive integer/);
});

t.test("compaction releases whole blocks", async (t) => {
  const packed = new PackedEntries(100, 0);
  for (let index = 1; index <= 1000; index++) packed.push({ index, term: 1, kind: "normal", data: new Uint8Array(64) });
  const before = packed.heldBytes();
  packed.dropThrough(550);
  packed.checkInvariants();
  t.equal(packed.first(), 551);
  // The five blocks of 1-500 are gone (terms 8 B, kind 1 B, end 4 B, data 64 B per entry);
  // 501-600 stays for 551-600.
  t.equal(before - packed.heldBytes(), 5 * 100 * (8 + 1 + 4 + 64));
  t.equal(packed.term(551), 1);
});
