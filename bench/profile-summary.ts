/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. bench/run.ts --profile-leader DIR):
 * the top N functions by self time, with their share of all samples.
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [N=15]
 *
 * Self time of a node = the sum of the timeDeltas of the samples that landed on it; nodes of the
 * same function (name, url, line) are merged, so a function reached by many paths counts once.
 */
import * as fs from "node:fs";
import * as path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
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

export function topSelfTime(profile: CpuProfile, count: number): { rows: SelfTimeRow[]; totalMs: number; busyMs: number } {
  const byNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
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
  const file = argv[0];
  if (file === undefined) {
    process.stderr.write("usage: node dist/bench/profile-summary.js FILE.cpuprofile [N]\n");
    process.exitCode = 2;
    return;
  }
  const count = Number(argv[1] ?? 15);
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const { rows, totalMs, busyMs } = topSelfTime(profile, count);
  process.stdout.write(`${path.basename(file)}: ${(totalMs / 1000).toFixed(1)} s sampled, ${(busyMs / 1000).toFixed(1)} s busy; top ${rows.length} by self time (ms, % of all, % of busy)\n`);
  process.stdout.write(`${formatSelfTime(rows)}\n`);
}

if (require.main === module) main(process.argv.slice(2));
