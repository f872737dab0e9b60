/**
 * `npm start`: a local cluster on loopback for trying raftmq out.
 *
 *   npm start [-- --nodes N] [--base-port P] [--dir DIR] [--fresh] [--log-level L]
 *
 * Starts N raftd processes (default 3) on 127.0.0.1:P, P+1, ... with data dirs DIR/node-<port>
 * (default ./data/local-cluster). The first bootstraps the cluster; the others join it one at a
 * time. Their log lines are interleaved on this terminal. Ctrl+C (SIGINT) or SIGTERM stops every
 * node (SIGTERM, then SIGKILL after a grace period) and exits once all are gone. With existing
 * data dirs the nodes restart with their persisted state; --fresh wipes DIR first.
 * Every node runs its admin endpoint with --admin auto (port P+1000, ...); the dashboard URL of
 * the first node is printed (any node's serves the same dashboard).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { RaftmqError, isRaftmqError } from "../util/errors";
import { parseFlags, parseLogLevel, parsePositiveInt } from "./args";
import { formatRecord } from "./logger";
import { raftdNodeFlags } from "./node-flags";

const stopGraceMs = 5_000;
const nodesMax = 7;
/** raftd --admin auto: admin port = raft port + 1000. */
const adminPortOffset = 1000;

interface ClusterOptions {
  nodes: number;
  basePort: number;
  dir: string;
  fresh: boolean;
  logLevel: string;
}

function parseOptions(argv: string[]): ClusterOptions {
  const flags = parseFlags(argv, { strings: ["nodes", "base-port", "dir", "log-level"], booleans: ["fresh", "help"] });
  if (flags._.length > 0) throw new RaftmqError("CONFIG_INVALID", `unexpected argument ${String(flags._[0])}`);
  const basePort = flags["base-port"] === undefined ? 7001 : parsePositiveInt(flags["base-port"], "--base-port", 65535);
  const nodes = flags.nodes === undefined ? 3 : parsePositiveInt(flags.nodes, "--nodes", nodesMax);
  if (basePort + nodes - 1 + adminPortOffset > 65535) throw new RaftmqError("CONFIG_INVALID", "--base-port: ports run past 65535");
  return {
    nodes,
    basePort,
    dir: path.resolve(typeof flags.dir === "string" ? flags.dir : "data/local-cluster"),
    fresh: flags.fresh === true,
    logLevel: flags["log-level"] === undefined ? "info" : parseLogLevel(flags["log-level"]),
  };
}

const raftdPath = path.resolve(__dirname, "../../../bin/raftd");
const raftctlPath = path.relative(process.cwd(), path.resolve(__dirname, "../../../bin/raftctl")) || "bin/raftctl";

function startNode(options: ClusterOptions, port: number, join: string | null): ChildProcess {
  const address = `127.0.0.1:${port}`;
  const dataDir = path.join(options.dir, `node-${port}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const args = [...raftdNodeFlags, raftdPath, "--listen", address, "--data-dir", dataDir, "--log-level", options.logLevel, "--admin", "auto"];
  if (join !== null) args.push("--join", join);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "1" } });
  // Children do not see our TTY, so they log JSON; we re-render each line for humans.
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on("line", (line) => process.stdout.write(renderLine(line) + "\n"));
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(`[cluster] node ${address} exited (${signal ?? `code ${String(code)}`})\n`);
  });
  return child;
}

const colour = process.stdout.isTTY === true;

function renderLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line; // not a bunyan record (e.g. a crash trace): show it as it is
  }
  return formatRecord(record, colour);
}

async function main(argv: string[]): Promise<void> {
  let options: ClusterOptions;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    process.stderr.write(`npm start: ${error.code}: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (options.fresh) fs.rmSync(options.dir, { recursive: true, force: true });
  const addresses = Array.from({ length: options.nodes }, (_, i) => `127.0.0.1:${options.basePort + i}`);
  const children: ChildProcess[] = addresses.map((_, i) =>
    startNode(options, options.basePort + i, i === 0 ? null : addresses[0] ?? null),
  );
  process.stdout.write(
    [
      "",
      `[cluster] ${options.nodes} nodes: ${addresses.join(" ")}  (data: ${options.dir})`,
      `[cluster] talk to it:  ${raftctlPath} --cluster ${addresses.join(",")} enqueue hello`,
      `[cluster]              ${raftctlPath} --cluster ${addresses.join(",")}      (REPL)`,
      `[cluster] dashboard:   http://127.0.0.1:${options.basePort + adminPortOffset}/   (metrics: /metrics, status: /status)`,
      "[cluster] Ctrl+C stops every node",
      "",
    ].join("\n"),
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("[cluster] stopping all nodes\n");
    for (const child of children) child.kill("SIGTERM");
    const killer = setTimeout(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, stopGraceMs);
    killer.unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await Promise.all(children.map((child) => new Promise<void>((resolve) => child.once("exit", () => resolve()))));
  process.stdout.write("[cluster] all nodes stopped\n");
}

void main(process.argv.slice(2));
