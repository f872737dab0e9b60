/** Inflights ring buffer, Progress state machine and quorum math. */
import t from "tap";
import { Inflights } from "../../src/raft/inflights";
import { Progress } from "../../src/raft/progress";
import { committedIndex, hasQuorum, majority, voteResult } from "../../src/raft/quorum";
import { SeededRng } from "../../src/util/rng";

t.test("inflights: bounded window, freed by acknowledgement, wraps around", async (t) => {
  const inflights = new Inflights(3);
  inflights.add(5);
  inflights.add(7);
  inflights.add(9);
  t.ok(inflights.full());
  t.throws(() => inflights.add(10), { name: "AssertionError" });
  inflights.freeTo(6);
  t.equal(inflights.count(), 2);
  inflights.add(12);
  t.ok(inflights.full());
  inflights.freeTo(9);
  t.equal(inflights.count(), 1);
  inflights.add(13);
  inflights.add(14);
  t.ok(inflights.full(), "wrapped around the ring");
  inflights.freeTo(13);
  t.equal(inflights.count(), 1);
  t.throws(() => inflights.add(14), { name: "AssertionError" }, "indexes must increase");
  inflights.freeTo(100);
  t.equal(inflights.count(), 0);
});

t.test("progress: probe sends one message at a time", async (t) => {
  const pr = new Progress(5, 4);
  t.equal(pr.state, "probe");
  t.notOk(pr.paused());
  pr.sentEntries(7, 3);
  t.ok(pr.paused(), "waiting for an answer");
  t.equal(pr.nextIndex, 5, "probe does not advance nextIndex optimistically");
  t.ok(pr.maybeUpdate(7));
  t.notOk(pr.paused());
  t.equal(pr.nextIndex, 8);
  t.notOk(pr.maybeUpdate(6), "an old acknowledgement changes nothing");
  t.equal(pr.matchIndex, 7);
});

t.test("progress: replicate pipelines up to maxInflightMsgs", async (t) => {
  const pr = new Progress(1, 2);
  pr.maybeUpdate(3);
  pr.becomeReplicate();
  t.equal(pr.nextIndex, 4);
  pr.sentEntries(5, 2);
  pr.sentEntries(8, 3);
  t.equal(pr.nextIndex, 9);
  t.ok(pr.paused(), "window full");
  pr.maybeUpdate(5);
  pr.inflights.freeTo(5);
  t.notOk(pr.paused());
  pr.checkInvariants();
});

t.test("progress: snapshot state pauses and resumes after the snapshot", async (t) => {
  const pr = new Progress(3, 2);
  pr.becomeSnapshot(10);
  t.ok(pr.paused());
  pr.becomeProbe();
  t.equal(pr.nextIndex, 11, "continue after the snapshot");
  pr.checkInvariants();
});

t.test("quorum math", async (t) => {
  t.equal(majority(1), 1);
  t.equal(majority(3), 2);
  t.equal(majority(4), 3);
  t.equal(majority(7), 4);
  const match: Record<string, number> = { a: 9, b: 5, c: 7, d: 1, e: 7 };
  t.equal(committedIndex(["a", "b", "c", "d", "e"], (n) => match[n]!), 7);
  t.equal(committedIndex(["a", "b", "c", "d"], (n) => match[n]!), 5);
  t.equal(committedIndex(["a"], (n) => match[n]!), 9);
  t.equal(committedIndex([], () => 5), 0);
  t.equal(committedIndex(["a", "x", "y"], (n) => match[n] ?? 0), 0, "unknown voters count as 0");
  // Against the definition (the majority-th largest match), for 1..9 voters and seeded matches,
  // ties and zeros included; each call must not see what an earlier, larger call left behind.
  const rng = new SeededRng(6);
  const wrong: string[] = [];
  for (let round = 0; round < 2000; round++) {
    const n = 1 + rng.nextInt(9);
    const voters = Array.from({ length: n }, (_, i) => `v${i}`);
    const matches = voters.map(() => rng.nextInt(6));
    const expected = matches.slice().sort((a, b) => b - a)[majority(n) - 1];
    const got = committedIndex(voters, (node) => matches[Number(node.slice(1))]!);
    if (got !== expected) wrong.push(`${JSON.stringify(matches)}: ${got}, expected ${expected}`);
  }
  t.same(wrong, [], "committedIndex is the majority-th largest match");
  const votes = new Map([["a", true], ["b", false]]);
  t.equal(voteResult(["a", "b", "c"], votes), "pending");
  votes.set("c", true);
  t.equal(voteResult(["a", "b", "c"], votes), "won");
  t.equal(voteResult(["a", "b", "c"], new Map([["b", false], ["c", false]])), "lost");
  t.equal(voteResult(["a", "b", "c", "d"], new Map([["a", true], ["b", true]])), "pending", "2 of 4 is no majority");
  t.ok(hasQuorum(["a", "b", "c"], new Set(["a", "c", "z"])));
  t.notOk(hasQuorum(["a", "b", "c"], new Set(["a", "z"])), "non-voters do not count");
});
