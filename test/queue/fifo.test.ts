// Fifo against an array model: seeded pushes and drops of values from empty to 700 KiB, ASCII
// and multi-byte, so messages cross chunk boundaries, arenas grow, and chunks close early when
// their arena is full (1 MiB). After every step the oldest value, its index and byte length,
// the count, the byte total and the whole walk must equal the model's.
import t from "tap";
import { Fifo } from "../../src/queue/fifo";
import { SeededRng } from "../../src/util/rng";

const alphabet = ["a", "z", "0", "é", "日", "🎉", "\uFEFF"];
const encoder = new TextEncoder();
const utf8 = (value: string): Uint8Array => encoder.encode(value);

function randomValue(rng: SeededRng): string {
  const roll = rng.nextInt(100);
  const length = roll < 70 ? rng.nextInt(80) : roll < 95 ? rng.nextInt(5000) : 100_000 + rng.nextInt(200_000);
  const unit = alphabet[rng.nextInt(alphabet.length)]!;
  return rng.nextInt(2) === 0 ? "x".repeat(length) : unit.repeat(Math.ceil(length / 3));
}

for (const seed of [1, 2, 3, 4, 5]) {
  t.test(`seed ${seed}: fifo equals the array model`, async (t) => {
    const rng = new SeededRng(seed);
    const fifo = new Fifo();
    const model: { value: string; bytes: number; index: number }[] = [];
    let nextIndex = 1;
    let mismatches = 0;
    for (let step = 0; step < 3000; step++) {
      const pushBias = step < 2000 ? 60 : 35; // grow, then drain past empty and refill
      if (model.length === 0 || rng.nextInt(100) < pushBias) {
        const value = randomValue(rng);
        const bytes = Buffer.byteLength(value, "utf8");
        fifo.pushUtf8(utf8(value), nextIndex);
        model.push({ value, bytes, index: nextIndex });
        nextIndex += 1;
      } else {
        fifo.drop();
        model.shift();
      }
      if (fifo.count !== model.length) mismatches++;
      if (fifo.valueBytes !== model.reduce((sum, m) => sum + m.bytes, 0)) mismatches++;
      if (model.length > 0) {
        if (fifo.peekValue() !== model[0]!.value) mismatches++;
        if (fifo.peekIndex() !== model[0]!.index) mismatches++;
        if (fifo.peekValueBytes() !== model[0]!.bytes) mismatches++;
      }
      if (step % 97 === 0 || step === 2999) {
        const walked: { value: string; bytes: number; index: number }[] = [];
        fifo.forEach((value, bytes, index) => walked.push({ value, bytes, index }));
        t.same(walked, model, `walk at step ${step}`);
      }
    }
    t.equal(mismatches, 0, "every step matched the model");
  });
}

t.test("a drained fifo starts over and keeps order", async (t) => {
  const fifo = new Fifo();
  for (let i = 1; i <= 20; i++) fifo.pushUtf8(utf8(`v${i}`), i);
  for (let i = 1; i <= 20; i++) fifo.drop();
  t.equal(fifo.count, 0);
  t.equal(fifo.valueBytes, 0);
  fifo.pushUtf8(utf8("after"), 21);
  t.equal(fifo.peekValue(), "after");
  t.equal(fifo.peekIndex(), 21);
});

// A chunk keeps each message's log index as a 32-bit distance from its first message's. A queue
// that sees one message in billions of log entries, or indexes that do not grow (a caller's bug
// would be the only way), must still read back exactly what went in: such a message opens a
// new chunk instead of wrapping the distance.
t.test("log indexes far apart or not growing read back exactly", async (t) => {
  const fifo = new Fifo();
  const indexes = [5, 5 + 0xffff_ffff, 6 + 0xffff_ffff, 2 ** 53 - 1, 7, 7, 2 ** 40];
  indexes.forEach((index, i) => fifo.pushUtf8(utf8(`m${i}`), index));
  const walked: number[] = [];
  fifo.forEach((_value, _bytes, index) => walked.push(index));
  t.same(walked, indexes, "walk");
  for (let i = 0; i < indexes.length; i++) {
    t.equal(fifo.peekIndex(), indexes[i], `peekIndex of message ${i}`);
    t.equal(fifo.peekValue(), `m${i}`, `value of message ${i}`);
    fifo.drop();
  }
  t.equal(fifo.count, 0);
});
