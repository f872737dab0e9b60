/**
 * One scenario against a running BenchCluster: load (bench/lib/load.ts) plus the figures around
 * it (entries per fsync from the leader's activity lines, CPU and RSS of every process), and,
 * for a failover scenario, a SIGKILL of the leader halfway and the check that every acknowledged
 * enqueue is dequeued afterwards.
 *
 * Entries per fsync: raftd logs an `activity` line every 5 s. The caller syncs on one of the
 * leader's lines (syncOnActivity) right before a scenario, the scenario lasts a little less than
 * a whole number of 5 s periods, and afterwards we wait for the leader's next line: the lines in
 * between cover the scenario and only idle time around it, so their sums are exact.
 */
import type { ClusterClient } from "../../src/client/cluster-client";
import type { ActivityRecord, BenchCluster, BenchNode } from "./cluster";
import { bareFloorFor, type Floors } from "./floors";
import { newHistogram } from "./histogram";
import { runLoad, type LoadOp, type LoadProgress, type LoadResult } from "./load";
import { cpuSecondsOf, memoryOf, selfCpuSeconds } from "./proc-stats";
import { PauseMonitor, tenths } from "../../src/node/pause-monitor";
import { targetsFor, type FailoverFigures, type NodeFigures, type NodePauses, type ScenarioResult } from "./report";
import { cpuShares, probeMs, readCpuTimes } from "./machine-probe";

export interface ScenarioSpec {
  name: string;
  op: LoadOp;
  queue: string;
  payloadBytes: number;
  concurrency: number;
  durationMs: number;
  opsMax?: number;
  failover?: boolean;
  /** Name of an earlier scenario whose ops/s this one is compared with (the 1M run). */
  compareWith?: string;
}

export interface ScenarioContext {
  cluster: BenchCluster;
  clients: ClusterClient[];
  floors: Floors;
  progress: LoadProgress;
  electionTimeoutMs: number;
  earlier: ScenarioResult[];
}

const activityWaitMs = 7_000;
const drainMs = 120_000;
const mb = (bytes: number): number => bytes / (1024 * 1024);

/** Waits for the leader's next activity line; returns false if none came. */
export async function syncOnActivity(leader: BenchNode): Promise<boolean> {
  return (await leader.next((record) => record.event === "activity", activityWaitMs)) !== null;
}

interface Before {
  atMs: number;
  leaderActivityFrom: number;
  cpu: Map<BenchNode, number | null>;
  benchCpu: number;
}

function sumActivity(records: Array<{ entriesPersisted: number; fsyncs: number }>): number | null {
  const entries = records.reduce((sum, r) => sum + r.entriesPersisted, 0);
  const fsyncs = records.reduce((sum, r) => sum + r.fsyncs, 0);
  return fsyncs === 0 ? null : entries / fsyncs;
}

function nodeFigures(ctx: ScenarioContext, before: Before, leader: BenchNode, ops: number): NodeFigures[] {
  return ctx.cluster.nodes.map((node) => {
    const start = before.cpu.get(node) ?? null;
    const end = node.exited ? null : cpuSecondsOf(node.pid);
    const memory = node.exited ? null : memoryOf(node.pid);
    return {
      name: node.name,
      role: node === leader ? ("leader" as const) : ("follower" as const),
      cpuSecondsPer10kOps: start === null || end === null || ops === 0 ? null : ((end - start) / ops) * 10_000,
      peakRssMb: memory === null ? null : mb(memory.peakRssBytes),
      rssMb: memory === null ? null : mb(memory.rssBytes),
    };
  });
}

export async function runScenario(spec: ScenarioSpec, ctx: ScenarioContext): Promise<ScenarioResult> {
  const leader = await ctx.cluster.leader();
  const probe = probeMs();
  const cpuTimesBefore = readCpuTimes();
  const before: Before = {
    atMs: Date.now(),
    leaderActivityFrom: leader.activity.length,
    cpu: new Map(ctx.cluster.nodes.map((node) => [node, cpuSecondsOf(node.pid)])),
    benchCpu: selfCpuSeconds(),
  };
  const clients = ctx.clients.slice(0, spec.concurrency);
  let killedAtMs: number | null = null;
  const killer = spec.failover === true ? setTimeout(() => {
    killedAtMs = Date.now();
    ctx.cluster.killNode(leader);
  }, spec.durationMs / 2) : null;
  const stop = (): boolean => ctx.cluster.failure() !== null;
  const benchGc = new PauseMonitor();
  benchGc.start();
  let load: LoadResult;
  try {
    load = await runLoad(clients, { op: spec.op, queue: spec.queue, payloadBytes: spec.payloadBytes, durationMs: spec.durationMs, opsMax: spec.opsMax, track: spec.failover === true, stop }, ctx.progress);
  } finally {
    if (killer !== null) clearTimeout(killer);
    benchGc.stop();
  }
  const shares = cpuShares(cpuTimesBefore, readCpuTimes());
  const benchPauses = benchGc.take();
  const failure = ctx.cluster.failure();
  if (failure !== null) throw new Error(`${spec.name}: ${failure}`);
  const benchCpu = selfCpuSeconds() - before.benchCpu;
  const figures = nodeFigures(ctx, before, leader, load.ops);
  const benchMemory = memoryOf(process.pid);
  let failover: FailoverFigures | undefined;
  if (spec.failover === true && killedAtMs !== null) failover = await checkFailover(spec, ctx, leader, load, killedAtMs);
  // Close the activity window: the next line of the (current) leader covers the scenario's end.
  const currentLeader = failover === undefined ? leader : await ctx.cluster.leader();
  const synced = await syncOnActivity(currentLeader);
  const leaderRecords = failover === undefined && synced ? leader.activity.slice(before.leaderActivityFrom) : [];
  const h = load.histogram;
  const ms = (us: number): number => us / 1000;
  const seconds = load.elapsedMs / 1000;
  const opsPerSec = load.ops / seconds;
  const floorMs = ctx.floors.fsyncMs + 2 * ctx.floors.rttMs;
  const bare = bareFloorFor(ctx.floors, spec.concurrency);
  const p50Ms = ms(h.getValueAtPercentile(50));
  const p99Ms = ms(h.getValueAtPercentile(99));
  const partial = {
    name: spec.name,
    op: spec.op,
    payloadBytes: spec.payloadBytes,
    concurrency: spec.concurrency,
    nodes: ctx.cluster.nodes.length,
    ops: load.ops,
    seconds,
    opsPerSec,
    p50Ms,
    p99Ms,
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
    errors: load.errors,
    emptyReplies: load.emptyReplies,
    leaderEntriesPerFsync: sumActivity(leaderRecords),
    followerEntriesPerFsync: null, // filled in by followerEntriesPerFsync() once the followers' lines are in
    windowStartMs: before.atMs,
    windowEndMs: before.atMs + load.elapsedMs,
    benchCpuSecondsPer10kOps: load.ops === 0 ? 0 : (benchCpu / load.ops) * 10_000,
    benchPeakRssMb: benchMemory === null ? null : mb(benchMemory.peakRssBytes),
    benchPauses,
    machine: { probeMs: probe, probeOverFloors: ctx.floors.probeMs === undefined ? null : probe / ctx.floors.probeMs, shares },
    nodeFigures: figures,
    p50OverFloor: p50Ms / floorMs,
    opsOverBareReplication: bare === null ? null : opsPerSec / bare.entriesPerSec,
    p50OverBareReplication: bare === null || bare.p50Ms <= 0 ? null : p50Ms / bare.p50Ms,
    p99OverBareReplication: bare === null || bare.p99Ms <= 0 ? null : p99Ms / bare.p99Ms,
    ...(failover === undefined ? {} : { failover }),
  };
  h.destroy();
  const compared = spec.compareWith === undefined ? undefined : ctx.earlier.find((r) => r.name === spec.compareWith)?.opsPerSec;
  return { ...partial, targets: targetsFor(partial, compared === undefined ? {} : { emptyOpsPerSec: compared }) };
}

/**
 * Followers log on their own 5 s phase: a follower line counts for a scenario when the middle of
 * the period it covers falls inside the scenario (approximate, unlike the leader's figure).
 * Call after each follower has logged once more after the last scenario.
 */
export function followerEntriesPerFsync(result: ScenarioResult, followers: BenchNode[], periodMs: number): number | null {
  return sumActivity(followers.flatMap((node) => linesInside(node, result, periodMs)));
}

/** A node's activity lines whose period's middle falls inside the scenario's window. */
function linesInside(node: BenchNode, result: ScenarioResult, periodMs: number): ActivityRecord[] {
  return node.activity.filter((r) => r.atMs - periodMs / 2 >= result.windowStartMs && r.atMs - periodMs / 2 <= result.windowEndMs);
}

/**
 * Each node's pause figures for a scenario (NodePauses), from its activity lines whose period's
 * middle falls inside the scenario, as for the followers' entries per fsync. Call once every
 * node has logged after the last scenario.
 */
export function attachPauses(result: ScenarioResult, nodes: BenchNode[], periodMs: number): void {
  for (const figures of result.nodeFigures) {
    const node = nodes.find((n) => n.name === figures.name);
    const records = node === undefined ? [] : linesInside(node, result, periodMs);
    figures.pauses = records.length === 0 ? null : sumPauses(records);
  }
}

export function sumPauses(records: ActivityRecord[]): NodePauses {
  const sum = (pick: (r: ActivityRecord) => number): number => records.reduce((total, r) => total + pick(r), 0);
  const max = (pick: (r: ActivityRecord) => number): number => records.reduce((most, r) => Math.max(most, pick(r)), 0);
  return {
    periods: records.length,
    gcPauses: sum((r) => r.gcPauses),
    gcPauseMs: tenths(sum((r) => r.gcPauseMs)),
    gcPauseMaxMs: max((r) => r.gcPauseMaxMs),
    slowPersists: sum((r) => r.slowPersists),
    persistMaxMs: max((r) => r.persistMaxMs),
    tickLateMaxMs: max((r) => r.tickLateMaxMs),
  };
}

async function checkFailover(spec: ScenarioSpec, ctx: ScenarioContext, killed: BenchNode, load: LoadResult, killedAtMs: number): Promise<FailoverFigures> {
  const noLeaderMs = ctx.cluster.newLeaderAfterMs(killed, killedAtMs);
  // Every acknowledged enqueue must come out again: drain the queue with all the streams.
  const stop = (): boolean => ctx.cluster.failure() !== null;
  const drained = await runLoad(ctx.clients, { op: "dequeue", queue: spec.queue, payloadBytes: 0, durationMs: drainMs, track: true, stop }, ctx.progress);
  drained.histogram.destroy();
  const seen = new Map<string, number>();
  for (const value of drained.dequeued) seen.set(value, (seen.get(value) ?? 0) + 1);
  const opsLost = load.acked.filter((value) => !seen.has(value)).length;
  const duplicates = [...seen.values()].filter((count) => count > 1).length;
  const windowEndMs = killedAtMs + (noLeaderMs ?? 0) + 1_000;
  const during = newHistogram();
  for (const sample of load.samples) if (sample.startMs >= killedAtMs - 100 && sample.startMs <= windowEndMs) during.recordValue(sample.latencyUs);
  const completions = load.samples.map((s) => s.startMs + s.latencyUs / 1000).sort((a, b) => a - b);
  let longestStallMs = 0;
  for (let i = 1; i < completions.length; i++) longestStallMs = Math.max(longestStallMs, completions[i]! - completions[i - 1]!);
  const figures: FailoverFigures = {
    electionTimeoutMs: ctx.electionTimeoutMs,
    noLeaderMs,
    longestStallMs,
    acknowledgedEnqueues: load.acked.length,
    opsLost,
    duplicates,
    p99DuringFailoverMs: during.getValueAtPercentile(99) / 1000,
    maxDuringFailoverMs: during.maxValue / 1000,
    drainErrors: drained.errors,
  };
  during.destroy();
  return figures;
}
