/** Snapshot chunking: split and reassemble, gaps and foreign chunks dropped, backpressure honoured. */
import t from "tap";
import { SnapshotAssembler, SnapshotSender, splitSnapshot, type InstallSnapshotBody } from "../../src/node/snapshot-chunks";
import { SeededRng } from "../../src/util/rng";

function snapshotBody(bytes: number, term = 3, index = 100): InstallSnapshotBody {
  const rng = new SeededRng(bytes);
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = rng.nextInt(256);
  return { from: "a:1", to: "b:2", term, meta: { index, term: 2, config: { voters: ["a:1", "b:2"], learners: [] } }, data, chunkOffset: 0, totalBytes: bytes };
}

t.test("split then reassemble gives the same bytes, for sizes around the chunk size", async (t) => {
  for (const bytes of [0, 1, 999, 1000, 1001, 5000, 12345]) {
    const body = snapshotBody(bytes);
    const chunks = splitSnapshot(body, 1000);
    t.equal(chunks.length, Math.max(1, Math.ceil(bytes / 1000)), `${bytes} bytes -> chunk count`);
    for (const chunk of chunks) t.ok(chunk.data.length <= 1000, "chunk within the limit");
    const assembler = new SnapshotAssembler(1 << 20);
    const results = chunks.map((chunk) => assembler.push("a:1", chunk));
    const last = results.pop();
    t.ok(results.every((r) => r.kind === "partial"), "all but the last are partial");
    t.equal(last?.kind, "complete");
    if (last?.kind === "complete") t.same(Buffer.from(last.body.data), Buffer.from(body.data), `${bytes} bytes intact`);
    t.equal(assembler.bytesHeld, 0, "nothing held after completion");
  }
});

t.test("a gap, a foreign term and an oversized snapshot are dropped", async (t) => {
  const chunks = splitSnapshot(snapshotBody(5000), 1000);
  const gap = new SnapshotAssembler(1 << 20);
  gap.push("a:1", chunks[0]!);
  t.equal(gap.push("a:1", chunks[2]!).kind, "dropped", "a missing chunk discards the partial snapshot");
  t.equal(gap.push("a:1", chunks[3]!).kind, "dropped", "and later chunks too, until a new start");
  t.equal(gap.bytesHeld, 0);
  const mixed = new SnapshotAssembler(1 << 20);
  mixed.push("a:1", chunks[0]!);
  const other = splitSnapshot(snapshotBody(5000, 4), 1000);
  t.equal(mixed.push("a:1", other[1]!).kind, "dropped", "a chunk of another term does not continue");
  const small = new SnapshotAssembler(4000);
  t.equal(small.push("a:1", chunks[0]!).kind, "dropped", "total above the limit is refused before allocating");
  t.equal(small.bytesHeld, 0);
  const twoSenders = new SnapshotAssembler(1 << 20);
  twoSenders.push("a:1", chunks[0]!);
  twoSenders.push("c:3", chunks[0]!);
  t.equal(twoSenders.bytesHeld, 10000, "one partial per sender");
  const restart = new SnapshotAssembler(1 << 20);
  restart.push("a:1", chunks[0]!);
  restart.push("a:1", chunks[1]!);
  const again = chunks.map((chunk) => restart.push("a:1", chunk).kind);
  t.same(again, ["partial", "partial", "partial", "partial", "complete"], "a resend from offset 0 starts over");
});

t.test("the sender stops when the transport is full and resumes on drain", async (t) => {
  const sent: InstallSnapshotBody[] = [];
  let room = 2;
  const sender = new SnapshotSender({ send: (_to, body) => (room > 0 ? (room--, sent.push(body), true) : false) }, 1000);
  sender.send("b:2", snapshotBody(4500));
  t.equal(sent.length, 2, "two chunks accepted");
  t.equal(sender.peersInProgress, 1);
  room = 10;
  sender.drained("b:2");
  t.equal(sent.length, 5, "the rest after drain");
  t.equal(sender.peersInProgress, 0);
  room = 1;
  sender.send("b:2", snapshotBody(3000, 3, 100));
  sender.send("b:2", snapshotBody(2000, 3, 200));
  room = 10;
  sender.drained("b:2");
  const newer = sent.slice(6);
  t.ok(newer.every((body) => body.meta?.index === 200), "a newer snapshot replaces the one in progress");
  t.equal(newer.length, 1 + 1, "the newer snapshot's remaining chunks (one went out before drain)");
});
