/**
 * Failover loop (bench only): how long a cluster (3 nodes unless --nodes) is without a leader
 * after its leader is SIGKILLed, over many runs. The full bench kills one leader per run; a rare
 * slow election (two followers that time out together and split the vote) needs tens of runs to
 * show.
 *
 *   npm run build && node dist/bench/failover.js [--runs 20] [--fill 100000] [--nodes 3] [--json FILE]
 *
 * Each run: a fresh cluster (default settings, --fsync always), `--fill` enqueues of 1 KiB (a
 * queue that makes snapshots and disk writes heavy), then 64 clients enqueue 64 B values; 2 s in,
 * the leader is SIGKILLed; the time until another node logs "now leader" is the run's figure.
 * Over 2 x the election timeout, the survivors' election log lines are printed.
 */
import * as fs from "node:fs";
import { parseFlags, parsePositiveInt } from "../src/cli/args";
import { createClientManager } from "../src/client/cluster-client";
import { SeededRng } from "../src/util/rng";
import { BenchCluster, registerCleanup } from "./lib/cluster";
import { runLoad } from "./lib/load";

const electionTimeoutMs = 1_000; // raftd's default
const runsMax = 1_000;
const fillMax = 1_000_000;
const killAfterMs = 2_000;
const nodesMin = 3;
const nodesMax = 7;
const loadMs = 6_000;

export interface FailoverSummary {
  runs: number;
  /** Runs in which no other node became leader before the load ended. */
  noNewLeader: number;
  minMs: number | null;
  p50Ms: number | null;
  maxMs: number | null;
  /** Runs with no leader for at least boundMs, or none at all. */
  overBound: number;
  boundMs: number;
}

/** Figures of a set of runs: null entries are runs without a new leader. */
export function summarizeFailovers(noLeaderMs: ReadonlyArray<number | null>, boundMs: number): FailoverSummary {
  const elected = noLeaderMs.filter((ms): ms is number => ms !== null).sort((a, b) => a - b);
  const noNewLeader = noLeaderMs.length - elected.length;
  return {
    runs: noLeaderMs.length,
    noNewLeader,
    minMs: elected.length === 0 ? null : elected[0]!,
    p50Ms: elected.length === 0 ? null : elected[Math.floor((elected.length - 1) / 2)]!,
    maxMs: elected.length === 0 ? null : elected[elected.length - 1]!,
    overBound: noNewLeader + elected.filter((ms) => ms >= boundMs).length,
    boundMs,
  };
}

async function oneRun(run: number, fill: number, nodes: number): Promise<number | null> {
  const cluster = new BenchCluster({ nodes });
  const manager = createClientManager({ rng: new SeededRng(run + 1), rpcTimeoutMs: 30_000 });
  try {
    await cluster.start();
    const clients = Array.from({ length: 64 }, () => cluster.client(30_000, manager));
    const progress = { ops: 0, errors: 0 };
    if (fill > 0) await runLoad(clients, { op: "enqueue", queue: "fill", payloadBytes: 1024, durationMs: 120_000, opsMax: fill }, progress);
    const leader = await cluster.leader();
    const survivors = cluster.nodes.filter((node) => node !== leader);
    let killedAtMs = 0;
    const killer = setTimeout(() => {
      killedAtMs = Date.now();
      cluster.killNode(leader);
    }, killAfterMs);
    await runLoad(clients, { op: "enqueue", queue: "q", payloadBytes: 64, durationMs: loadMs }, progress);
    clearTimeout(killer);
    const ms = killedAtMs === 0 ? null : cluster.newLeaderAfterMs(leader, killedAtMs);
    console.log(`run ${run + 1}: ${ms === null ? "no new leader" : `no leader for ${ms} ms`}`);
    if (ms === null || ms >= 2 * electionTimeoutMs) {
      for (const node of survivors) {
        for (const line of node.linesBetween(killedAtMs, Date.now())) {
          if (/"event":"(prevote-|vote-|became-|role)/.test(line)) console.log(`  ${node.name} ${line}`);
        }
      }
    }
    await Promise.all(clients.map((client) => client.close()));
    return ms;
  } finally {
    await manager.close();
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const args = parseFlags(process.argv.slice(2), { strings: ["json", "runs", "fill", "nodes"], booleans: [] });
  if (args._.length > 0) throw new Error(`unexpected arguments: ${args._.join(" ")}`);
  const runs = args["runs"] === undefined ? 20 : parsePositiveInt(args["runs"], "--runs", runsMax);
  const fill = args["fill"] === undefined ? 100_000 : args["fill"] === "0" ? 0 : parsePositiveInt(args["fill"], "--fill", fillMax);
  // At least 3: a failover needs a majority left after the kill.
  const nodes = args["nodes"] === undefined ? 3 : parsePositiveInt(args["nodes"], "--nodes", nodesMax, nodesMin);
  registerCleanup(() => undefined);
  const figures: Array<number | null> = [];
  for (let run = 0; run < runs; run++) figures.push(await oneRun(run, fill, nodes));
  const summary = summarizeFailovers(figures, 2 * electionTimeoutMs);
  console.log(
    `${summary.runs} runs of ${nodes} nodes: no leader for ${summary.minMs ?? "-"} / ${summary.p50Ms ?? "-"} / ${summary.maxMs ?? "-"} ms (min / p50 / max); ` +
      `${summary.overBound} at or over ${summary.boundMs} ms (2 x the election timeout)${summary.noNewLeader > 0 ? `, ${summary.noNewLeader} without a new leader` : ""}`,
  );
  if (args["json"] !== undefined) fs.writeFileSync(String(args["json"]), JSON.stringify({ nodes, fill, electionTimeoutMs, noLeaderMs: figures, summary }, null, 2) + "\n");
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
