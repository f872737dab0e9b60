// The queue state machine, command by command (invariants checked after each by the Driver):
// FIFO order, named queues, EMPTY, value limits, queue limits, exactly-once retries, stale
// sequence numbers, session expiry by the replicated clock and LRU eviction.
import t from "tap";
import { encodeCommand } from "../../src/queue/command-codec";
import { makeQueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { AssertionError } from "../../src/util/assert";
import { RaftmqError } from "../../src/util/errors";
import { Driver, smallLimits } from "./helpers";

t.test("FIFO order within a queue, independent named queues", async (t) => {
  const d = new Driver();
  for (let i = 0; i < 2500; i++) d.enqueue("p", `m${i}`); // crosses several chunk boundaries
  d.enqueue("p", "other-1", "other");
  const taken: string[] = [];
  for (let i = 0; i < 2500; i++) {
    const result = d.dequeue("c");
    if (result.ok && result.op === "dequeue") taken.push(result.value);
  }
  t.same(taken, Array.from({ length: 2500 }, (_, i) => `m${i}`));
  t.same(d.dequeue("c"), { ok: false, error: "EMPTY" });
  t.same(d.machine.peek("other"), { ok: true, value: "other-1" });
  t.equal(d.machine.length("other"), 1);
  t.equal(d.machine.length("default"), 0);
});

t.test("enqueue returns the entry index; dequeue returns value and that index", async (t) => {
  const d = new Driver();
  d.index = 41;
  t.same(d.enqueue("p", "a"), { ok: true, op: "enqueue", index: 42 });
  d.index = 99; // noop/config entries in between are not applied here
  t.same(d.enqueue("p", "b"), { ok: true, op: "enqueue", index: 100 });
  t.same(d.dequeue("c"), { ok: true, op: "dequeue", index: 42, value: "a" });
  t.same(d.dequeue("c"), { ok: true, op: "dequeue", index: 100, value: "b" });
});

t.test("EMPTY consumes nothing; peek and length are reads", async (t) => {
  const d = new Driver();
  t.same(d.dequeue("c", "q"), { ok: false, error: "EMPTY" });
  t.same(d.machine.peek("q"), { ok: false, error: "EMPTY" });
  d.enqueue("p", "x", "q");
  t.same(d.machine.peek("q"), { ok: true, value: "x" });
  t.same(d.machine.peek("q"), { ok: true, value: "x" }, "peek takes nothing");
  t.equal(d.machine.length("q"), 1);
  t.same(d.dequeue("c", "q"), { ok: true, op: "dequeue", index: 2, value: "x" });
  t.equal(d.machine.stats().queueCount, 0, "an emptied queue is gone");
  t.throws(() => d.machine.peek("bad name"), { code: "BAD_REQUEST" });
  t.throws(() => d.machine.length(""), { code: "BAD_REQUEST" });
});

t.test("values: unicode, empty, exactly max and over max (checked when applying)", async (t) => {
  const d = new Driver(smallLimits({ valueBytesMax: 8 }));
  const values = ["", "日本", "🎉🎉", "\uFEFF", "12345678"];
  for (const value of values) t.equal(d.enqueue("p", value).ok, true, JSON.stringify(value));
  // The codec accepts it (its hard cap is larger); the state machine's limit rejects it.
  t.same(d.enqueue("p", "123456789"), { ok: false, error: "VALUE_TOO_LARGE" });
  t.same(d.enqueue("p", "éééé1"), { ok: false, error: "VALUE_TOO_LARGE" }, "limit counts UTF-8 bytes");
  for (const value of values) t.same(d.dequeue("c"), { ok: true, op: "dequeue", index: values.indexOf(value) + 1, value });
  t.equal(d.machine.stats().valueBytesTotal, 0);
});

t.test("QUEUE_FULL for the queue count, message count and byte budget", async (t) => {
  const d = new Driver(smallLimits({ queuesMax: 2, messagesMax: 4, valueBytesTotalMax: 20, valueBytesMax: 10 }));
  t.equal(d.enqueue("p", "a", "q1").ok, true);
  t.equal(d.enqueue("p", "b", "q2").ok, true);
  t.same(d.enqueue("p", "c", "q3"), { ok: false, error: "QUEUE_FULL" }, "third queue");
  t.equal(d.enqueue("p", "c", "q1").ok, true, "existing queue still accepts");
  t.equal(d.enqueue("p", "0123456789", "q2").ok, true, "13 bytes");
  t.same(d.enqueue("p", "x", "q1"), { ok: false, error: "QUEUE_FULL" }, "fifth message");
  t.equal(d.dequeue("c", "q1").ok, true);
  t.same(d.enqueue("p", "0123456789", "q1"), { ok: false, error: "QUEUE_FULL" }, "byte budget: 12 + 10 > 20");
  t.equal(d.enqueue("p", "01234567", "q1").ok, true, "12 + 8 = 20 fits exactly");
  t.equal(d.dequeue("c", "q2").ok, true);
  t.equal(d.dequeue("c", "q2").ok, true);
  t.equal(d.enqueue("p", "y", "q3").ok, true, "q2 emptied, so q3 may exist");
});

t.test("exactly-once: a retried command returns the cached result and runs once", async (t) => {
  const d = new Driver();
  d.enqueue("p", "first");
  d.enqueue("p", "second");
  const enqueueRetry = d.enqueue("p", "second", "default", d.lastSeq("p"));
  t.same(enqueueRetry, { ok: true, op: "enqueue", index: 2 }, "retried enqueue: same index");
  t.equal(d.machine.length("default"), 2, "retried enqueue added nothing");
  const taken = d.dequeue("c");
  t.same(taken, { ok: true, op: "dequeue", index: 1, value: "first" });
  for (let i = 0; i < 3; i++) {
    t.same(d.dequeue("c", "default", d.lastSeq("c")), taken, "retried dequeue: same value, nothing more taken");
  }
  t.equal(d.machine.length("default"), 1);
  const empty = d.dequeue("e", "nothing-here");
  t.same(d.dequeue("e", "nothing-here", 1), empty, "a cached EMPTY is returned again");
  const tooLarge = new Driver(smallLimits({ valueBytesMax: 2 }));
  t.same(tooLarge.enqueue("p", "abc"), { ok: false, error: "VALUE_TOO_LARGE" });
  t.same(tooLarge.enqueue("p", "ab", "default", 1), { ok: false, error: "VALUE_TOO_LARGE" }, "errors are cached too");
});

t.test("stale and missing sessions", async (t) => {
  const d = new Driver();
  d.enqueue("p", "a");
  d.enqueue("p", "b");
  d.enqueue("p", "c");
  t.same(d.enqueue("p", "late retry", "default", 2), { ok: false, error: "STALE_SEQUENCE" });
  t.same(d.dequeue("p", "default", 1), { ok: false, error: "STALE_SEQUENCE" });
  t.equal(d.machine.length("default"), 3, "stale commands change nothing");
  t.same(d.dequeue("stranger", "default", 5), { ok: false, error: "SESSION_EXPIRED" });
  t.equal(d.machine.stats().sessionCount, 1, "no session created by an unknown client's seq > 1");
  t.equal(d.enqueue("p", "gap ok", "default", 10).ok, true, "seq may skip numbers (abandoned commands)");
  t.same(d.enqueue("p", "x", "default", 9), { ok: false, error: "STALE_SEQUENCE" });
});

t.test("sessions expire by the replicated clock (max proposedAtMs), not by a local one", async (t) => {
  const d = new Driver(smallLimits({ sessionTtlMs: 1000 }));
  d.nowMs = 10_000;
  d.enqueue("a", "1");
  d.nowMs = 11_000; // exactly the TTL later: still alive
  t.same(d.dequeue("a", "default", 1), { ok: true, op: "enqueue", index: 1 }, "retry within the TTL is cached");
  d.nowMs = 11_500;
  d.enqueue("b", "2");
  d.nowMs = 5_000; // a leader with a slow clock cannot move the clock back
  d.enqueue("c", "3");
  t.equal(d.machine.clockMs, 11_500);
  d.nowMs = 12_001; // "a" was last used at 11_000: idle 1001 ms > TTL
  t.same(d.enqueue("a", "retry", "default", 1).ok, true, "seq 1 after expiry starts a new session");
  t.equal(d.machine.length("default"), 4, "which executes again: the documented risk of retrying past the TTL");
  d.nowMs = 13_000;
  t.same(d.enqueue("a", "next", "default", 2), { ok: true, op: "enqueue", index: 6 });
  d.nowMs = 20_000;
  t.same(d.enqueue("a", "after idle", "default", 3), { ok: false, error: "SESSION_EXPIRED" });
  t.equal(d.machine.stats().sessionCount, 0, "everybody idle for over the TTL is gone");
  t.equal(d.machine.length("default"), 5);
});

t.test("LRU eviction beyond sessionsMax and the cached-bytes budget", async (t) => {
  const d = new Driver(smallLimits({ sessionsMax: 3, sessionCacheBytesMax: 20, valueBytesMax: 10 }));
  for (const id of ["s1", "s2", "s3"]) d.enqueue(id, "0123456789");
  d.enqueue("s1", "x"); // s1 becomes the most recently used
  d.enqueue("s4", "y"); // evicts s2, the least recently used
  t.same(d.enqueue("s2", "again", "default", 2), { ok: false, error: "SESSION_EXPIRED" });
  t.equal(d.enqueue("s3", "z").ok, true, "s3 survived");
  // Cached dequeue values count against sessionCacheBytesMax (20 bytes).
  d.dequeue("s1"); // caches 10 bytes
  d.dequeue("s3"); // caches 10 bytes: 20 in total, fits
  t.equal(d.machine.stats().sessionCachedBytes, 20);
  d.dequeue("s4"); // 30 > 20: evicts s1 (least recently used), leaving 20
  t.equal(d.machine.stats().sessionCachedBytes, 20);
  t.same(d.dequeue("s1", "default", 3), { ok: false, error: "SESSION_EXPIRED" });
  t.equal(d.machine.stats().sessionCount, 2);
});

t.test("undecodable entries are BAD_REQUEST and change nothing but lastApplied", async (t) => {
  const d = new Driver();
  d.enqueue("p", "a");
  const before = d.machine.snapshot();
  t.same(d.applyBytes(new Uint8Array([1, 1, 0])), { ok: false, error: "BAD_REQUEST" });
  t.same(d.applyBytes(new Uint8Array(0)), { ok: false, error: "BAD_REQUEST" });
  t.equal(d.machine.lastApplied, 3);
  const after = new QueueStateMachine(d.machine.limits);
  after.restore(d.machine.snapshot());
  t.equal(after.lastApplied, 3);
  t.equal(after.length("default"), 1);
  t.equal(before.length, d.machine.snapshot().length, "same state apart from lastApplied");
});

t.test("applying out of order is a bug (assertion), not an operating error", async (t) => {
  const machine = new QueueStateMachine(makeQueueLimits());
  const data = encodeCommand({ op: "dequeue", queue: "default", clientId: "c", seq: 1, proposedAtMs: 0 });
  machine.apply(5, data);
  t.throws(() => machine.apply(5, data), AssertionError);
  t.throws(() => machine.apply(4, data), AssertionError);
});

t.test("limits are validated when built", async (t) => {
  const code = (o: Record<string, unknown>): string => {
    try {
      makeQueueLimits(o);
      return "ok";
    } catch (e) {
      if (e instanceof RaftmqError) return e.code;
      throw e;
    }
  };
  t.equal(code({}), "ok");
  t.equal(code({ valueBytesMaxx: 3 }), "CONFIG_INVALID", "unknown key");
  t.equal(code({ queuesMax: 0 }), "CONFIG_INVALID");
  t.equal(code({ sessionTtlMs: 1.5 }), "CONFIG_INVALID");
  t.equal(code({ valueBytesMax: "10" }), "CONFIG_INVALID");
  t.equal(code({ valueBytesMax: 100, valueBytesTotalMax: 99 }), "CONFIG_INVALID");
  t.equal(code({ valueBytesMax: 100, sessionCacheBytesMax: 99 }), "CONFIG_INVALID");
  t.equal(code({ valueBytesMax: 32 * 1024 * 1024 }), "CONFIG_INVALID", "over the codec hard cap");
});
