/**
 * RpcLatency pairs raft requests with responses (driven with a fake clock): pipelined appends
 * pair exactly, a lost response does not shift later pairings, votes and pre-votes are kept
 * apart, stale requests are dropped, and outstanding requests stay bounded.
 */
import t from "tap";
import { RpcLatency, pendingPerPeerMax, staleMs, type RpcKind } from "../../src/admin/rpc-latency";
import type { LogEntry, RaftMessage } from "../../src/raft/types";

function setup(): { rpc: RpcLatency; seen: Array<[RpcKind, number]>; clock: { now: number } } {
  const clock = { now: 0 };
  const seen: Array<[RpcKind, number]> = [];
  return { rpc: new RpcLatency(() => clock.now, (kind, ms) => seen.push([kind, ms])), seen, clock };
}

const entry = (index: number): LogEntry => ({ index, term: 1, kind: "normal", data: new Uint8Array() }) as LogEntry;

function append(to: string, prev: number, count: number): RaftMessage {
  const entries = Array.from({ length: count }, (_, i) => entry(prev + i + 1));
  return { type: "AppendEntries", from: "L", to, term: 1, prevLogIndex: prev, prevLogTerm: 1, entries, leaderCommit: 0, readContext: 0 };
}
function ack(from: string, matchIndex: number, success = true): RaftMessage {
  return { type: "AppendEntriesResponse", from, to: "L", term: 1, success, matchIndex, conflictIndex: 0, conflictTerm: 0, readContext: 0 };
}

t.test("pipelined appends pair by match index", async (t) => {
  const { rpc, seen, clock } = setup();
  rpc.onMessage(append("A", 0, 5), "out"); // expects 5
  clock.now = 10;
  rpc.onMessage(append("A", 5, 5), "out"); // expects 10
  clock.now = 25;
  rpc.onMessage(ack("A", 5), "in");
  clock.now = 40;
  rpc.onMessage(ack("A", 10), "in");
  t.same(seen, [["append", 25], ["append", 30]]);
  t.equal(rpc.outstanding(), 0);
});

t.test("a lost response does not shift later pairings", async (t) => {
  const { rpc, seen, clock } = setup();
  rpc.onMessage(append("A", 7, 0), "out"); // heartbeat, its answer is lost
  clock.now = 100;
  rpc.onMessage(append("A", 7, 0), "out");
  clock.now = 103;
  rpc.onMessage(ack("A", 7), "in");
  clock.now = 200;
  rpc.onMessage(append("A", 7, 0), "out");
  clock.now = 204;
  rpc.onMessage(ack("A", 7), "in");
  t.same(seen, [["heartbeat", 3], ["heartbeat", 4]], "each answer pairs with the latest heartbeat");
  t.equal(rpc.dropped, 1, "the unanswered one is counted");
  t.equal(rpc.outstanding(), 0);
});

t.test("rejections, peers, votes and pre-votes", async (t) => {
  const { rpc, seen, clock } = setup();
  rpc.onMessage(append("A", 3, 1), "out");
  rpc.onMessage(append("B", 3, 1), "out");
  rpc.onMessage({ type: "RequestVote", from: "L", to: "A", term: 2, lastLogIndex: 4, lastLogTerm: 1, preVote: true, transfer: false }, "out");
  clock.now = 7;
  rpc.onMessage(ack("B", 0, false), "in");
  rpc.onMessage({ type: "RequestVoteResponse", from: "A", to: "L", term: 2, granted: true, preVote: false }, "in");
  t.same(seen, [["append", 7]], "a real vote answer does not pair with a pre-vote request");
  rpc.onMessage({ type: "RequestVoteResponse", from: "A", to: "L", term: 2, granted: true, preVote: true }, "in");
  t.same(seen, [["append", 7], ["prevote", 7]]);
  rpc.onMessage(ack("C", 4), "in");
  t.equal(seen.length, 2, "an answer from a peer we never asked is ignored");
  t.equal(rpc.outstanding(), 1, "A's append is still outstanding");
});

t.test("stale requests are dropped and the queue is bounded", async (t) => {
  const { rpc, seen, clock } = setup();
  for (let i = 0; i < pendingPerPeerMax + 10; i++) rpc.onMessage(append("A", i, 1), "out");
  t.equal(rpc.outstanding(), pendingPerPeerMax);
  t.equal(rpc.dropped, 10);
  clock.now = staleMs + 1;
  rpc.onMessage(ack("A", pendingPerPeerMax + 10), "in");
  t.same(seen, [], "stale requests are not reported");
  t.equal(rpc.outstanding(), 0);
});
