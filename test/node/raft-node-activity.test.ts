// The activity line's pause figures: the longest persist of the period and how many took over
// slowPersistMs (timed on the node's clock), the most a heartbeat tick ran late, and the GC
// figures of its `pauses` source, taken once per period even when the period was idle and
// logged nothing. One single-voter RaftNode on the simulator's in-memory disk, with a fake
// clock that each persist advances by a chosen time and the test moves between ticks.
import bunyan from "bunyan";
import t from "tap";
import { NodeLogger } from "../../src/node/node-logger";
import type { PauseFigures } from "../../src/node/pause-monitor";
import { RaftNode, slowPersistMs } from "../../src/node/raft-node";
import { RaftCore } from "../../src/raft/core";
import { nullCoreLogger } from "../../src/raft/logger";
import type { RaftStorage } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { MemDisk } from "../sim/storage";
import { leading } from "../support/leading";

const summaryMs = 5_000;

function setup() {
  const initial = RaftCore.bootstrap(["n1"]);
  const inner = new MemDisk(initial, "immediate").open();
  const core = new RaftCore({ id: "n1", electionTicks: 10, heartbeatTicks: 1 }, inner.loadNow(), new SeededRng(5), nullCoreLogger);
  let nowMs = 1_000;
  const persistMs: number[] = []; // each persist advances the clock by the next of these (else 0.5)
  const storage: RaftStorage = Object.create(inner) as RaftStorage;
  storage.persist = (hardState, entries, snapshot) => {
    nowMs += persistMs.shift() ?? 0.5;
    return inner.persist(hardState, entries, snapshot);
  };
  const records: Array<Record<string, unknown>> = [];
  const logger = bunyan.createLogger({ name: "test", level: "info", streams: [{ type: "raw", level: "info", stream: { write: (record: object) => records.push(record as Record<string, unknown>) } }] });
  let summary: (() => void) | null = null;
  let tick: (() => void) | null = null;
  const taken: PauseFigures[] = [];
  const pauses = {
    take(): PauseFigures {
      const figures = { gcPauses: taken.length + 3, gcPauseMs: 4.5, gcPauseMaxMs: 2.1 };
      taken.push(figures);
      return figures;
    },
  };
  const node = new RaftNode<number>({
    core,
    storage,
    stateMachine: { apply: (index: number): number => index },
    snapshots: { save: () => Promise.reject(new Error("not used")), restore: () => Promise.reject(new Error("not used")) },
    transport: { send: () => undefined },
    logger: new NodeLogger(logger, "n1"),
    timers: {
      setInterval: (callback, ms) => {
        if (ms === summaryMs) summary = callback;
        else tick = callback;
        return null;
      },
      clearInterval: () => undefined,
    },
    tickMs: 100,
    snapshotPolicy: { entries: 1_000_000, logFraction: 0, maxLogBytes: 1 << 30 },
    waitersMax: 1000,
    summaryMs,
    clock: () => nowMs,
    pauses,
  });
  const activity = (): Array<Record<string, unknown>> => records.filter((r) => r["event"] === "activity");
  const tickAfter = (ms: number): void => {
    nowMs += ms;
    tick!();
  };
  return { node, core, persistMs, activity, taken, summary: () => summary!(), tickAfter };
}

t.test("the activity line counts slow persists and carries the pause figures", async (t) => {
  const { node, core, persistMs, activity, taken, summary, tickAfter } = setup();
  node.start();
  await leading(node, core); // the single voter, once its term is durable
  const first = await node.propose(new Uint8Array([1]));
  t.ok(first.index > 0, "the first proposal applied");
  persistMs.push(slowPersistMs + 1.25, 1, slowPersistMs); // over, under, and exactly at the bound
  for (const byte of [2, 3, 4]) await node.propose(new Uint8Array([byte]));
  tickAfter(100); // the first tick only starts the count
  tickAfter(104.25); // 4.25 ms late
  tickAfter(101); // 1 ms late
  summary();
  const lines = activity();
  t.equal(lines.length, 1, "one activity line");
  const line = lines[0]!;
  t.equal(line["slowPersists"], 1, "only the persist over slowPersistMs counts");
  t.equal(line["persistMaxMs"], slowPersistMs + 1.3, "the longest persist, rounded to 0.1 ms");
  t.equal(line["gcPauses"], 3, "the pause source's figures are in the line");
  t.equal(line["gcPauseMaxMs"], 2.1);
  t.equal(line["tickLateMaxMs"], 4.3, "the latest a tick ran, rounded to 0.1 ms");
  t.ok(Number(line["fsyncs"]) >= 3, "the persists were counted as fsyncs too");

  tickAfter(103); // a late tick is no activity of its own
  summary(); // an idle period: no line, but its pause figures are taken and dropped
  t.equal(activity().length, 1, "an idle period logs nothing");
  t.equal(taken.length, 2, "pauses were taken in the idle period too");
  await node.propose(new Uint8Array([5]));
  summary();
  const next = activity()[1]!;
  t.equal(next["gcPauses"], 5, "the next line has only its own period's figures");
  t.equal(next["slowPersists"], 0, "persist counters start again each period");
  t.equal(next["persistMaxMs"], 0.5, "the period's longest persist");
  t.equal(next["tickLateMaxMs"], 0, "no tick in this period");
  await node.stop();
});
