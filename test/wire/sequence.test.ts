// SendStream and ReceiveWindow (pure): limits, eviction, resume order after a reconnect, and the
// at-most-once, in-order delivery they give together.
import t from "tap";
import { type OutgoingFrame, ReceiveWindow, SendStream } from "../../src/wire/sequence";
import { SeededRng } from "../../src/util/rng";
import { liveAfterGc } from "../support/collectable";

const limits = { queueFramesMax: 8, queueBytesMax: 800, retransmitFramesMax: 4, retransmitBytesMax: 400 };

function push(stream: SendStream, bytes = 10, requestId = 0): OutgoingFrame {
  const frame = { seq: stream.takeSeq(), requestId, bytes: Buffer.alloc(bytes) };
  stream.enqueue(frame);
  return frame;
}

t.test("the queue refuses beyond its frame and byte limits", async (t) => {
  const stream = new SendStream(limits);
  for (let i = 0; i < 8; i++) {
    t.ok(stream.hasRoom(10));
    push(stream);
  }
  t.notOk(stream.hasRoom(10), "frame limit");
  const bytes = new SendStream(limits);
  push(bytes, 700);
  t.notOk(bytes.hasRoom(101), "byte limit");
  t.ok(bytes.hasRoom(100));
  t.ok(bytes.aboveLowWater());
});

t.test("written frames move to a bounded retransmit buffer; resume requeues the undelivered in order", async (t) => {
  const stream = new SendStream(limits);
  for (let i = 0; i < 6; i++) push(stream, 10, i % 2 === 0 ? i + 1 : 0);
  const written: number[] = [];
  for (let f = stream.shift(); f !== null; f = stream.shift()) written.push(f.seq);
  t.same(written, [1, 2, 3, 4, 5, 6]);
  t.equal(stream.retransmitFrames, 4, "oldest evicted beyond retransmitFramesMax");
  push(stream); // seq 7, not yet written
  stream.resume(3, (frame) => frame.requestId !== 5); // receiver has 1..3; the call of seq 5 ended
  const order: number[] = [];
  for (let f = stream.shift(); f !== null; f = stream.shift()) order.push(f.seq);
  t.same(order, [4, 6, 7], "undelivered, still wanted, then the queue");
  stream.ackThrough(6);
  t.equal(stream.retransmitFrames, 1);
  t.same(stream.clear(), []);
  t.equal(stream.retransmitFrames, 0);
});

t.test("frames evicted or acknowledged are not kept reachable by the stream", async (t) => {
  const stream = new SendStream(limits);
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 6; i++) {
    const frame = push(stream);
    refs.push(new WeakRef(frame), new WeakRef(frame.bytes));
  }
  for (let f = stream.shift(); f !== null; f = stream.shift()); // all written; 1-2 evicted
  stream.ackThrough(4); // 3-4 acknowledged
  t.equal(stream.retransmitFrames, 2);
  t.equal(await liveAfterGc(refs.slice(0, 8)), 0, "frames 1-4 and their bytes are collectable");
  t.equal(await liveAfterGc(refs.slice(8)), 4, "frames 5-6 are still held for a resend");
});

t.test("random reconnects: every seq is delivered at most once, in order", async (t) => {
  const rng = new SeededRng(5);
  const stream = new SendStream({ queueFramesMax: 1000, queueBytesMax: 1 << 20, retransmitFramesMax: 50, retransmitBytesMax: 1 << 20 });
  const window = new ReceiveWindow();
  const delivered: number[] = [];
  for (let round = 0; round < 500; round++) {
    for (let i = rng.nextInt(5); i > 0; i--) push(stream);
    // Write some frames; the "network" delivers a prefix of them, then the connection dies.
    const inFlight: number[] = [];
    for (let n = rng.nextInt(8); n > 0; n--) {
      const f = stream.shift();
      if (f === null) break;
      inFlight.push(f.seq);
    }
    const arrived = inFlight.slice(0, rng.nextInt(inFlight.length + 1));
    const duplicated = rng.chance(0.3) ? arrived.concat(arrived) : arrived;
    for (const seq of duplicated) if (window.accept(seq)) delivered.push(seq);
    if (rng.chance(0.5)) stream.resume(window.lastDeliveredSeq, () => true);
  }
  const unique = new Set(delivered);
  t.equal(unique.size, delivered.length, "no seq delivered twice");
  t.ok(delivered.every((seq, i) => i === 0 || seq > delivered[i - 1]!), "strictly increasing");
  t.ok(delivered.length > 100, `${delivered.length} delivered`);
});
