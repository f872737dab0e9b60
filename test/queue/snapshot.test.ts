// Snapshots of the queue state: exact round trips, restore-then-apply equals never snapshotting,
// and corrupt or forged snapshots rejected with a typed error (never an assertion or a crash),
// leaving the current state untouched.
import t from "tap";
import { crc32 } from "node:zlib";
import { encodeCommand } from "../../src/queue/command-codec";
import { CRC32C_START, crc32c, crc32cFinish, crc32cUpdate } from "../../src/queue/crc32c";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { RaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";
import { Driver, smallLimits } from "./helpers";

const LIMITS_OFFSET = 12;
const LAST_APPLIED_OFFSET = LIMITS_OFFSET + 7 * 8;
const CLOCK_OFFSET = LAST_APPLIED_OFFSET + 8;

/** A driver whose state holds several queues and every kind of cached session result. */
function busyDriver(): Driver {
  const d = new Driver(smallLimits({ sessionsMax: 8, messagesMax: 40, valueBytesTotalMax: 200 }));
  d.enqueue("p1", "héllo", "alpha");
  d.enqueue("p1", "", "alpha");
  d.enqueue("p2", "🎉", "zeta");
  d.enqueue("p2", "\uFEFFbom", "default");
  d.nowMs += 10;
  d.dequeue("c1", "alpha"); // cached dequeue
  d.dequeue("c2", "nope"); // cached EMPTY
  d.enqueue("c3", "x".repeat(17)); // cached VALUE_TOO_LARGE
  d.enqueue("p1", "tail", "alpha");
  return d;
}

function restoredCopy(d: Driver): QueueStateMachine {
  const copy = new QueueStateMachine(d.machine.limits);
  copy.restore(d.machine.snapshot());
  return copy;
}

/** Rewrites the checksum after a test edited the bytes: CRC-32 (version 2). */
function reseal(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)));
  return bytes;
}

/** The same snapshot as version 1 wrote it: version field 1, CRC-32C checksum. */
function asVersion1(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[4] = 0;
  copy[5] = 1;
  new DataView(copy.buffer, copy.byteOffset).setUint32(copy.length - 4, crc32c(copy, 0, copy.length - 4));
  return copy;
}

function restoreCode(machine: QueueStateMachine, bytes: Uint8Array): string {
  try {
    machine.restore(bytes);
    return "ok";
  } catch (error) {
    if (error instanceof RaftmqError) return error.code;
    throw error; // AssertionError: a snapshot got past validation into an invalid state
  }
}

t.test("crc32c check value", async (t) => {
  t.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  t.equal(crc32c(new Uint8Array(0)), 0);
});

t.test("crc32c (sliced) equals the bit-at-a-time definition at every offset, length and split", async (t) => {
  const reference = (bytes: Uint8Array): number => {
    let crc = 0xffffffff;
    for (const byte of bytes) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  const data = new Uint8Array(97).map((_, i) => (i * 131 + 7) & 0xff);
  const wrong: string[] = [];
  for (let start = 0; start < 12; start++) {
    for (let end = start; end <= data.length; end++) {
      const want = reference(data.subarray(start, end));
      if (crc32c(data, start, end) !== want) wrong.push(`[${start}, ${end})`);
      const split = start + ((end - start) >> 1);
      if (crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_START, data, start, split), data, split, end)) !== want) wrong.push(`[${start}, ${split}, ${end})`);
    }
  }
  t.same(wrong, []);
});

t.test("round trip: same bytes, same reads, same stats", async (t) => {
  const d = busyDriver();
  const bytes = d.machine.snapshot();
  const copy = restoredCopy(d);
  t.same(Buffer.from(copy.snapshot()), Buffer.from(bytes), "re-snapshot is byte-identical");
  t.same(copy.stats(), d.machine.stats());
  for (const queue of ["alpha", "zeta", "default", "missing"]) {
    t.same(copy.peek(queue), d.machine.peek(queue), `peek ${queue}`);
    t.equal(copy.length(queue), d.machine.length(queue), `length ${queue}`);
  }
  const empty = new QueueStateMachine(d.machine.limits);
  const emptyCopy = new QueueStateMachine(d.machine.limits);
  emptyCopy.restore(empty.snapshot());
  t.same(emptyCopy.stats(), empty.stats(), "the empty state round-trips too");
});

t.test("snapshots are written as version 2, with a CRC-32 of every byte before it", async (t) => {
  const bytes = busyDriver().machine.snapshot();
  t.equal((bytes[4]! << 8) | bytes[5]!, 2, "version field");
  t.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4), crc32(bytes.subarray(0, bytes.length - 4)), "trailer");
});

// Snapshots written before version 2 (data dirs, a leader not yet upgraded) must still restore.
t.test("a version 1 snapshot (CRC-32C) restores to the same state; its checksum is checked", async (t) => {
  const d = busyDriver();
  const v1 = asVersion1(d.machine.snapshot());
  const copy = new QueueStateMachine(d.machine.limits);
  copy.restore(v1);
  t.same(copy.snapshot(), d.machine.snapshot(), "same state (written back as version 2)");
  for (const size of [1, 5, 13, 100]) {
    const split = new QueueStateMachine(d.machine.limits);
    const restore = split.beginRestore();
    for (let at = 0; at < v1.length; at += size) restore.push(v1.subarray(at, at + size));
    restore.finish();
    t.same(split.snapshot(), d.machine.snapshot(), `and pushed in chunks of ${size} bytes`);
  }
  for (const at of [3, 5, 40, v1.length - 1]) {
    const bad = v1.slice();
    bad[at]! ^= 0x10;
    t.equal(restoreCode(new QueueStateMachine(d.machine.limits), bad), "SNAPSHOT_CORRUPT", `byte ${at} flipped`);
  }
  const v3 = d.machine.snapshot();
  v3[5] = 3;
  t.equal(restoreCode(new QueueStateMachine(d.machine.limits), reseal(v3)), "SNAPSHOT_CORRUPT", "an unknown version");
});

t.test("restore, then apply the same suffix: same results and state as never snapshotting", async (t) => {
  const original = busyDriver();
  const forked = busyDriver();
  const restored = restoredCopy(forked);
  const nowMs = original.nowMs;
  const commands = [
    encodeCommand({ op: "dequeue", queue: "alpha", clientId: "c1", seq: 1, proposedAtMs: nowMs }), // retry
    encodeCommand({ op: "dequeue", queue: "alpha", clientId: "c1", seq: 2, proposedAtMs: nowMs }),
    encodeCommand({ op: "enqueue", queue: "alpha", value: "new", clientId: "p1", seq: 4, proposedAtMs: nowMs + 500 }),
    encodeCommand({ op: "enqueue", queue: "alpha", value: "old", clientId: "p1", seq: 3, proposedAtMs: nowMs + 500 }),
    encodeCommand({ op: "dequeue", queue: "zeta", clientId: "c2", seq: 2, proposedAtMs: nowMs + 2000 }), // idle > TTL
  ];
  const expected = [
    { ok: true, op: "dequeue", index: 1, value: "héllo" },
    { ok: true, op: "dequeue", index: 2, value: "" },
    { ok: true, op: "enqueue", index: original.index + 3 },
    { ok: false, error: "STALE_SEQUENCE" },
    { ok: false, error: "SESSION_EXPIRED" },
  ];
  let index = original.index;
  for (const data of commands) {
    index += 1;
    const a = original.machine.apply(index, data);
    const b = restored.apply(index, data);
    t.same(b, a, `entry ${index}: restored agrees with original`);
    t.same(a, expected[index - original.index - 1], `entry ${index}: expected result`);
    original.machine.checkInvariants();
    restored.checkInvariants();
  }
  t.same(Buffer.from(restored.snapshot()), Buffer.from(original.machine.snapshot()));
});

t.test("any single flipped byte or truncation is SNAPSHOT_CORRUPT; the state is kept", async (t) => {
  const d = busyDriver();
  const bytes = d.machine.snapshot();
  const target = busyDriver();
  target.enqueue("p9", "keep me", "kept");
  const before = Buffer.from(target.machine.snapshot());
  const codes = new Set<string>();
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x40;
    codes.add(restoreCode(target.machine, bad));
  }
  for (let length = 0; length < bytes.length; length++) codes.add(restoreCode(target.machine, bytes.slice(0, length)));
  t.same([...codes], ["SNAPSHOT_CORRUPT"]);
  t.same(Buffer.from(target.machine.snapshot()), before, "failed restores changed nothing");
});

t.test("other limits: CONFIG_INVALID", async (t) => {
  const d = busyDriver();
  const other = new QueueStateMachine(smallLimits({ sessionTtlMs: 999 }));
  t.equal(restoreCode(other, d.machine.snapshot()), "CONFIG_INVALID");
});

t.test("forged snapshots with a valid checksum are still validated", async (t) => {
  const d = busyDriver();
  const forge = (edit: (view: DataView) => void): Uint8Array => {
    const bytes = d.machine.snapshot();
    edit(new DataView(bytes.buffer, bytes.byteOffset));
    return reseal(bytes);
  };
  const target = new QueueStateMachine(d.machine.limits);
  t.equal(restoreCode(target, forge((v) => v.setUint32(LAST_APPLIED_OFFSET + 4, 1))), "SNAPSHOT_CORRUPT", "messages after lastApplied");
  t.equal(restoreCode(target, forge((v) => v.setUint32(CLOCK_OFFSET + 4, 0))), "SNAPSHOT_CORRUPT", "sessions active in the future");
  t.equal(restoreCode(target, forge((v) => v.setUint32(CLOCK_OFFSET, 1))), "SNAPSHOT_CORRUPT", "expired sessions stored");
  t.equal(restoreCode(target, forge((v) => v.setUint32(8, 5))), "SNAPSHOT_CORRUPT", "length field");
  t.equal(restoreCode(target, forge((v) => v.setUint16(6, 1))), "SNAPSHOT_CORRUPT", "flags");
  t.equal(restoreCode(target, forge((v) => v.setUint16(4, 3))), "SNAPSHOT_CORRUPT", "version");
});

t.test("seeded fuzz: bit flips behind a valid checksum give a typed error or a valid state", async (t) => {
  const rng = new SeededRng(7);
  const d = busyDriver();
  const bytes = d.machine.snapshot();
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const bad = bytes.slice();
    const flips = 1 + rng.nextInt(3);
    for (let f = 0; f < flips; f++) bad[rng.nextInt(bad.length - 4)] ^= 1 << rng.nextInt(8);
    const target = new QueueStateMachine(d.machine.limits);
    // restore() asserts checkInvariants() on success: anything accepted is a valid state.
    const code = restoreCode(target, reseal(bad));
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  t.ok((counts.get("SNAPSHOT_CORRUPT") ?? 0) > 1000, `outcomes ${JSON.stringify([...counts])}`);
  t.same([...counts.keys()].filter((c) => !["ok", "SNAPSHOT_CORRUPT", "CONFIG_INVALID"].includes(c)), []);
});
