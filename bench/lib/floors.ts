/**
 * The floors every cluster figure is compared with, measured in the same run on the same disk
 * and loopback:
 *   fsyncMs:           mean latency of append 64 B + fdatasync on the data dirs' disk
 *                      (bench/storage.ts rawDatasync);
 *   fsyncThreeMs:      the same with three writers at once, a file each (what three nodes on one
 *                      disk ask of it): each one's mean latency; fsyncsThreePerSec in all;
 *   rttMs:             mean bare node:net echo round trip of a 100-byte message, one at a time
 *                      (bench/wire/bench.ts bareRoundTrips);
 *   pipelinedMsgsPerSec: one-way 100-byte writes/s over one bare connection (barePipelined);
 *   bareReplication:   entries/s and commit latency of three processes that only replicate
 *                      batches over bare net and fdatasync them (bench/lib/bare-replica.ts), 64 B,
 *                      64 entries outstanding (the c64 scenarios' floor); bareReplicationOne: the
 *                      same with one outstanding (the c1 scenarios' floor);
 *   probeMs:           the CPU probe (machine-probe.ts), taken first; each scenario takes it too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { rawDatasync } from "../storage";
import { track } from "./cluster";
import { barePipelined, bareRoundTrips } from "../wire/bench";
import { probeMs } from "./machine-probe";

export interface Floors {
  fsyncMs: number;
  fsyncsPerSec: number;
  fsyncThreeMs: number;
  fsyncsThreePerSec: number;
  rttMs: number;
  roundTripsPerSec: number;
  pipelinedMsgsPerSec: number;
  bareReplicationEntriesPerSec: number | null;
  bareReplicationEntriesPerFsync: number | null;
  bareReplication: BareReplication | null;
  bareReplicationOne: BareReplication | null;
  dir: string;
  /** The CPU probe at the start of the run (absent in results written before session 11). */
  probeMs?: number;
}

/** One bare replication run: `window` entries outstanding, each replaced once committed. */
export interface BareReplication {
  window: number;
  entriesPerSec: number;
  entriesPerFsync: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

const bareReplicaScript = path.join(__dirname, "bare-replica.js");

function firstJsonLine(child: ChildProcess, timeoutMs: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    if (child.stdout === null) return reject(new Error("no stdout"));
    const rl = readline.createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("bare replica did not answer in time")), timeoutMs);
    rl.once("line", (line) => {
      clearTimeout(timer);
      rl.close();
      try {
        resolve(JSON.parse(line) as Record<string, number>);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.once("exit", (code) => reject(new Error(`bare replica exited with ${String(code)}`)));
  });
}

/** Three bare-replica processes for `seconds`; null figures if the script is missing. */
export async function bareReplicationFloor(dir: string, seconds: number, window: number, entryBytes: number): Promise<BareReplication | null> {
  if (!fs.existsSync(bareReplicaScript)) return null; // run from tsx: no compiled child script
  const children: ChildProcess[] = [];
  try {
    const ports: number[] = [];
    for (const name of ["f1", "f2"]) {
      fs.mkdirSync(path.join(dir, name));
      const child = spawn(process.execPath, [bareReplicaScript, "follower", path.join(dir, name)], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      track(child, null);
      ports.push((await firstJsonLine(child, 10_000))["port"] ?? 0);
    }
    fs.mkdirSync(path.join(dir, "leader"));
    const args = [bareReplicaScript, "leader", path.join(dir, "leader"), ...ports.map(String), String(window), String(seconds), String(entryBytes)];
    const leader = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    children.push(leader);
    track(leader, null);
    const result = await firstJsonLine(leader, seconds * 1000 + 20_000);
    const entries = result["entries"] ?? 0;
    return {
      window,
      entriesPerSec: result["entriesPerSec"] ?? 0,
      entriesPerFsync: entries / Math.max(1, result["fsyncs"] ?? 1),
      p50Ms: result["p50Ms"] ?? 0,
      p99Ms: result["p99Ms"] ?? 0,
      p999Ms: result["p999Ms"] ?? 0,
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  }
}

export async function measureFloors(dir: string, quick: boolean): Promise<Floors> {
  const seconds = quick ? 1 : 3;
  const probe = probeMs();
  const fsyncDir = fs.mkdtempSync(path.join(dir, "raftmq-bench-floor-fsync-"));
  track(null, fsyncDir);
  let raw: { fsyncsPerSecond: number };
  let three: { fsyncsPerSecond: number };
  try {
    raw = await rawDatasync(fsyncDir, seconds);
    three = await rawDatasync(fsyncDir, seconds, 3);
  } finally {
    fs.rmSync(fsyncDir, { recursive: true, force: true });
  }
  const message = Buffer.alloc(100, 1);
  const roundTripsPerSec = await bareRoundTrips(quick ? 5_000 : 20_000, message);
  const pipelinedMsgsPerSec = await barePipelined(quick ? 100_000 : 300_000, message);
  const bare = await bareReplicationIn(dir, quick ? 2 : 5, 64);
  const bareOne = await bareReplicationIn(dir, quick ? 2 : 5, 1);
  return {
    fsyncMs: 1000 / raw.fsyncsPerSecond,
    fsyncsPerSec: raw.fsyncsPerSecond,
    fsyncThreeMs: (3 * 1000) / three.fsyncsPerSecond,
    fsyncsThreePerSec: three.fsyncsPerSecond,
    rttMs: 1000 / roundTripsPerSec,
    roundTripsPerSec,
    pipelinedMsgsPerSec,
    bareReplicationEntriesPerSec: bare?.entriesPerSec ?? null,
    bareReplicationEntriesPerFsync: bare?.entriesPerFsync ?? null,
    bareReplication: bare,
    bareReplicationOne: bareOne,
    dir,
    probeMs: probe,
  };
}

/** bareReplicationFloor in a temp dir of its own under `dir`, removed afterwards. */
async function bareReplicationIn(dir: string, seconds: number, window: number): Promise<BareReplication | null> {
  const replicaDir = fs.mkdtempSync(path.join(dir, "raftmq-bench-floor-replica-"));
  track(null, replicaDir);
  try {
    return await bareReplicationFloor(replicaDir, seconds, window, 64);
  } finally {
    fs.rmSync(replicaDir, { recursive: true, force: true });
  }
}

/** The bare replication run a scenario is measured against: same outstanding ops (1 or 64). */
export function bareFloorFor(floors: Floors, concurrency: number): BareReplication | null {
  return concurrency === 1 ? floors.bareReplicationOne : floors.bareReplication;
}
