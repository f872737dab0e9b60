/**
 * Per-process resource figures from Linux /proc (bench only).
 *
 * cpuSecondsOf(pid): utime + stime of a process so far, in seconds (fields 14 and 15 of
 * /proc/<pid>/stat, in clock ticks of 1/100 s on Linux: USER_HZ is 100 on every mainstream arch).
 * memoryOf(pid): VmHWM (peak resident set) and VmRSS (current), in bytes.
 * Both return null when the process is gone or /proc is missing (not Linux): callers print "-".
 */
import * as fs from "node:fs";

const clockTicksPerSecond = 100;

export function cpuSecondsOf(pid: number): number | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / clockTicksPerSecond;
}

export interface MemoryFigures {
  peakRssBytes: number;
  rssBytes: number;
}

export function memoryOf(pid: number): MemoryFigures | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
    return match === null ? 0 : Number(match[1]) * 1024;
  };
  return { peakRssBytes: kib("VmHWM"), rssBytes: kib("VmRSS") };
}

/** The bench process's own CPU seconds (user + system). */
export function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

export interface MachineInfo {
  commit: string;
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemoryBytes: number;
  loadAverage1m: number;
}
