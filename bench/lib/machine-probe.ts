/**
 * How fast and how free this machine is while the bench runs (bench only).
 *
 * On this VM the same build's figures drift by up to 1.9 x within minutes, in every process at
 * once: in session 11 the load generator, whose code did not change, spent 7.2 to 13.9 us of
 * CPU per c64 op in runs a few minutes apart. The floors are measured once, at the start of a
 * run that lasts about 5 minutes, so each scenario carries figures of its own:
 *
 *   probeMs  the least of `probeRounds` back-to-back timings of a fixed piece of single-threaded
 *            work (CRC-32C of 1 MiB in JavaScript, 1.27-1.30 ms a round here at best), right
 *            before the scenario's load while the cluster idles; the floors take the same probe,
 *            so probeMs / floors' probeMs says how much slower one thread ran for this scenario
 *            than for the floors. Back to back, because after the process idles its first
 *            rounds run slower as the VM's CPU wakes (1.5-2.3 ms for 1-4 rounds after 25 ms to
 *            1 s idle); spread 25 ms apart, ten rounds read 1.37-2.07 ms with nothing else
 *            running. The least of many rounds leaves out the wake-up, but not a slow phase of
 *            the machine itself (once, 2.3-2.7 ms for 12 rounds in a row): it says how fast one
 *            thread ran right then, a sample, not an average over the scenario;
 *   shares   of all CPU time during the load, from the first line of /proc/stat: busy (user,
 *            nice, system, irq, softirq), iowait, idle and steal (time the hypervisor gave to
 *            something else while this VM wanted to run).
 */
import * as fs from "node:fs";
import { performance } from "node:perf_hooks";
import { crc32c } from "../../src/queue/crc32c";

export const probeRounds = 20;
const probeBytes = 1024 * 1024;

/** The CPU time counters of /proc/stat's first line, in clock ticks. */
export interface CpuTimes {
  busy: number;
  idle: number;
  iowait: number;
  steal: number;
}

/** Fractions of all CPU time (they sum to 1). */
export interface CpuShares {
  busy: number;
  iowait: number;
  idle: number;
  steal: number;
}

/** Parses the aggregate "cpu" line of /proc/stat; null when the text has none. */
export function parseCpuTimes(procStat: string): CpuTimes | null {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
  const at = (i: number): number => f[i] ?? 0;
  return { busy: at(0) + at(1) + at(2) + at(5) + at(6), idle: at(3), iowait: at(4), steal: at(7) };
}

/** The counters now, or null without /proc (not Linux). */
export function readCpuTimes(): CpuTimes | null {
  try {
    return parseCpuTimes(fs.readFileSync("/proc/stat", "utf8"));
  } catch {
    return null;
  }
}

/** Shares of the time between two readings; null if either is missing or no time passed. */
export function cpuShares(before: CpuTimes | null, after: CpuTimes | null): CpuShares | null {
  if (before === null || after === null) return null;
  const busy = after.busy - before.busy;
  const idle = after.idle - before.idle;
  const iowait = after.iowait - before.iowait;
  const steal = after.steal - before.steal;
  const total = busy + idle + iowait + steal;
  if (total <= 0) return null;
  return { busy: busy / total, iowait: iowait / total, idle: idle / total, steal: steal / total };
}

let probeInput: Uint8Array | null = null;
/** Where the checksums go, so the work cannot be optimised away. */
let probeSink = 0;

/** One round: ms to compute CRC-32C over the 1 MiB input. */
function probeRound(input: Uint8Array): number {
  const start = performance.now();
  probeSink ^= crc32c(input);
  return performance.now() - start;
}

/** The probe: the least time, in ms, of probeRounds back-to-back CRC-32C computations over 1 MiB. */
export function probeMs(): number {
  if (probeInput === null) {
    probeInput = new Uint8Array(probeBytes);
    for (let i = 0; i < probeBytes; i++) probeInput[i] = (i * 31) & 0xff;
    // The first rounds run before V8 has optimised crc32c (5 and 3 ms against 1.3 here).
    for (let round = 0; round < 3; round++) probeRound(probeInput);
  }
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < probeRounds; round++) best = Math.min(best, probeRound(probeInput));
  return best;
}
