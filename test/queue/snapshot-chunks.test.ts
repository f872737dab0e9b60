// Chunked snapshots of the queue: the chunked encoder gives the whole-buffer bytes in chunks of
// the requested size, the streaming decoder accepts them split anywhere and rejects what the
// whole-buffer decoder rejects, and the state machine refuses to change under an open encoding.
import t from "tap";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { RaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";
import { Driver, smallLimits } from "./helpers";

function busyDriver(): Driver {
  const d = new Driver(smallLimits({ sessionsMax: 8, messagesMax: 40, valueBytesTotalMax: 400, valueBytesMax: 64, sessionCacheBytesMax: 256 }));
  d.enqueue("p1", "héllo", "alpha");
  d.enqueue("p1", "", "alpha");
  d.enqueue("p2", "🎉".repeat(10), "zeta");
  d.enqueue("p2", "x".repeat(60), "default");
  d.nowMs += 10;
  d.dequeue("c1", "alpha");
  d.dequeue("c2", "nope");
  d.enqueue("p1", "tail", "alpha");
  return d;
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)));
}

t.test("chunks of every size concatenate to the whole snapshot; each is exactly chunkBytes but the last", async (t) => {
  const d = busyDriver();
  const whole = Buffer.from(d.machine.snapshot());
  for (const chunkBytes of [1, 3, 7, 16, 100, whole.length - 1, whole.length, whole.length + 5]) {
    const { totalBytes, chunks } = d.machine.snapshotChunks(chunkBytes);
    const list = [...chunks];
    t.equal(totalBytes, whole.length, `totalBytes (${chunkBytes})`);
    t.ok(list.slice(0, -1).every((chunk) => chunk.length === chunkBytes), `full chunks (${chunkBytes})`);
    t.ok(list[list.length - 1]!.length <= chunkBytes, `last chunk bounded (${chunkBytes})`);
    t.same(concat(list), whole, `same bytes (${chunkBytes})`);
  }
});

t.test("the streaming decoder accepts any split and gives the same state", async (t) => {
  const d = busyDriver();
  const whole = d.machine.snapshot();
  const rng = new SeededRng(11);
  for (let round = 0; round < 50; round++) {
    const copy = new QueueStateMachine(d.machine.limits);
    const restore = copy.beginRestore();
    for (let at = 0; at < whole.length; ) {
      const size = 1 + rng.nextInt(round < 10 ? 3 : 40);
      restore.push(whole.subarray(at, Math.min(whole.length, at + size)));
      at += size;
    }
    restore.finish();
    t.same(Buffer.from(copy.snapshot()), Buffer.from(whole));
  }
});

function codeOf(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    if (error instanceof RaftmqError) return error.code;
    throw error;
  }
}

t.test("truncated, extended and damaged streams are refused; the state stays as it was", async (t) => {
  const d = busyDriver();
  const whole = d.machine.snapshot();
  const target = new QueueStateMachine(d.machine.limits);
  const before = Buffer.from(target.snapshot());
  const feed = (bytes: Uint8Array, size: number) => () => {
    const restore = target.beginRestore();
    for (let at = 0; at < bytes.length; at += size) restore.push(bytes.subarray(at, at + size));
    restore.finish();
  };
  t.equal(codeOf(feed(whole.subarray(0, whole.length - 1), 5)), "SNAPSHOT_CORRUPT", "one byte short");
  t.equal(codeOf(feed(Buffer.concat([whole, Buffer.from([0])]), 5)), "SNAPSHOT_CORRUPT", "one byte more");
  const flipped = whole.slice();
  flipped[whole.length - 10]! ^= 1;
  t.equal(codeOf(feed(flipped, 5)), "SNAPSHOT_CORRUPT", "bit flip");
  const otherLimits = new QueueStateMachine(smallLimits({ sessionsMax: 9, messagesMax: 40, valueBytesTotalMax: 400, valueBytesMax: 64, sessionCacheBytesMax: 256 }));
  t.equal(codeOf(() => {
    const restore = otherLimits.beginRestore();
    restore.push(whole);
    restore.finish();
  }), "CONFIG_INVALID", "other limits");
  const limitFlipped = whole.slice();
  limitFlipped[12 + 7]! ^= 1; // a limit damaged: the checksum says so, not CONFIG_INVALID
  t.equal(codeOf(feed(limitFlipped, 7)), "SNAPSHOT_CORRUPT", "damaged limits are corruption");
  t.same(Buffer.from(target.snapshot()), before, "failed restores changed nothing");
});

t.test("a snapshot's chunks say the state at snapshotChunks() however the machine changes meanwhile", async (t) => {
  for (const chunkBytes of [1, 8, 64]) {
    const d = busyDriver();
    const expected = Buffer.from(d.machine.snapshot());
    const { totalBytes, chunks } = d.machine.snapshotChunks(chunkBytes);
    const taken: Uint8Array[] = [];
    let step = 0;
    for (const chunk of chunks) {
      taken.push(chunk);
      // Between chunks: drain queues to empty (their fifos are replaced), refill them, touch
      // and evict sessions, and at one point replace the whole state by a restore.
      switch (step++ % 5) {
        case 0:
          d.dequeue(`c${step}`, "alpha");
          break;
        case 1:
          d.enqueue(`p${step}`, "é".repeat(step % 7), "alpha");
          break;
        case 2:
          d.dequeue(`c${step}`, "zeta");
          d.dequeue(`c${step}b`, "default");
          break;
        case 3:
          d.nowMs += 1;
          d.enqueue("p1", `late ${step}`, "zeta");
          break;
        default:
          if (step === 10) d.machine.restore(busyDriver().machine.snapshot());
          else d.enqueue(`q${step}`, "x", "new");
      }
    }
    t.equal(totalBytes, expected.length, `chunkBytes ${chunkBytes}: totalBytes`);
    t.ok(concat(taken).equals(expected), `chunkBytes ${chunkBytes}: bytes equal the snapshot taken before any change`);
    t.not(Buffer.from(d.machine.snapshot()).equals(expected), `chunkBytes ${chunkBytes}: the machine itself did change`);
  }
});

t.test("reuseChunks: a consumer that is done with each chunk before the next gets the same bytes from a few buffers", async (t) => {
  const d = busyDriver();
  for (let i = 0; i < 30; i++) d.enqueue(`r${i}`, "é".repeat(i % 9), i % 2 === 0 ? "alpha" : "zeta");
  const expected = Buffer.from(d.machine.snapshot());
  const { chunks } = d.machine.snapshotChunks(16, { reuseChunks: true });
  const copies: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for (const chunk of chunks) {
    copies.push(Buffer.from(chunk)); // a copy: the buffer is refilled once the next chunk is asked for
    buffers.add(chunk.buffer);
  }
  t.ok(copies.length > 20, `many chunks (${copies.length})`);
  t.ok(Buffer.concat(copies).equals(expected), "the bytes equal the whole-buffer snapshot");
  // The header alone fills 7 chunks of 16 bytes before the first one is handed out; from then on
  // the buffers go round.
  t.ok(buffers.size <= 8, `${buffers.size} buffers for ${copies.length} chunks`);
});

t.test("values longer than the encoder's byte-by-byte copy come out whole too", async (t) => {
  const d = new Driver(smallLimits({ sessionsMax: 8, messagesMax: 40, valueBytesTotalMax: 4000, valueBytesMax: 1000, sessionCacheBytesMax: 2048 }));
  d.enqueue("p1", "a".repeat(64), "q");
  d.enqueue("p1", "b".repeat(65), "q");
  d.enqueue("p2", "ü".repeat(150), "q"); // 300 UTF-8 bytes
  d.enqueue("p2", "short", "q");
  const whole = Buffer.from(d.machine.snapshot());
  for (const chunkBytes of [7, 100, 400, 4096]) {
    t.same(concat([...d.machine.snapshotChunks(chunkBytes).chunks]), whole, `same bytes (${chunkBytes})`);
  }
  const restored = new QueueStateMachine(d.machine.limits);
  restored.restore(whole);
  t.same(restored.peek("q"), { ok: true, value: "a".repeat(64) });
});
