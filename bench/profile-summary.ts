/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. bench/run.ts --profile-leader DIR):
 * the top N functions by self time, with their share of all samples.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [N=15] [--from S --to S] [--inclusive] [--timeline]
 *
 * Self time of a node = the sum of the timeDeltas of the samples that landed on it; nodes of the
 * same function (name, url, line) are merged, so a function reached by many paths counts once.
 *
 * A profile covers the process's whole life (start, warm-up, every scenario). --timeline prints
 * the busy ms of each second, to find a scenario's stretch; --from/--to (seconds since the first
 * sample) keep only the samples inside it. --inclusive ranks by time with the function anywhere
 * on the stack (each function counted once per sample) instead of self time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import minimist from "minimist";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Seconds since the first sample; a sample counts when its time is inside [fromS, toS]. */
export interface SampleWindow {
  fromS: number;
  toS: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTimeRow {
  fn: string;
  where: string;
  selfMs: number;
  share: number;
  /** Share of the non-idle samples ((idle) excluded): where the busy time goes. */
  busyShare: number;
}

/** Calls visit(nodeId, µs) for each sample inside the window (all of them without one). */
function forEachSample(profile: CpuProfile, window: SampleWindow | null, visit: (id: number, us: number) => void): void {
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    atUs += us;
    if (window !== null && (atUs / 1e6 < window.fromS || atUs / 1e6 > window.toS)) continue;
    visit(profile.samples[i]!, us);
  }
}

export function topSelfTime(profile: CpuProfile, count: number, window: SampleWindow | null = null): { rows: SelfTimeRow[]; totalMs: number; busyMs: number } {
  const byNode = new Map<number, number>();
  forEachSample(profile, window, (id, us) => byNode.set(id, (byNode.get(id) ?? 0) + us));
  const byFunction = new Map<string, SelfTimeRow>();
  let totalUs = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    totalUs += us;
    const frame = node.callFrame;
    const where = frame.url === "" ? "" : `${shorten(frame.url)}:${frame.lineNumber + 1}`;
    const fn = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    const key = `${fn} ${where}`;
    const row = byFunction.get(key) ?? { fn, where, selfMs: 0, share: 0, busyShare: 0 };
    row.selfMs += us / 1000;
    byFunction.set(key, row);
  }
  const rows = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, count);
  const idleMs = byFunction.get("(idle) ")?.selfMs ?? 0;
  const busyMs = totalUs / 1000 - idleMs;
  for (const row of rows) {
    row.share = totalUs === 0 ? 0 : (row.selfMs * 1000) / totalUs;
    row.busyShare = row.fn === "(idle)" || busyMs <= 0 ? 0 : row.selfMs / busyMs;
  }
  return { rows, totalMs: totalUs / 1000, busyMs };
}

/** Like topSelfTime, but each function gets every sample during which it is on the stack. */
export function topInclusiveTime(profile: CpuProfile, count: number, window: SampleWindow | null = null): { rows: SelfTimeRow[]; totalMs: number; busyMs: number } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const byFunction = new Map<string, SelfTimeRow>();
  let totalUs = 0;
  let idleUs = 0;
  forEachSample(profile, window, (id, us) => {
    totalUs += us;
    if (byId.get(id)?.callFrame.functionName === "(idle)") {
      idleUs += us;
      return;
    }
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === "(root)") continue;
      const where = frame.url === "" ? "" : `${shorten(frame.url)}:${frame.lineNumber + 1}`;
      const fn = frame.functionName === "" ? "(anonymous)" : frame.functionName;
      const key = `${fn} ${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const row = byFunction.get(key) ?? { fn, where, selfMs: 0, share: 0, busyShare: 0 };
      row.selfMs += us / 1000;
      byFunction.set(key, row);
    }
  });
  const busyMs = (totalUs - idleUs) / 1000;
  const rows = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, count);
  for (const row of rows) {
    row.share = totalUs === 0 ? 0 : (row.selfMs * 1000) / totalUs;
    row.busyShare = busyMs <= 0 ? 0 : row.selfMs / busyMs;
  }
  return { rows, totalMs: totalUs / 1000, busyMs };
}

/** Busy (non-idle) ms in each whole second of the profile. */
export function busyTimeline(profile: CpuProfile): number[] {
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  const seconds: number[] = [];
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    atUs += us;
    const second = Math.floor(atUs / 1e6);
    while (seconds.length <= second) seconds.push(0);
    if (!idle.has(profile.samples[i]!)) seconds[second]! += us / 1000;
  }
  return seconds;
}

/** One line per row: self ms, share of all samples, share of busy samples, function, place. */
export function formatSelfTime(rows: SelfTimeRow[]): string {
  return rows
    .map((row) => `${row.selfMs.toFixed(0).padStart(8)} ms ${(row.share * 100).toFixed(1).padStart(5)}% ${row.fn === "(idle)" ? "      " : `${(row.busyShare * 100).toFixed(1).padStart(5)}%`}  ${row.fn}  ${row.where}`)
    .join("\n");
}

function shorten(url: string): string {
  const marker = url.indexOf("/dist/");
  if (marker >= 0) return url.slice(marker + 1);
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules);
  return url.replace(/^file:\/\//, "");
}

function main(argv: string[]): void {
  const args = minimist(argv, { string: ["from", "to"], boolean: ["inclusive", "timeline"] });
  const file = args._[0] === undefined ? undefined : String(args._[0]);
  const count = Number(args._[1] ?? 15);
  const from = args["from"] === undefined ? null : Number(args["from"]);
  const to = args["to"] === undefined ? null : Number(args["to"]);
  const bad = file === undefined || !Number.isInteger(count) || count < 1 || (from !== null && !Number.isFinite(from)) || (to !== null && !Number.isFinite(to));
  if (bad) {
    process.stderr.write("usage: node dist/bench/profile-summary.js FILE.cpuprofile [N] [--from S --to S] [--inclusive] [--timeline]\n");
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  if (args["timeline"] === true) {
    process.stdout.write(`busy ms per second: ${busyTimeline(profile).map((ms, s) => `${s}s:${ms.toFixed(0)}`).join(" ")}\n`);
  }
  const window = from === null && to === null ? null : { fromS: from ?? 0, toS: to ?? Infinity };
  const { rows, totalMs, busyMs } = args["inclusive"] === true ? topInclusiveTime(profile, count, window) : topSelfTime(profile, count, window);
  const span = window === null ? "" : ` from ${window.fromS} s to ${window.toS} s`;
  process.stdout.write(`${path.basename(file)}${span}: ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy; top ${rows.length} by ${args["inclusive"] === true ? "inclusive" : "self"} time (ms, % of all, % of busy)\n`);
  process.stdout.write(`${formatSelfTime(rows)}\n`);
}

if (require.main === module) {
  // `... | head` closes the pipe early: that is the reader's choice, not an error to report.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(0);
  });
  main(process.argv.slice(2));
}
