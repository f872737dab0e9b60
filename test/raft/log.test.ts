/** RaftLog: contiguity, terms, conflicts and truncation, durability frontier, compaction, config tracking. */
import t from "tap";
import { RaftLog } from "../../src/raft/log";
import { bootstrapState, emptyState, encodeConfig } from "../../src/raft/membership";
import type { LogEntry } from "../../src/raft/types";

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
