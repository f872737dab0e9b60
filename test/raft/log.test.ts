/** RaftLog: contiguity, terms, conflicts and truncation, durability frontier, compaction, config tracking. */
import t from "tap";
import { RaftLog } from "../../src/raft/log";
import { bootstrapState, emptyState, encodeConfig } from "../../src/raft/membership";
import type { LogEntry } from "../../src/raft/types";
import { liveAfterGc } from "../support/collectable";

const entry = (index: number, term: number, kind: LogEntry["kind"] = "normal", text = ""): LogEntry => ({
  index,
  term,
  kind,
  data: kind === "config" ? encodeConfig({ voters: text.split(","), learners: [] }) : new TextEncoder().encode(text),
});

t.test("an empty log has the 0/0 sentinel", async (t) => {
  const log = new RaftLog(emptyState());
  t.equal(log.lastIndex(), 0);
  t.equal(log.lastTerm(), 0);
  t.equal(log.term(0), 0);
  t.equal(log.term(1), null);
  t.ok(log.isUpToDate(0, 0));
  t.same(log.config, { voters: [], learners: [] });
});

t.test("bootstrap log holds the committed config entry", async (t) => {
  const log = new RaftLog(bootstrapState(["a", "b", "c"]));
  t.equal(log.lastIndex(), 1);
  t.equal(log.commitIndex, 1);
  t.same(log.config.voters, ["a", "b", "c"]);
  t.equal(log.stableIndex, 1, "persisted entries are stable");
});

t.test("§5.4.1 up-to-date comparison: last term first, then length", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1), entry(2, 2)]);
  t.ok(log.isUpToDate(1, 3), "higher last term wins even if shorter");
  t.notOk(log.isUpToDate(5, 1), "lower last term loses even if longer");
  t.ok(log.isUpToDate(2, 2));
  t.notOk(log.isUpToDate(1, 2));
});

t.test("appendFromLeader skips matching entries and truncates at the first conflict", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
  log.stableTo([entry(4, 1)]);
  t.equal(log.stableIndex, 4);
  // A stale, shorter message must not truncate anything.
  t.equal(log.appendFromLeader(1, [entry(2, 1)]), 2);
  t.equal(log.lastIndex(), 4);
  // A conflict at 3 replaces the tail and moves the durability frontier back.
  t.equal(log.appendFromLeader(2, [entry(3, 2), entry(4, 2), entry(5, 2)]), 5);
  t.equal(log.term(3), 2);
  t.equal(log.lastIndex(), 5);
  t.equal(log.stableIndex, 2, "replacement entries must be persisted again");
  t.same(log.unstableEntries().map((e) => e.index), [3, 4, 5]);
});

t.test("committed entries are never truncated", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1), entry(2, 1)]);
  log.commitTo(2);
  t.throws(() => log.appendFromLeader(1, [entry(2, 2)]), { name: "AssertionError" });
});

t.test("stableTo ignores persisted entries that a later truncation replaced", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  const handedOut = log.unstableEntries();
  log.appendFromLeader(1, [entry(2, 2)]); // truncation while the write was in flight
  log.stableTo(handedOut);
  t.equal(log.stableIndex, 1, "only index 1 of the old write is still in the log");
  t.same(log.unstableEntries().map((e) => `${e.index}/${e.term}`), ["2/2"]);
});

t.test("conflict hints: first index of a term, last index of a term", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 2), entry(5, 4)]);
  t.equal(log.firstIndexOfTermAt(4), 2);
  t.equal(log.firstIndexOfTermAt(5), 5);
  t.equal(log.lastIndexOfTerm(2, 10), 4);
  t.equal(log.lastIndexOfTerm(3, 10), null);
  t.equal(log.lastIndexOfTerm(2, 3), 3);
  log.commitTo(3);
  t.equal(log.firstIndexOfTermAt(4), 4, "never hints below commitIndex + 1");
});

t.test("slice respects count and byte limits but always returns one entry", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1, "normal", "aaaa"), entry(2, 1, "normal", "bbbb"), entry(3, 1, "normal", "cccc")]);
  t.equal(log.slice(1, 10, 100).length, 3);
  t.equal(log.slice(1, 2, 100).length, 2);
  t.equal(log.slice(1, 10, 8).length, 2);
  t.equal(log.slice(1, 10, 1).length, 1, "an oversized entry still goes alone");
  t.equal(log.slice(4, 10, 100).length, 0);
});

t.test("compaction keeps the snapshot, the config in force and the terms at the boundary", async (t) => {
  const log = new RaftLog(emptyState());
  log.append([entry(1, 1, "config", "a"), entry(2, 1), entry(3, 2, "config", "a,b"), entry(4, 2)]);
  log.stableTo(log.unstableEntries());
  log.commitTo(4);
  log.takeCommitted();
  log.appliedTo(4);
  const snapshot = log.compact(2, new Uint8Array([9]));
  t.same(snapshot.meta, { index: 2, term: 1, config: { voters: ["a"], learners: [] } });
  t.equal(log.term(2), 1);
  t.equal(log.term(1), null, "compacted");
  t.equal(log.firstIndex(), 3);
  t.same(log.config.voters, ["a", "b"]);
  t.throws(() => log.compact(5, new Uint8Array()), { name: "AssertionError" }, "cannot compact unapplied entries");
});

t.test("config follows appends and reverts on truncation (effective when appended)", async (t) => {
  const log = new RaftLog(bootstrapState(["a"]));
  log.append([entry(2, 2, "config", "a,b")]);
  t.same(log.config.voters, ["a", "b"]);
  t.ok(log.hasUncommittedConfig());
  log.appendFromLeader(1, [entry(2, 3)]);
  t.same(log.config.voters, ["a"], "truncated config entry no longer applies");
  t.notOk(log.hasUncommittedConfig());
});

t.test("restore replaces the log with a snapshot", async (t) => {
  const log = new RaftLog(bootstrapState(["a"]));
  log.append([entry(2, 1)]);
  log.restore({ meta: { index: 10, term: 3, config: { voters: ["a", "b"], learners: [] } }, data: new Uint8Array() });
  t.equal(log.lastIndex(), 10);
  t.equal(log.commitIndex, 10);
  t.equal(log.term(10), 3);
  t.same(log.config.voters, ["a", "b"]);
  t.not(log.pendingSnapshot, null);
  log.checkInvariants();
});

t.test("entries are packed once applied and durable, and read back the same", async (t) => {
  const log = new RaftLog(bootstrapState(["a"]), 3);
  const appended = [entry(2, 1, "normal", "two"), entry(3, 1, "config", "a,b"), entry(4, 2, "noop"), entry(5, 2, "normal", "five")];
  for (let index = 6; index <= 12; index++) appended.push(entry(index, 2, "normal", `e${index}`));
  log.append(appended);
  log.commitTo(12);
  log.takeCommitted();
  log.appliedTo(9);
  log.checkInvariants();
  t.equal(log.packedIndex(), 1, "nothing past the durable bootstrap entry is packed before it is durable");
  log.stableTo(appended.slice(0, 10)); // durable through 11
  log.checkInvariants();
  t.equal(log.packedIndex(), 9, "packed up to min(lastApplied, stableIndex)");
  log.appliedTo(12);
  t.equal(log.packedIndex(), 11);
  for (const want of appended) {
    const got = log.entry(want.index);
    t.same({ ...got, data: [...got.data] }, { ...want, data: [...want.data] }, `entry ${want.index}`);
    t.equal(log.term(want.index), want.term);
  }
  t.same(log.slice(8, 10, 1 << 20).map((e) => e.index), [8, 9, 10, 11, 12], "slice spans packed and recent entries");
  t.same(log.configAt(8).voters, ["a", "b"], "config found in a packed entry");
  t.same(log.unstableEntries().map((e) => e.index), [12]);
  t.equal(log.lastIndexOfTerm(1, 12), 3, "term boundaries are found in packed entries");
});

t.test("compaction inside the packed entries, at their end and beyond them", async (t) => {
  for (const through of [5, 9, 11]) {
    const log = new RaftLog(bootstrapState(["a"]), 2);
    const appended: LogEntry[] = [];
    for (let index = 2; index <= 14; index++) appended.push(entry(index, 1, "normal", `e${index}`));
    log.append(appended);
    log.stableTo(appended);
    log.commitTo(14);
    log.takeCommitted();
    log.appliedTo(9); // packed through 9; 10..14 stay objects
    log.appliedTo(11);
    t.equal(log.packedIndex(), 11);
    log.compact(through, new Uint8Array());
    log.checkInvariants();
    t.equal(log.firstIndex(), through + 1, `compacted through ${through}`);
    t.equal(log.term(through), 1);
    t.equal(log.term(through - 1), null);
    t.same(log.slice(through + 1, 100, 1 << 20).map((e) => new TextDecoder().decode(e.data)), appended.slice(through - 1).map((e) => new TextDecoder().decode(e.data)));
  }
  // A compaction past the packed entries (applied, durable, not yet packed because the core
  // packs on advance) drops recent entries too.
  const log = new RaftLog(bootstrapState(["a"]), 2);
  const appended: LogEntry[] = [];
  for (let index = 2; index <= 6; index++) appended.push(entry(index, 1));
  log.append(appended);
  log.commitTo(6);
  log.takeCommitted();
  log.appliedTo(6);
  t.equal(log.packedIndex(), 1, "not durable yet");
  log.stableTo(appended.slice(0, 3)); // durable through 4: packs 2..4
  t.equal(log.packedIndex(), 4);
  log.stableTo(appended); // 5..6 are packed too
  log.compact(6, new Uint8Array());
  log.checkInvariants();
  t.equal(log.lastIndex(), 6);
  t.equal(log.lastTerm(), 1);
  log.append([entry(7, 2)]);
  t.equal(log.entry(7).term, 2);
});

t.test("uncommitted entries after packed ones are still truncated by a conflict", async (t) => {
  const log = new RaftLog(bootstrapState(["a"]), 2);
  const appended: LogEntry[] = [];
  for (let index = 2; index <= 8; index++) appended.push(entry(index, 1));
  log.append(appended);
  log.stableTo(appended);
  log.commitTo(5);
  log.takeCommitted();
  log.appliedTo(5);
  t.equal(log.packedIndex(), 5);
  t.equal(log.appendFromLeader(5, [entry(6, 2), entry(7, 2)]), 7);
  log.checkInvariants();
  t.equal(log.lastIndex(), 7);
  t.equal(log.term(6), 2);
  t.equal(log.term(5), 1);
  t.equal(log.stableIndex, 5);
  t.same(log.unstableEntries().map((e) => e.index), [6, 7]);
  t.throws(() => log.appendFromLeader(4, [entry(5, 2)]), { name: "AssertionError" }, "packed entries are committed");
});

t.test("packed entries are not kept reachable by the spent slots of recent (no promotion of the dead)", async (t) => {
  const log = new RaftLog(emptyState());
  const refs: WeakRef<object>[] = [];
  const add = (index: number): void => {
    const e = entry(index, 1, "normal", `v${index}`);
    refs.push(new WeakRef(e), new WeakRef(e.data));
    log.append([e]);
  };
  for (let index = 1; index <= 10; index++) add(index);
  log.stableTo([{ index: 10, term: 1, kind: "normal", data: new Uint8Array(0) }]);
  log.commitTo(6);
  log.takeCommitted();
  log.appliedTo(6); // packs 1..6; 7..10 stay in recent, behind 6 spent slots
  t.equal(log.packedIndex(), 6);
  t.equal(await liveAfterGc(refs.slice(0, 12)), 0, "entries 1-6 and their data are collectable");
  t.equal(await liveAfterGc(refs.slice(12)), 8, "entries 7-10 are still held");
  t.same(Array.from(log.entry(3).data), Array.from(new TextEncoder().encode("v3")), "packed entries read back");
  t.equal(log.entry(8).index, 8);
  log.checkInvariants();
});
