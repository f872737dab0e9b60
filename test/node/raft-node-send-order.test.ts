// A leader's appends are put on the wire (transport.flush) before it starts its own disk write
// and before it applies earlier entries: the followers' leg of a round is the longer one, so
// the appends must not wait behind the leader's own work (bench/README.md, session 6). Votes
// still wait for the write that makes the new term durable. One RaftNode made leader of three
// voters by hand, on the simulator's in-memory disk, with a transport and a storage that log
// the order of what happens.
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
