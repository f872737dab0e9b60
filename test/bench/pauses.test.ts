// The bench's per-node pause figures: a node's activity lines count for a scenario when the middle
// of the 5 s period each covers falls inside the scenario's window; counts and milliseconds are
// summed, maxima kept; a node with no line in the window gets null. The bench prints them with its own GCs.
import t from "tap";
import type { ActivityRecord, BenchNode } from "../../bench/lib/cluster";
import type { Floors } from "../../bench/lib/floors";
import { formatScenario, type ScenarioResult } from "../../bench/lib/report";
import { attachPauses } from "../../bench/lib/scenario";

const periodMs = 5_000;

function line(atMs: number, figures: Partial<ActivityRecord>): ActivityRecord {
  return { atMs, entriesPersisted: 0, fsyncs: 0, gcPauses: 0, gcPauseMs: 0, gcPauseMaxMs: 0, slowPersists: 0, persistMaxMs: 0, tickLateMaxMs: 0, ...figures };
}

t.test("sums the lines whose period's middle is inside the window", async (t) => {
  const n1 = {
    name: "n1",
    activity: [
      line(10_000, { gcPauses: 50, gcPauseMs: 99, gcPauseMaxMs: 9, slowPersists: 7, persistMaxMs: 30, tickLateMaxMs: 40 }), // middle 7,500: before
      line(15_000, { gcPauses: 30, gcPauseMs: 40.25, gcPauseMaxMs: 2.5, slowPersists: 4, persistMaxMs: 6.5, tickLateMaxMs: 8 }), // middle 12,500: in
      line(20_000, { gcPauses: 20, gcPauseMs: 10.1, gcPauseMaxMs: 3.1, slowPersists: 1, persistMaxMs: 2.2, tickLateMaxMs: 12.4 }), // middle 17,500: in
      line(25_500, { gcPauses: 9, gcPauseMs: 9, gcPauseMaxMs: 9, slowPersists: 9, persistMaxMs: 99, tickLateMaxMs: 99 }), // middle 23,000: after
    ],
  } as unknown as BenchNode;
  const n2 = { name: "n2", activity: [line(30_000, { gcPauses: 1 })] } as unknown as BenchNode;
  const result = {
    windowStartMs: 11_000,
    windowEndMs: 20_000,
    nodeFigures: [
      { name: "n1", role: "leader", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null },
      { name: "n2", role: "follower", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null },
      { name: "n3", role: "follower", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null },
    ],
  } as unknown as ScenarioResult;
  attachPauses(result, [n1, n2], periodMs);
  t.same(result.nodeFigures[0]!.pauses, { periods: 2, gcPauses: 50, gcPauseMs: 50.4, gcPauseMaxMs: 3.1, slowPersists: 5, persistMaxMs: 6.5, tickLateMaxMs: 12.4 });
  t.equal(result.nodeFigures[1]!.pauses, null, "no line of n2 covers the window");
  t.equal(result.nodeFigures[2]!.pauses, null, "a node the bench does not know (killed, gone)");
});

t.test("the pauses line shows each node's figures and the load generator's own GCs", async (t) => {
  const result = {
    name: "enqueue-64B-c1-n3",
    concurrency: 1,
    ops: 1000,
    seconds: 1,
    opsPerSec: 1000,
    p50Ms: 0.5,
    p99Ms: 1.5,
    p999Ms: 3,
    maxMs: 9,
    p50OverFloor: 2.5,
    opsOverBareReplication: null,
    p50OverBareReplication: null,
    p99OverBareReplication: null,
    leaderEntriesPerFsync: null,
    followerEntriesPerFsync: null,
    benchCpuSecondsPer10kOps: 1,
    errors: {},
    emptyReplies: 0,
    targets: [],
    benchPauses: { gcPauses: 12, gcPauseMs: 7.4, gcPauseMaxMs: 1.3 },
    nodeFigures: [
      { name: "n1", role: "leader", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null, pauses: { periods: 2, gcPauses: 50, gcPauseMs: 50.4, gcPauseMaxMs: 3.1, slowPersists: 5, persistMaxMs: 6.5, tickLateMaxMs: 12.4 } },
      { name: "n2", role: "follower", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null, pauses: null },
    ],
  } as unknown as ScenarioResult;
  const floors = { fsyncMs: 0.1, rttMs: 0.05 } as unknown as Floors;
  const pausesLine = formatScenario(result, floors).split("\n").find((l) => l.startsWith("  pauses: "));
  t.equal(pausesLine, "  pauses: n1* gc 50 (50 ms, max 3.1), persists > 2 ms 5 (max 6.5), tick late max 12.4 ms | bench gc 12 (7 ms, max 1.3)");
});
