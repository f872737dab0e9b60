/**
 * Results of bench/run.ts: the scenario record written to JSON, the targets of issue 6 checked
 * against it, the text table (each figure beside its floor) and a hand-written SVG chart.
 * Pure functions of the results: no I/O here.
 */
import { bareFloorFor, type Floors } from "./floors";
import type { MachineInfo } from "./proc-stats";
import type { PauseFigures } from "../../src/node/pause-monitor";
import { probeRounds, type CpuShares } from "./machine-probe";

export interface NodeFigures {
  name: string;
  role: "leader" | "follower";
  cpuSecondsPer10kOps: number | null;
  peakRssMb: number | null;
  rssMb: number | null;
  /** What held the node's thread up during the scenario, from its activity lines (null: none in the window). */
  pauses?: NodePauses | null;
}

/**
 * Sums of a node's activity lines whose 5 s period has its middle inside the scenario (so they
 * cover about the scenario, give or take part of a period at each end): GCs, persists over 2 ms
 * (write + flush), and the longest lateness of raftd's 100 ms heartbeat tick.
 */
export interface NodePauses extends PauseCounts {
  periods: number;
}

/** The pause figures of raftd's activity line (GCs: src/node/pause-monitor.ts; persists and tick lateness: RaftNode). */
export interface PauseCounts {
  gcPauses: number;
  gcPauseMs: number;
  gcPauseMaxMs: number;
  slowPersists: number;
  persistMaxMs: number;
  tickLateMaxMs: number;
}

export interface TargetCheck {
  what: string;
  target: string;
  value: string;
  met: boolean;
  /** The figure as a multiple of the same figure of bare replication in this run, if it has one. */
  overBareReplication?: number;
}

export interface FailoverFigures {
  electionTimeoutMs: number;
  noLeaderMs: number | null;
  longestStallMs: number;
  acknowledgedEnqueues: number;
  opsLost: number;
  duplicates: number;
  p99DuringFailoverMs: number;
  maxDuringFailoverMs: number;
  /** Errors while draining (a lost dequeue reply would show up as a lost op: look here). */
  drainErrors: Record<string, number>;
}

export interface ScenarioMachine {
  /** The CPU probe right before the load, ms. */
  probeMs: number;
  /** probeMs over the floors' probe (above 1: a slower CPU than when the floors were measured). */
  probeOverFloors: number | null;
  /** Shares of all CPU time during the load (null without /proc). */
  shares: CpuShares | null;
}

export interface ScenarioResult {
  name: string;
  op: string;
  payloadBytes: number;
  concurrency: number;
  nodes: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  errors: Record<string, number>;
  emptyReplies: number;
  /** Leader's entries per fsync from its activity lines covering exactly this scenario; null if missing. */
  leaderEntriesPerFsync: number | null;
  /** Followers' entries per fsync, from their lines whose period is mostly inside the scenario (approximate). */
  followerEntriesPerFsync: number | null;
  /** Date.now() at the start and end of the load. */
  windowStartMs: number;
  windowEndMs: number;
  benchCpuSecondsPer10kOps: number;
  benchPeakRssMb: number | null;
  /**
   * The load generator's own GCs during the load: they delay the ops in flight as a node's do
   * (a c1 op that took over 1.5 ms overlapped one in 6-13% of cases, bench/README.md, session 9).
   */
  benchPauses?: PauseFigures;
  nodeFigures: NodeFigures[];
  /** p50 / (fsync + 2 RTT). */
  p50OverFloor: number;
  /**
   * Against bare replication with as many entries outstanding (1 for c1 scenarios, else 64):
   * ops/s over its entries/s, p50 and p99 over its commit latencies; null if not measured.
   */
  opsOverBareReplication: number | null;
  p50OverBareReplication: number | null;
  p99OverBareReplication: number | null;
  failover?: FailoverFigures;
  targets: TargetCheck[];
  /** How fast and how free the machine was for this scenario (machine-probe.ts). */
  machine?: ScenarioMachine;
  /** With --json, for a scenario that missed a target: the file holding its nodes' log lines (miss-logs.ts). */
  missLogFile?: string;
}

export interface BenchReport {
  machine: MachineInfo;
  floors: Floors;
  startedAt: string;
  quick: boolean;
  scenarios: ScenarioResult[];
  notes: string[];
}

const fixed = (n: number, digits = 2): string => n.toFixed(digits);
const thousands = (n: number): string => Math.round(n).toLocaleString("en-US");

const overBareOf = (ratio: number | null): { overBareReplication?: number } => (ratio === null ? {} : { overBareReplication: ratio });

/** The targets of issue 6 that apply to a scenario (by name). */
export function targetsFor(result: Omit<ScenarioResult, "targets">, extra: { emptyOpsPerSec?: number }): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const n = result.name;
  if (/^enqueue-64B-c64-n3$/.test(n)) {
    checks.push({ what: "ops/s", target: ">= 25,000", value: thousands(result.opsPerSec), met: result.opsPerSec >= 25_000, ...overBareOf(result.opsOverBareReplication) });
    checks.push({ what: "p99", target: "< 10 ms", value: `${fixed(result.p99Ms)} ms`, met: result.p99Ms < 10, ...overBareOf(result.p99OverBareReplication) });
  }
  if (n === "dequeue-64B-c64-n3") checks.push({ what: "ops/s", target: ">= 27,000", value: thousands(result.opsPerSec), met: result.opsPerSec >= 27_000, ...overBareOf(result.opsOverBareReplication) });
  if (n === "enqueue-64B-c1-n3") {
    checks.push({ what: "p50", target: "< 0.6 ms", value: `${fixed(result.p50Ms, 3)} ms`, met: result.p50Ms < 0.6, ...overBareOf(result.p50OverBareReplication) });
    checks.push({ what: "p99", target: "< 2 ms", value: `${fixed(result.p99Ms, 3)} ms`, met: result.p99Ms < 2, ...overBareOf(result.p99OverBareReplication) });
  }
  const f = result.failover;
  if (f !== undefined) {
    const limit = 2 * f.electionTimeoutMs;
    checks.push({ what: "no leader", target: `< ${limit} ms`, value: f.noLeaderMs === null ? "unknown" : `${Math.round(f.noLeaderMs)} ms`, met: f.noLeaderMs !== null && f.noLeaderMs < limit });
    checks.push({ what: "ops lost", target: "0", value: String(f.opsLost), met: f.opsLost === 0 });
  }
  if (n.endsWith("-1M")) {
    const worst = Math.max(...result.nodeFigures.map((node) => node.rssMb ?? Number.POSITIVE_INFINITY));
    checks.push({ what: "RSS/node, 1M queued", target: "< 300 MB", value: `${fixed(worst, 0)} MB`, met: worst < 300 });
    if (extra.emptyOpsPerSec !== undefined) {
      const ratio = result.opsPerSec / extra.emptyOpsPerSec;
      checks.push({ what: "ops/s vs empty", target: ">= 0.80", value: fixed(ratio), met: ratio >= 0.8 });
    }
  }
  return checks;
}

export function formatFloors(floors: Floors): string {
  const lines = [
    "floors (same run, same disk and loopback)",
    `  fdatasync (64 B append)      ${fixed(floors.fsyncMs, 3)} ms   (${thousands(floors.fsyncsPerSec)}/s, ${floors.dir})`,
    `  the same, 3 writers at once  ${fixed(floors.fsyncThreeMs, 3)} ms   (${thousands(floors.fsyncsThreePerSec)}/s in all: what the 3 nodes share)`,
    `  loopback round trip (bare)   ${fixed(floors.rttMs, 3)} ms   (${thousands(floors.roundTripsPerSec)}/s)`,
    `  pipelined 100 B msgs (bare)  ${thousands(floors.pipelinedMsgsPerSec)}/s`,
  ];
  if (floors.probeMs !== undefined) lines.push(`  cpu probe                    ${fixed(floors.probeMs)} ms   (CRC-32C of 1 MiB in JS, least of ${probeRounds} back to back; each scenario takes it again)`);
  for (const run of [floors.bareReplication, floors.bareReplicationOne]) {
    if (run === null) continue;
    lines.push(
      `  bare replication, ${String(run.window).padStart(2)} out    ${thousands(run.entriesPerSec)} entries/s, p50 ${fixed(run.p50Ms, 3)} p99 ${fixed(run.p99Ms, 3)} p99.9 ${fixed(run.p999Ms, 3)} ms` +
        ` (3 procs, 64 B, ${fixed(run.entriesPerFsync, 1)} entries/fsync)`,
    );
  }
  return lines.join("\n");
}

/** "  (1.12 x bare replication)" for a target that has that figure, else "". */
export function overBare(t: TargetCheck): string {
  return t.overBareReplication === undefined ? "" : `  (${fixed(t.overBareReplication)} x bare replication)`;
}

/** "12 (34 ms, max 5.6)": how many GCs, their total and the longest. */
function gcFigures(p: PauseFigures): string {
  return `${p.gcPauses} (${fixed(p.gcPauseMs, 0)} ms, max ${fixed(p.gcPauseMaxMs, 1)})`;
}

/** "probe 3.10 ms (1.32 x the floors'), cpu busy 64%, iowait 9%, idle 25%, steal 2.0%". */
export function formatMachine(m: ScenarioMachine): string {
  const probe = `probe ${fixed(m.probeMs)} ms${m.probeOverFloors === null ? "" : ` (${fixed(m.probeOverFloors)} x the floors')`}`;
  if (m.shares === null) return probe;
  const pct = (share: number): string => `${fixed(share * 100, 0)}%`;
  return `${probe}, cpu busy ${pct(m.shares.busy)}, iowait ${pct(m.shares.iowait)}, idle ${pct(m.shares.idle)}, steal ${fixed(m.shares.steal * 100, 1)}%`;
}

export function formatScenario(r: ScenarioResult, floors: Floors): string {
  const floorMs = floors.fsyncMs + 2 * floors.rttMs;
  const errors = Object.entries(r.errors).map(([code, count]) => `${code} x${count}`).join(", ");
  const nodes = r.nodeFigures
    .map((node) => `${node.name}${node.role === "leader" ? "*" : ""} cpu ${node.cpuSecondsPer10kOps === null ? "-" : fixed(node.cpuSecondsPer10kOps)} s peak ${node.peakRssMb === null ? "-" : fixed(node.peakRssMb, 0)} MB`)
    .join(" | ");
  if (r.ops === 0) return `${r.name}: no acknowledged ops (errors ${errors === "" ? "none" : errors}; EMPTY replies ${r.emptyReplies})`;
  const lines = [
    `${r.name}: ${thousands(r.opsPerSec)} ops/s (${thousands(r.ops)} ops in ${fixed(r.seconds, 1)} s)` +
      (r.opsOverBareReplication === null ? "" : `  = ${fixed(r.opsOverBareReplication)} x bare replication (${bareFloorFor(floors, r.concurrency)?.window ?? "?"} out)`),
    `  latency p50 ${fixed(r.p50Ms, 3)}  p99 ${fixed(r.p99Ms, 3)}  p99.9 ${fixed(r.p999Ms, 3)}  max ${fixed(r.maxMs, 3)} ms` +
      `   p50 = ${fixed(r.p50OverFloor)} x (fsync + 2 RTT = ${fixed(floorMs, 3)} ms)` +
      (r.p50OverBareReplication === null || r.p99OverBareReplication === null ? "" : `, p50 / p99 = ${fixed(r.p50OverBareReplication)} / ${fixed(r.p99OverBareReplication)} x bare replication's`),
    `  entries/fsync leader ${r.leaderEntriesPerFsync === null ? "-" : fixed(r.leaderEntriesPerFsync, 1)}  followers ${r.followerEntriesPerFsync === null ? "-" : fixed(r.followerEntriesPerFsync, 1)}` +
      `   cpu s/10k ops: bench ${fixed(r.benchCpuSecondsPer10kOps)} | ${nodes}`,
  ];
  const pauses = r.nodeFigures.filter((node) => node.pauses !== undefined && node.pauses !== null);
  const perProcess = pauses.map((node) => {
    const p = node.pauses!;
    return `${node.name}${node.role === "leader" ? "*" : ""} gc ${gcFigures(p)}, persists > 2 ms ${p.slowPersists} (max ${fixed(p.persistMaxMs, 1)}), tick late max ${fixed(p.tickLateMaxMs, 1)} ms`;
  });
  if (r.benchPauses !== undefined) perProcess.push(`bench gc ${gcFigures(r.benchPauses)}`);
  if (perProcess.length > 0) lines.push(`  pauses: ${perProcess.join(" | ")}`);
  if (r.machine !== undefined) lines.push(`  machine: ${formatMachine(r.machine)}`);
  if (errors !== "" || r.emptyReplies > 0) lines.push(`  errors: ${errors === "" ? "none" : errors}; EMPTY replies ${r.emptyReplies}`);
  if (r.failover !== undefined) {
    const f = r.failover;
    lines.push(
      `  failover: no leader ${f.noLeaderMs === null ? "unknown" : `${Math.round(f.noLeaderMs)} ms`} (election timeout ${f.electionTimeoutMs} ms), longest stall ${Math.round(f.longestStallMs)} ms, ` +
        `acked enqueues ${f.acknowledgedEnqueues}, lost ${f.opsLost}, duplicates ${f.duplicates}, p99 during failover ${fixed(f.p99DuringFailoverMs)} ms (max ${fixed(f.maxDuringFailoverMs)} ms)`,
    );
  }
  for (const t of r.targets) lines.push(`  target ${t.what} ${t.target}: ${t.value}  met? ${t.met ? "yes" : "NO"}${overBare(t)}`);
  return lines.join("\n");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Two horizontal bar panels: ops/s per scenario, and p50/p99 latency (log scale). */
export function renderSvg(report: BenchReport): string {
  const rows = report.scenarios;
  const rowPx = 22;
  const labelPx = 230;
  const barPx = 520;
  const width = labelPx + barPx + 130;
  const panelTop = [40, 40 + rows.length * rowPx + 60];
  const height = panelTop[1]! + rows.length * rowPx + 50;
  const maxOps = Math.max(1, ...rows.map((r) => r.opsPerSec));
  const latencies = rows.flatMap((r) => [r.p50Ms, r.p99Ms]).filter((v) => v > 0);
  const lowMs = Math.min(0.1, ...latencies);
  const highMs = Math.max(10, ...latencies);
  const logX = (ms: number): number => (Math.log10(Math.max(ms, lowMs) / lowMs) / Math.log10(highMs / lowMs)) * barPx;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">raftmq bench ${escapeXml(report.startedAt)} (${report.machine.nproc} CPU, ${escapeXml(report.machine.cpuModel)}, node ${escapeXml(report.machine.node)})</text>`,
    `<text x="10" y="${panelTop[0]! - 6}" font-weight="bold">throughput (ops/s)</text>`,
    `<text x="10" y="${panelTop[1]! - 6}" font-weight="bold">latency, log scale: p50 (dark) and p99 (light), ms</text>`,
  ];
  rows.forEach((r, i) => {
    const y0 = panelTop[0]! + i * rowPx;
    const w = (r.opsPerSec / maxOps) * barPx;
    out.push(`<text x="10" y="${y0 + 15}">${escapeXml(r.name)}</text>`);
    out.push(`<rect x="${labelPx}" y="${y0 + 3}" width="${w.toFixed(1)}" height="${rowPx - 6}" fill="#3b7dd8"/>`);
    out.push(`<text x="${labelPx + w + 4}" y="${y0 + 15}">${thousands(r.opsPerSec)}</text>`);
    const y1 = panelTop[1]! + i * rowPx;
    out.push(`<text x="10" y="${y1 + 15}">${escapeXml(r.name)}</text>`);
    out.push(`<rect x="${labelPx}" y="${y1 + 3}" width="${logX(r.p99Ms).toFixed(1)}" height="${rowPx - 6}" fill="#f0a35e"/>`);
    out.push(`<rect x="${labelPx}" y="${y1 + 6}" width="${logX(r.p50Ms).toFixed(1)}" height="${rowPx - 12}" fill="#c0561b"/>`);
    out.push(`<text x="${labelPx + logX(r.p99Ms) + 4}" y="${y1 + 15}">${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)}</text>`);
  });
  const axisY = panelTop[1]! + rows.length * rowPx + 14;
  for (let ms = 0.1; ms <= highMs * 1.001; ms *= 10) {
    if (ms < lowMs) continue;
    const x = labelPx + logX(ms);
    out.push(`<line x1="${x.toFixed(1)}" y1="${panelTop[1]!}" x2="${x.toFixed(1)}" y2="${axisY - 10}" stroke="#bbb" stroke-dasharray="2,2"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${axisY + 2}" text-anchor="middle">${ms >= 1 ? ms.toFixed(0) : ms.toFixed(1)} ms</text>`);
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
