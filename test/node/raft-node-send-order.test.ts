// The order of a Ready's work (bench/README.md, session 6): a leader puts its appends on the
// wire (transport.flush) first, then applies what is already durable and flushes the answers,
// then writes; a follower writes, sends and flushes its ack, then applies. Nothing waits behind
// work it does not need, also when the storage's persist() blocks until the disk is done. Votes
// still wait for the write that makes the new term durable. One RaftNode of three voters, on the
// simulator's in-memory disk, with a transport and a storage that log the order of events.
import bunyan from "bunyan";
import t from "tap";
import { NodeLogger } from "../../src/node/node-logger";
import { RaftNode } from "../../src/node/raft-node";
import { RaftCore } from "../../src/raft/core";
import { nullCoreLogger } from "../../src/raft/logger";
import type { RaftMessage, RaftStorage } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { MemDisk } from "../sim/storage";

function setup() {
  const initial = RaftCore.bootstrap(["n1", "n2", "n3"]);
  const disk = new MemDisk(initial, "immediate");
  const inner = disk.open();
  const core = new RaftCore({ id: "n1", electionTicks: 10, heartbeatTicks: 1 }, inner.loadNow(), new SeededRng(3), nullCoreLogger);
  const events: string[] = [];
  const sent: RaftMessage[] = [];
  const storage: RaftStorage = Object.create(inner) as RaftStorage;
  storage.persist = (hardState, entries, snapshot) => {
    events.push(`persist ${entries.length}`);
    return inner.persist(hardState, entries, snapshot);
  };
  const node = new RaftNode<number>({
    core,
    storage,
    stateMachine: {
      apply(index: number): number {
        events.push(`apply ${index}`);
        return index;
      },
    },
    snapshots: { save: () => Promise.reject(new Error("not used")), restore: () => Promise.reject(new Error("not used")) },
    transport: {
      send: (message) => {
        sent.push(message);
        events.push(`send ${message.type} ${message.to}`);
      },
      flush: () => events.push("flush"),
    },
    logger: new NodeLogger(bunyan.createLogger({ name: "test", level: "fatal" }), "n1"),
    timers: { setInterval: () => null, clearInterval: () => undefined },
    tickMs: 100,
    snapshotPolicy: { entries: 1_000_000, logFraction: 0, maxLogBytes: 1 << 30 },
    waitersMax: 1000,
    summaryMs: 0,
  });
  return { node, core, events, sent };
}

/** Runs the node's Ready loop (setImmediate) and the in-memory disk's promises to completion. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const ack = (from: string, term: number, matchIndex: number): RaftMessage => ({ type: "AppendEntriesResponse", from, to: "n1", term, success: true, matchIndex, conflictIndex: 0, conflictTerm: 0, readContext: 0 });

t.test("appends are flushed before the leader's own write; votes wait for it", async (t) => {
  const { node, core, events, sent } = setup();
  node.start();
  core.campaign("election");
  node.receive({ type: "RequestVoteResponse", from: "n2", to: "n1", term: core.status().term, granted: true, preVote: false }); // wakes the loop
  await settle();
  t.equal(core.status().role, "leader", "n1 leads with n2's vote");
  // The vote requests carried a new term: they left only after it was durable, no flush early.
  const firstVote = events.findIndex((e) => e.startsWith("send RequestVote"));
  t.ok(firstVote > events.indexOf("persist 0"), "vote requests after the term's write");

  // Both followers ack the leader's no-op, so the next Ready applies it while writing.
  const term = core.status().term;
  for (const from of ["n2", "n3"]) {
    const append = sent.find((m) => m.type === "AppendEntries" && m.to === from && m.entries.length > 0);
    t.ok(append, `an append to ${from}`);
    node.receive({ type: "AppendEntriesResponse", from, to: "n1", term, success: true, matchIndex: core.status().lastIndex, conflictIndex: 0, conflictTerm: 0, readContext: 0 });
  }
  events.length = 0;
  const proposal = node.propose(new Uint8Array([1]));
  await settle();
  const sends = events.filter((e) => e.startsWith("send AppendEntries"));
  t.equal(sends.length, 2, "one append per follower");
  const lastSend = events.lastIndexOf(sends[1]!);
  t.equal(events[lastSend + 1], "flush", "flushed right after the appends");
  t.ok(events.indexOf("persist 1") > lastSend + 1, "the leader's own write starts after the flush");
  for (const from of ["n2", "n3"]) {
    node.receive({ type: "AppendEntriesResponse", from, to: "n1", term, success: true, matchIndex: core.status().lastIndex, conflictIndex: 0, conflictTerm: 0, readContext: 0 });
  }
  t.equal((await proposal).index, core.status().lastIndex, "the proposal commits and applies");
  await node.stop();
});

t.test("a leader applies and answers what is durable before it writes the next batch", async (t) => {
  const { node, core, events } = setup();
  node.start();
  core.campaign("election");
  node.receive({ type: "RequestVoteResponse", from: "n2", to: "n1", term: core.status().term, granted: true, preVote: false });
  await settle();
  const term = core.status().term;
  for (const from of ["n2", "n3"]) node.receive(ack(from, term, core.status().lastIndex)); // the no-op commits
  await settle();
  const first = node.propose(new Uint8Array([1]));
  await settle();
  const firstIndex = core.status().lastIndex;
  // In one turn: the acks that commit the first entry, and a second proposal.
  events.length = 0;
  for (const from of ["n2", "n3"]) node.receive(ack(from, term, firstIndex));
  const second = node.propose(new Uint8Array([2]));
  await settle();
  t.equal((await first).index, firstIndex);
  const at = (event: string): number => events.indexOf(event);
  t.ok(at(`apply ${firstIndex}`) >= 0, "the first entry is applied in that Ready");
  t.ok(at("persist 1") > at(`apply ${firstIndex}`), "before the second entry's write");
  t.equal(events[at(`apply ${firstIndex}`) + 1], "flush", "and its answer flushed right after it");
  const appends = events.filter((e) => e.startsWith("send AppendEntries"));
  t.ok(appends.length >= 2 && events.lastIndexOf(appends[appends.length - 1]!) < at(`apply ${firstIndex}`), "the appends left before the apply");
  for (const from of ["n2", "n3"]) node.receive(ack(from, term, core.status().lastIndex));
  t.equal((await second).index, firstIndex + 1);
  await node.stop();
});

t.test("a follower acks (and flushes) before it applies", async (t) => {
  const { node, core, events } = setup();
  node.start();
  const base = core.status().lastIndex;
  const entry = (index: number): { index: number; term: number; kind: "normal"; data: Uint8Array } => ({ index, term: 1, kind: "normal", data: new Uint8Array([index]) });
  const append = (prev: number, entries: number[], leaderCommit: number): RaftMessage => ({
    type: "AppendEntries", from: "n2", to: "n1", term: 1, prevLogIndex: prev, prevLogTerm: prev === base ? (core.log.term(base) ?? 0) : 1, entries: entries.map(entry), leaderCommit, readContext: 0,
  });
  node.receive(append(base, [base + 1, base + 2], base));
  await settle();
  events.length = 0;
  // The next append commits the first two and brings a third: write, ack, then apply.
  node.receive(append(base + 2, [base + 3], base + 2));
  await settle();
  const at = (event: string): number => events.indexOf(event);
  t.ok(at("persist 1") >= 0, "the third entry is written");
  t.ok(at("send AppendEntriesResponse n2") > at("persist 1"), "the ack after the write");
  t.equal(events[at("send AppendEntriesResponse n2") + 1], "flush", "the ack flushed at once");
  t.ok(at(`apply ${base + 1}`) > at("send AppendEntriesResponse n2") + 1, "the applies after the ack left");
  t.ok(at(`apply ${base + 2}`) > at(`apply ${base + 1}`), "in order");
  await node.stop();
});
