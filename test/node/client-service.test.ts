// ClientService on a single-voter RaftNode (the simulator's in-memory disk, synced by the test):
// how queue commands are answered. Every request gets exactly one reply; a retry of a command
// still in the log waits for that entry instead of logging it again; a retry of an applied one
// is answered from the session cache; a client that keeps retrying cannot pile up waiters.
import bunyan from "bunyan";
import t from "tap";
import { ClientService } from "../../src/node/client-service";
import { NodeLogger } from "../../src/node/node-logger";
import { RaftNode } from "../../src/node/raft-node";
import { makeQueueLimits, QueueStateMachine, type ApplyResult } from "../../src/queue";
import { RaftCore } from "../../src/raft/core";
import { nullCoreLogger } from "../../src/raft/logger";
import { SeededRng } from "../../src/util/rng";
import type { WireMessage } from "../../src/wire";
import { MemDisk } from "../sim/storage";

const ENQUEUE = 1;
const DEQUEUE = 2;

function setup() {
  const initial = RaftCore.bootstrap(["n1"]);
  const disk = new MemDisk(initial, "manual");
  const storage = disk.open();
  const core = new RaftCore({ id: "n1", electionTicks: 10, heartbeatTicks: 1 }, storage.loadNow(), new SeededRng(3), nullCoreLogger);
  const logger = new NodeLogger(bunyan.createLogger({ name: "test", level: "fatal" }), "n1");
  const stateMachine = new QueueStateMachine(makeQueueLimits());
  const node = new RaftNode<ApplyResult>({
    core,
    storage,
    stateMachine,
    snapshots: { save: () => Promise.reject(new Error("not used")), restore: () => Promise.reject(new Error("not used")) },
    transport: { send: () => undefined },
    logger,
    timers: { setInterval: () => null, clearInterval: () => undefined },
    tickMs: 100,
    snapshotPolicy: { entries: 1_000_000, logFraction: 0, maxLogBytes: 1 << 30 },
    waitersMax: 1000,
    summaryMs: 0,
  });
  const service = new ClientService({ node, core, stateMachine, clusterId: "c1", logger, nowMs: () => 1_700_000_000_000 });
  const replies: WireMessage[][] = [];
  /** Sends one request; returns its slot in `replies` (every reply it gets lands there). */
  const send = (op: number, seq: number, value = ""): number => {
    const slot = replies.length;
    replies.push([]);
    service.handle({
      from: "client-a",
      role: "client",
      message: { type: "ExecuteRequest", body: { op, queue: "q", value, clientId: "client-a", seq } },
      reply: (message) => {
        replies[slot]!.push(message);
        return true;
      },
    });
    return slot;
  };
  /**
   * Lets the Ready loop run, syncing the disk, until this node leads, has applied its whole log,
   * and every request in `slots` has its answer; fails after a bounded number of turns.
   */
  const settle = async (slots: number[] = []): Promise<void> => {
    const done = (): boolean =>
      core.role === "leader" && node.lastApplied === core.log.lastIndex() && slots.every((slot) => replies[slot]!.length > 0);
    for (let round = 0; !done(); round++) {
      if (round === 1000) throw new Error(`not settled: lastApplied ${node.lastApplied}, lastIndex ${core.log.lastIndex()}`);
      await new Promise((resolve) => setImmediate(resolve));
      disk.sync();
    }
  };
  return { node, core, disk, replies, send, settle };
}

const summary = (message: WireMessage | undefined): string => {
  if (message === undefined) return "none";
  if (message.type === "ErrorReply") return `error ${message.body.code}`;
  if (message.type === "ExecuteReply") return `ok index=${message.body.index}${message.body.value === "" ? "" : ` value=${message.body.value}`}`;
  return message.type;
};

t.test("a command refused at once is answered at once", async (t) => {
  const { send, replies } = setup(); // not started: no leader yet
  const slot = send(ENQUEUE, 1, "x");
  t.equal(summary(replies[slot]![0]), "error RAFT_NOT_LEADER");
  const bad = send(9, 2);
  t.equal(summary(replies[bad]![0]), "error BAD_REQUEST");
});

t.test("retries of a command in the log wait for its entry; after it applies, the cache answers", async (t) => {
  const { node, core, replies, send, settle } = setup();
  node.start();
  await settle();
  const before = core.log.lastIndex();
  const first = send(ENQUEUE, 1, "hello");
  const retries = [send(ENQUEUE, 1, "hello"), send(ENQUEUE, 1, "hello")];
  t.same(replies[first], [], "not answered before its entry is durable and applied");
  await settle([first, ...retries]);
  t.equal(core.log.lastIndex(), before + 1, "one entry for the command and its retries");
  for (const slot of [first, ...retries]) t.same(replies[slot]!.map(summary), [`ok index=${before + 1}`], `request ${slot} answered once`);
  const late = send(ENQUEUE, 1, "hello");
  await settle([late]);
  t.same(replies[late]!.map(summary), [`ok index=${before + 1}`], "a retry after the apply is answered from the cache");
  t.equal(core.log.lastIndex(), before + 1, "and logs nothing");
  const dequeue = send(DEQUEUE, 2);
  await settle([dequeue]);
  t.same(replies[dequeue]!.map(summary), [`ok index=${before + 1} value=hello`], "the message went in once");
  await node.stop();
});

t.test("a client retrying without end keeps at most 16 requests waiting; each is answered once", async (t) => {
  const { node, core, replies, send, settle } = setup();
  node.start();
  await settle();
  const before = core.log.lastIndex();
  const slots = Array.from({ length: 20 }, () => send(ENQUEUE, 1, "v"));
  t.same(
    slots.slice(0, 4).map((slot) => replies[slot]!.map(summary)),
    Array.from({ length: 4 }, () => ["error RAFT_PROPOSAL_DROPPED"]),
    "the 4 oldest were answered with a retryable error as newer retries arrived",
  );
  await settle(slots);
  t.same(
    slots.slice(4).map((slot) => replies[slot]!.map(summary)),
    Array.from({ length: 16 }, () => [`ok index=${before + 1}`]),
    "the 16 newest got the command's result",
  );
  t.equal(core.log.lastIndex(), before + 1, "logged once");
  await node.stop();
});

t.test("a leader that stops answers the commands still waiting", async (t) => {
  const { node, replies, send, settle } = setup();
  node.start();
  await settle();
  const slot = send(ENQUEUE, 1, "v");
  const retry = send(ENQUEUE, 1, "v");
  await node.stop();
  t.equal(replies[slot]!.length, 1, "answered once");
  t.equal(replies[retry]!.length, 1, "the retry too");
  t.match(summary(replies[slot]![0]), /^error RAFT_/);
});
