// Miss logs: for a scenario that missed a target, the bench keeps every node's log lines from
// 2 s before its window to 2 s after it, each node labelled with its role, and nothing for a
// scenario that met its targets. BenchNode keeps its lines with their arrival times.
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import type { ChildProcess } from "node:child_process";
import t from "tap";
import { BenchNode } from "../../bench/lib/cluster";
import { missLogFileName, missLogMarginMs, missLogsDirFor, missLogText, type LoggedNode } from "../../bench/lib/miss-logs";
import type { ScenarioResult, TargetCheck } from "../../bench/lib/report";

/** A node whose lines arrived at the given times. */
function node(name: string, lines: Array<[number, string]>): LoggedNode {
  return {
    name,
    address: `127.0.0.1:${7000 + Number(name.slice(1))}`,
    linesBetween: (fromMs, toMs) => lines.filter(([at]) => at >= fromMs && at <= toMs).map(([, text]) => text),
  };
}

function scenario(targets: TargetCheck[]): Pick<ScenarioResult, "name" | "targets" | "windowStartMs" | "windowEndMs" | "nodeFigures"> {
  return {
    name: "enqueue-64B-c64-n3-failover",
    targets,
    windowStartMs: 100_000,
    windowEndMs: 110_000,
    nodeFigures: [
      { name: "n1", role: "leader", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null },
      { name: "n2", role: "follower", cpuSecondsPer10kOps: null, peakRssMb: null, rssMb: null },
    ],
  };
}

const met: TargetCheck = { what: "ops lost", target: "0", value: "0", met: true };
const missed: TargetCheck = { what: "no leader", target: "< 2000 ms", value: "2647 ms", met: false };

t.test("a scenario that met every target keeps nothing", async (t) => {
  t.equal(missLogText(scenario([met]), [node("n1", [[105_000, "x"]])]), null);
  t.equal(missLogText(scenario([]), [node("n1", [[105_000, "x"]])]), null, "no targets, nothing missed");
});

t.test("a miss keeps each node's lines of the window and the margins, labelled", async (t) => {
  const n1 = node("n1", [
    [100_000 - missLogMarginMs - 1, "n1 too early"],
    [100_000 - missLogMarginMs, "n1 first kept"],
    [105_000, "n1 killed here"],
    [110_000 + missLogMarginMs, "n1 last kept"],
    [110_000 + missLogMarginMs + 1, "n1 too late"],
  ]);
  const n2 = node("n2", [[106_000, "n2 became leader"]]);
  const n3 = node("n3", []);
  const text = missLogText(scenario([met, missed]), [n1, n2, n3]);
  t.ok(text !== null);
  const lines = text!.trimEnd().split("\n");
  t.equal(lines[0], "# enqueue-64B-c64-n3-failover: missed no leader < 2000 ms (got 2647 ms)", "only the missed target is named");
  t.match(lines[1], /^# node log lines from 1970-01-01T00:01:38\.000Z to 1970-01-01T00:01:52\.000Z/);
  t.same(lines.slice(2), [
    "==== n1 127.0.0.1:7001 (leader when the scenario began): 3 lines",
    "n1 first kept",
    "n1 killed here",
    "n1 last kept",
    "==== n2 127.0.0.1:7002 (follower when the scenario began): 1 lines",
    "n2 became leader",
    "==== n3 127.0.0.1:7003 (unknown when the scenario began): 0 lines",
  ]);
});

t.test("file and directory names", async (t) => {
  t.equal(missLogFileName("enqueue-64B-c64-n3"), "enqueue-64B-c64-n3.log");
  t.equal(missLogFileName("a/b c"), "a_b_c.log", "no path separators or spaces");
  t.equal(missLogsDirFor("/x/bench/results/full.json"), "/x/bench/results/full.logs");
  t.equal(missLogsDirFor("/x/out"), "/x/out.logs");
});

/** A BenchNode over a fake child process whose stdout we write. */
function fakeNode(): { node: BenchNode; stdout: PassThrough; stderr: PassThrough } {
  const child = new EventEmitter() as unknown as ChildProcess & { stdout: PassThrough; stderr: PassThrough };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  Object.assign(child, { stdout, stderr, pid: 1 });
  return { node: new BenchNode("n1", "127.0.0.1:7001", "/nonexistent", child), stdout, stderr };
}

/** Resolves once `node` has `count` lines. */
async function linesArrived(node: BenchNode, count: number): Promise<void> {
  while (node.lines.length < count) await new Promise<void>((resolve) => setImmediate(resolve));
}

t.test("BenchNode keeps lines with their arrival times, JSON or not, and at most 2,000", async (t) => {
  const { node, stdout, stderr } = fakeNode();
  const before = Date.now();
  stdout.write(`${JSON.stringify({ event: "role", msg: "now leader" })}\n`);
  stderr.write("Error: a crash trace\n");
  await linesArrived(node, 2);
  const after = Date.now();
  t.same(node.linesBetween(before, after).length, 2, "both lines arrived inside [before, after]");
  t.ok(node.linesBetween(before, after).includes("Error: a crash trace"), "a non-JSON line is kept");
  t.same(node.linesBetween(after + 1, after + 60_000), [], "nothing arrived later");
  t.same(node.linesBetween(0, before - 1), [], "nothing arrived earlier");

  for (let i = 0; i < 2_005; i++) stdout.write(`line ${i}\n`);
  await linesArrived(node, 2_000);
  while (node.lines[node.lines.length - 1] !== "line 2004") await new Promise<void>((resolve) => setImmediate(resolve));
  const kept = node.linesBetween(0, Number.MAX_SAFE_INTEGER);
  t.equal(kept.length, 2_000, "the oldest lines are dropped");
  t.equal(kept[0], "line 5");
  t.equal(kept[1_999], "line 2004");
});
