/**
 * The raftmq benchmark (issue 6): real raftd clusters on 127.0.0.1 driven through the client
 * protocol, every figure printed beside its floor and its target. Not a test: it never fails on
 * a figure (exit 1 only when the harness itself fails).
 *
 *   npm run bench -- [--quick] [--million] [--json FILE] [--only NAME,NAME] [--profile-leader DIR]
 *                    [--dir PARENT] [--warmup-ms N] [--connection-per-client] [--help]
 *
 * --quick           the five scenarios issue 6 names, 5 s each (under 90 s in all)
 * --million         also: 1M queued 64 B messages (RSS per node, throughput vs empty)
 * --json FILE       results as JSON, and FILE with .svg: a chart of throughput and latency; for
 *                   each scenario that misses a target, its nodes' log lines around it in
 *                   FILE with .logs/SCENARIO.log (a directory beside the JSON)
 * --only NAMES      run only these scenarios (their clusters are still started)
 * --connection-per-client  one connection per load stream instead of one shared by all streams
 * --profile-leader DIR  run enqueue-64B-c64-n3 (or the --only ones, quick durations) with `node --cpu-prof --cpu-prof-dir DIR`
 *                   on every raftd (stopped with SIGTERM so the profiles get written) and print
 *                   the leader's profile file; summarise it with bench/profile-summary.ts
 * --dir PARENT      where the data dirs (and the fsync floor) live (default os.tmpdir())
 * --warmup-ms N     before measuring, drive each new cluster for about N ms (default 3000, 0: none)
 *                   with the scenarios' kinds of load on a queue of its own, then N ms more of one
 *                   client when the first scenario has one, so V8 has compiled the hot paths of
 *                   every process: the figures are steady state, not JIT warm-up
 * --help            this text
 *
 * Clusters run the compiled daemon (dist/), with default settings and --fsync always; all
 * processes are killed and the temp dirs removed at the end, on error and on Ctrl+C.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SingleBar } from "cli-progress";
import minimist from "minimist";
import { createClientManager, type ClusterClient } from "../src/client/cluster-client";
import { osSeed } from "../src/cli/os-seed";
import { SeededRng } from "../src/util/rng";
import { BenchCluster, registerCleanup } from "./lib/cluster";
import { measureFloors, type Floors } from "./lib/floors";
import { runLoad, type LoadProgress } from "./lib/load";
import type { MachineInfo } from "./lib/proc-stats";
import { formatFloors, formatScenario, overBare, renderSvg, type BenchReport, type ScenarioResult } from "./lib/report";
import { formatSelfTime, topSelfTime } from "./profile-summary";
import { missLogFileName, missLogsDirFor, missLogText } from "./lib/miss-logs";
import { attachPauses, followerEntriesPerFsync, runScenario, syncOnActivity, type ScenarioSpec } from "./lib/scenario";

interface Group {
  nodes: number;
  scenarios: ScenarioSpec[];
}

const electionTimeoutMs = 1_000; // raftd's default: the clusters run with default settings
const concurrencyMax = 64;
const activityPeriodMs = 5_000; // raftd's activity summary period
const clientTimeoutMs = 10_000;
const sizes = [
  { label: "64B", bytes: 64 },
  { label: "1KiB", bytes: 1024 },
  { label: "64KiB", bytes: 64 * 1024 },
];

function spec(op: ScenarioSpec["op"], label: string, bytes: number, concurrency: number, nodes: number, durationMs: number, extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  const name = `${op}-${label}-c${concurrency}-n${nodes}${extra.name ?? ""}`;
  return { op, queue: `q-${label}`, payloadBytes: bytes, concurrency, durationMs, ...extra, name };
}

/** Scenarios last a little less than whole 5 s activity periods (see bench/lib/scenario.ts). */
function plan(quick: boolean, million: boolean): Group[] {
  if (quick) {
    const d = 4_600;
    return [
      { nodes: 3, scenarios: [spec("enqueue", "64B", 64, 1, 3, d), spec("enqueue", "64B", 64, 64, 3, d), spec("dequeue", "64B", 64, 64, 3, d), spec("enqueue", "1KiB", 1024, 64, 3, d)] },
      { nodes: 5, scenarios: [spec("enqueue", "64B", 64, 64, 5, d)] },
    ];
  }
  const d = 9_600;
  const groups: Group[] = [];
  for (const nodes of [3, 5]) {
    const scenarios: ScenarioSpec[] = [];
    for (const { label, bytes } of nodes === 3 ? sizes : sizes.slice(0, 2)) {
      // 64 KiB values: cap the count so the queue stays under the 256 MiB total-bytes limit.
      const opsMax = bytes >= 64 * 1024 ? 1_000 : undefined;
      const cap = opsMax === undefined ? {} : { opsMax };
      scenarios.push(spec("enqueue", label, bytes, 1, nodes, d, cap), spec("enqueue", label, bytes, 64, nodes, d, cap));
      // dequeue c1 takes at most half of what the two enqueue runs left, so c64 has work too.
      const dequeueC1 = opsMax === undefined ? {} : { opsMax };
      scenarios.push(spec("dequeue", label, bytes, 1, nodes, d, dequeueC1), spec("dequeue", label, bytes, 64, nodes, d));
    }
    if (nodes === 3) {
      scenarios.push(spec("mixed", "64B", 64, 64, 3, d, { queue: "q-mixed" }));
      scenarios.push(spec("enqueue", "64B", 64, 64, 3, d, { name: "-failover", queue: "q-failover", failover: true }));
    }
    groups.push({ nodes, scenarios });
  }
  if (million) {
    groups.push({
      nodes: 3,
      scenarios: [
        spec("enqueue", "64B", 64, 64, 3, d, { name: "-empty", queue: "q-million" }),
        spec("enqueue", "64B", 64, 64, 3, 600_000, { name: "-fill", queue: "q-million", opsMax: 1_000_000 }),
        spec("enqueue", "64B", 64, 64, 3, d, { name: "-1M", queue: "q-million", compareWith: "enqueue-64B-c64-n3-empty" }),
      ],
    });
  }
  return groups;
}

/** The commit the bench ran on, "+dirty" when src/ has uncommitted changes (dist/ is built from the tree). */
function commitOf(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8" }).trim() !== "";
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    commit: commitOf(),
    nproc: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemoryBytes: os.totalmem(),
    loadAverage1m: os.loadavg()[0] ?? 0,
  };
}

/** A progress bar on a TTY, one line per scenario otherwise. */
class ProgressView {
  private readonly bar: SingleBar | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly total: number, private readonly progress: LoadProgress) {
    this.bar = process.stdout.isTTY === true ? new SingleBar({ format: "{bar} {value}/{total} scenarios | {scenario} | {ops} ops {errors} errors", hideCursor: true, clearOnComplete: true }) : null;
    this.bar?.start(total, 0, { scenario: "floors", ops: 0, errors: 0 });
  }

  begin(index: number, name: string): void {
    const start = this.progress.ops;
    const errorsStart = this.progress.errors;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.bar === null) {
      // No TTY: a line per scenario, and one every 30 s during long ones (the 1M fill).
      process.stdout.write(`[bench] ${index + 1}/${this.total} ${name}\n`);
      this.timer = setInterval(() => process.stdout.write(`[bench]   ${name}: ${this.progress.ops - start} ops, ${this.progress.errors - errorsStart} errors\n`), 30_000);
      return;
    }
    this.bar.update(index, { scenario: name, ops: 0, errors: 0 });
    this.timer = setInterval(() => this.bar?.update({ ops: this.progress.ops - start, errors: this.progress.errors - errorsStart }), 250);
  }

  log(text: string): void {
    if (this.bar === null) process.stdout.write(`${text}\n`);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.bar?.update(this.total);
    this.bar?.stop();
  }
}

/**
 * Drives a fresh cluster before anything is measured: enqueues from 64 streams for 0.4 x
 * `totalMs` and from 1 for 0.2 x, then dequeues the queue empty, on a queue no scenario uses.
 * A raftd starts cold (V8 interprets, then compiles what runs often, on the same two cores);
 * without this the first scenarios of each cluster measure the compiler as much as raftmq.
 *
 * With `endWithOneStream` (the group's first scenario has one client), it ends with `totalMs`
 * of one stream alternating enqueue and dequeue (the queue ends empty). One client costs the
 * nodes about one Ready round per op, against one per 64 ops at c64, so the per-round code
 * had run about 1,400 times by the end of the 64-stream part; in the first 2 s after it,
 * 3.5-5.4% of single-client enqueues took over 2 ms, against about 1% from the third second
 * on, and after 4 s of single-client load there was no such start (bench/README.md, session 6).
 */
async function warmUp(clients: ClusterClient[], totalMs: number, endWithOneStream: boolean): Promise<void> {
  if (totalMs <= 0) return;
  const progress: LoadProgress = { ops: 0, errors: 0 };
  const queue = "bench-warmup";
  await runLoad(clients, { op: "enqueue", queue, payloadBytes: 64, durationMs: Math.round(totalMs * 0.4) }, progress);
  await runLoad(clients.slice(0, 1), { op: "enqueue", queue, payloadBytes: 64, durationMs: Math.round(totalMs * 0.2) }, progress);
  // Dequeue streams stop at EMPTY; the deadline only bounds a cluster slower than the enqueues were.
  await runLoad(clients, { op: "dequeue", queue, payloadBytes: 64, durationMs: totalMs * 4 }, progress);
  if (endWithOneStream) await runLoad(clients.slice(0, 1), { op: "mixed", queue, payloadBytes: 64, durationMs: totalMs }, progress);
}

async function runGroup(group: Group, floors: Floors, parentDir: string, view: ProgressView, counter: { index: number }, options: { nodeFlags: string[]; graceful: boolean; earlier: ScenarioResult[]; progress: LoadProgress; leaderPids: number[]; connectionPerClient: boolean; warmupMs: number; missLogsDir: string | null }): Promise<ScenarioResult[]> {
  const cluster = new BenchCluster({ nodes: group.nodes, parentDir, nodeFlags: options.nodeFlags });
  const clients: ClusterClient[] = [];
  const results: ScenarioResult[] = [];
  // Like an application, the load generator multiplexes its streams over one connection per
  // node (--connection-per-client gives every stream its own, as earlier runs did).
  const manager = options.connectionPerClient ? undefined : createClientManager({ rng: new SeededRng(osSeed()), rpcTimeoutMs: clientTimeoutMs });
  try {
    view.begin(counter.index, `starting a ${group.nodes}-node cluster`);
    await cluster.start();
    for (let i = 0; i < concurrencyMax; i++) clients.push(cluster.client(clientTimeoutMs, manager));
    await Promise.all(clients.map((client) => client.execute("length", "warmup"))); // connect, find the leader
    const leader = await cluster.leader();
    options.leaderPids.push(leader.pid);
    view.log(`[bench] ${group.nodes} nodes up: ${cluster.addresses.join(" ")}; leader ${leader.name} pid ${leader.pid}`);
    await warmUp(clients, options.warmupMs, group.scenarios[0]?.concurrency === 1);
    await syncOnActivity(leader);
    for (const scenario of group.scenarios) {
      view.begin(counter.index++, scenario.name);
      const result = await runScenario(scenario, { cluster, clients, floors, progress: options.progress, electionTimeoutMs, earlier: [...options.earlier, ...results] });
      results.push(result);
      view.log(formatScenario(result, floors).split("\n")[0] ?? "");
      if (options.missLogsDir !== null) keepMissLog(result, cluster, options.missLogsDir, view);
    }
    // One more activity line from each follower, so every scenario's follower periods are in.
    const followers = cluster.nodes.filter((node) => !node.exited && node !== leader);
    await Promise.all(followers.map((node) => syncOnActivity(node)));
    for (const result of results) {
      result.followerEntriesPerFsync = followerEntriesPerFsync(result, followers, activityPeriodMs);
      attachPauses(result, cluster.nodes, activityPeriodMs);
    }
    return results;
  } catch (error) {
    process.stderr.write(`[bench] cluster of ${group.nodes} failed:\n${cluster.dump()}\n`);
    throw error;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await manager?.close();
    await cluster.stop(options.graceful);
  }
}

/** Writes the nodes' lines around `result` to missLogsDir when it missed a target (miss-logs.ts). */
function keepMissLog(result: ScenarioResult, cluster: BenchCluster, missLogsDir: string, view: ProgressView): void {
  const text = missLogText(result, cluster.nodes);
  if (text === null) return;
  fs.mkdirSync(missLogsDir, { recursive: true });
  const file = path.join(missLogsDir, missLogFileName(result.name));
  fs.writeFileSync(file, text);
  result.missLogFile = file;
  view.log(`[bench] ${result.name} missed a target: its nodes' log lines are in ${file}`);
}

function filterPlan(groups: Group[], only: string[] | null): Group[] {
  if (only === null) return groups;
  return groups.map((g) => ({ ...g, scenarios: g.scenarios.filter((s) => only.includes(s.name)) })).filter((g) => g.scenarios.length > 0);
}

async function main(argv: string[]): Promise<void> {
  const flags = { string: ["json", "only", "profile-leader", "dir", "warmup-ms"], boolean: ["quick", "million", "connection-per-client", "help"] };
  const args = minimist(argv, flags);
  if (args["help"] === true) {
    process.stdout.write(usage());
    return;
  }
  const known = new Set(["_", ...flags.string, ...flags.boolean]);
  const unknown = Object.keys(args).filter((key) => !known.has(key));
  if (unknown.length > 0 || args._.length > 0) {
    throw new UsageError(`unknown ${unknown.length > 0 ? `flag --${unknown[0]!}` : `argument ${String(args._[0])}`}\n${usage()}`);
  }
  const warmupMs = args["warmup-ms"] === undefined ? 3_000 : Number(args["warmup-ms"]);
  if (!Number.isSafeInteger(warmupMs) || warmupMs < 0 || warmupMs > 600_000) throw new UsageError(`--warmup-ms wants a whole number of ms from 0 to 600000, not ${String(args["warmup-ms"])}\n`);
  const quick = args["quick"] === true;
  const profileDir = typeof args["profile-leader"] === "string" ? path.resolve(args["profile-leader"]) : null;
  const parentDir = typeof args["dir"] === "string" ? path.resolve(args["dir"]) : os.tmpdir();
  let only = typeof args["only"] === "string" ? args["only"].split(",") : null;
  if (profileDir !== null) {
    only = only ?? ["enqueue-64B-c64-n3"];
    fs.mkdirSync(profileDir, { recursive: true });
  }
  const groups = filterPlan(plan(quick || profileDir !== null, args["million"] === true && !quick), only);
  const total = groups.reduce((sum, g) => sum + g.scenarios.length, 0);
  if (total === 0) throw new Error(`no scenario matches --only ${String(args["only"])}`);
  const progress: LoadProgress = { ops: 0, errors: 0 };
  const view = new ProgressView(total, progress);
  registerCleanup(() => view.stop());
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const floors = await measureFloors(parentDir, quick);
  const scenarios: ScenarioResult[] = [];
  const counter = { index: 0 };
  const leaderPids: number[] = [];
  const missLogsDir = typeof args["json"] === "string" ? missLogsDirFor(path.resolve(args["json"])) : null;
  try {
    for (const group of groups) {
      const nodeFlags = profileDir === null ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir];
      scenarios.push(...(await runGroup(group, floors, parentDir, view, counter, { nodeFlags, graceful: profileDir !== null, earlier: scenarios, progress, leaderPids, connectionPerClient: args["connection-per-client"] === true, warmupMs, missLogsDir })));
    }
  } finally {
    view.stop();
  }
  const notes = [`load average (1 min) at start ${machine.loadAverage1m.toFixed(2)}: other processes may share this machine`];
  const fill = scenarios.find((s) => s.name.endsWith("-fill"));
  if (fill !== undefined && fill.ops < 1_000_000) notes.push(`the 1M fill stopped at its time limit with ${fill.ops} messages queued: "-1M" ran with that many`);
  const report: BenchReport = { machine, floors, startedAt, quick, scenarios, notes };
  printReport(report);
  if (typeof args["json"] === "string") writeOutputs(args["json"], report);
  if (profileDir !== null) summariseLeaderProfile(profileDir, leaderPids);
}

/** Prints the top self-time functions of the leader's profile (the file name holds its pid). */
function summariseLeaderProfile(dir: string, leaderPids: number[]): void {
  const files = fs.readdirSync(dir).filter((name) => name.endsWith(".cpuprofile") && leaderPids.some((pid) => name.includes(`.${pid}.`)));
  for (const name of files) {
    const file = path.join(dir, name);
    const { rows, totalMs, busyMs } = topSelfTime(JSON.parse(fs.readFileSync(file, "utf8")) as Parameters<typeof topSelfTime>[0], 16);
    process.stdout.write(`leader profile ${file}: ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy; top 15 by self time (ms, % of all, % of busy)\n`);
    process.stdout.write(`${formatSelfTime(rows)}\n`);
  }
  if (files.length === 0) process.stdout.write(`no leader profile found in ${dir} (pids ${leaderPids.join(",")})\n`);
}

function printReport(report: BenchReport): void {
  const m = report.machine;
  const lines = [`raftmq bench  ${report.startedAt}  commit ${m.commit}  ${m.nproc} CPU ${m.cpuModel}  node ${m.node}  ${m.platform}  load ${m.loadAverage1m.toFixed(2)}`, formatFloors(report.floors), ""];
  for (const scenario of report.scenarios) lines.push(formatScenario(scenario, report.floors), "");
  const targets = report.scenarios.flatMap((s) => s.targets.map((t) => `  ${s.name.padEnd(30)} ${t.what.padEnd(20)} target ${t.target.padEnd(10)} got ${t.value.padEnd(12)} met? ${t.met ? "yes" : "NO"}${overBare(t)}`));
  if (targets.length > 0) lines.push("targets", ...targets);
  for (const note of report.notes) lines.push(`note: ${note}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

function writeOutputs(file: string, report: BenchReport): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const svg = file.endsWith(".json") ? `${file.slice(0, -5)}.svg` : `${file}.svg`;
  fs.writeFileSync(svg, renderSvg(report));
  process.stdout.write(`wrote ${file} and ${svg}\n`);
}

/** The flags, from this file's header comment (one place to keep them). */
function usage(): string {
  const source = fs.readFileSync(__filename, "utf8");
  const header = /\/\*\*\n([\s\S]*?)\*\//.exec(source)?.[1] ?? "";
  return `${header.split("\n").map((line) => line.replace(/^ \* ?/, "")).join("\n").trim()}\n`;
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
