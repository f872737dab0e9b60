/**
 * BenchCluster: real raftd processes on 127.0.0.1 for the benchmark (bench only).
 *
 * Runs the compiled daemon (`node dist/src/cli/raftd-main.js`, so `npm run build` first) with
 * the node flags bin/raftd uses (src/cli/node-flags.ts), default settings and --fsync always,
 * data dirs under one temp dir. The first node bootstraps, the others join it; start() returns
 * once every node is a voter. Each node's JSON log lines are parsed as they arrive: `activity`
 * records (every 5 s: entriesPersisted, fsyncs) are kept with their arrival time, `role` records
 * tell who leads, and the last lines are kept for a failure report. Bounded: at most 7 nodes, every wait has a deadline.
 *
 * Cleanup: stop() SIGKILLs (or, with graceful, SIGTERMs then SIGKILLs after a grace period, so
 * --cpu-prof can write its profile) every process and removes the temp dir. killAllSync() is
 * for process exit and signal handlers; registerCleanup() installs those once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { raftdNodeFlags } from "../../src/cli/node-flags";
import { ClusterClient } from "../../src/client/cluster-client";
import type { ConnectionManager } from "../../src/wire";
import { SeededRng } from "../../src/util/rng";
import type { StatusReply } from "../../src/wire/schema.generated";
import type { PauseCounts } from "./report";

const repoRoot = path.resolve(__dirname, "../../..");
const raftdMain = path.join(repoRoot, "dist/src/cli/raftd-main.js");
const nodesMax = 7;
/** Lines kept per node (at info level a node logs a few per second, more around elections). */
const linesKept = 2_000;
const activityKept = 10_000;
const gracefulStopMs = 10_000;

export type LogRecord = Record<string, unknown> & { event?: string; msg?: string };

/** One activity line of a node; its pause figures are 0 when the line has none. */
export interface ActivityRecord extends PauseCounts {
  atMs: number;
  entriesPersisted: number;
  fsyncs: number;
}

export class BenchNode {
  readonly lines: string[] = [];
  /** Arrival time (Date.now()) of each line in `lines`, index for index. */
  private readonly lineAtMs: number[] = [];
  readonly activity: ActivityRecord[] = [];
  /** Arrival times (Date.now()) of this node's "now leader" records. */
  readonly becameLeaderAtMs: number[] = [];
  exited = false;
  exitInfo: { code: number | null; signal: string | null } | null = null;
  /** Set before the bench itself kills the node (failover, stop): its exit is no failure. */
  exitExpected = false;
  private readonly listeners = new Set<(record: LogRecord) => void>();
  readonly exitedPromise: Promise<void>;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly dataDir: string,
    readonly child: ChildProcess,
  ) {
    this.exitedPromise = new Promise((resolve) => child.once("exit", (code, signal) => {
      this.exited = true;
      this.exitInfo = { code, signal };
      resolve();
    }));
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) readline.createInterface({ input: stream }).on("line", (line) => this.onLine(line));
    }
  }

  /** Kept lines that arrived from fromMs to toMs (Date.now()), in order. */
  linesBetween(fromMs: number, toMs: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const at = this.lineAtMs[i]!;
      if (at >= fromMs && at <= toMs) out.push(this.lines[i]!);
    }
    return out;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private onLine(line: string): void {
    const now = Date.now();
    this.lines.push(line);
    this.lineAtMs.push(now);
    if (this.lines.length > linesKept) {
      this.lines.shift();
      this.lineAtMs.shift();
    }
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      return; // a crash trace: kept in `lines`
    }
    if (record.event === "activity" && this.activity.length < activityKept) {
      const count = (field: string): number => Number(record[field] ?? 0) || 0;
      this.activity.push({
        atMs: now,
        entriesPersisted: count("entriesPersisted"),
        fsyncs: count("fsyncs"),
        gcPauses: count("gcPauses"),
        gcPauseMs: count("gcPauseMs"),
        gcPauseMaxMs: count("gcPauseMaxMs"),
        slowPersists: count("slowPersists"),
        persistMaxMs: count("persistMaxMs"),
        tickLateMaxMs: count("tickLateMaxMs"),
      });
    }
    if (record.event === "role" && typeof record.msg === "string" && record.msg.endsWith("leader")) this.becameLeaderAtMs.push(now);
    for (const listener of this.listeners) listener(record);
  }

  /** Resolves with the next record matching `match`, or null after timeoutMs or if the node exits. */
  next(match: (record: LogRecord) => boolean, timeoutMs: number): Promise<LogRecord | null> {
    if (this.exited) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (record: LogRecord | null): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(record);
      };
      const listener = (record: LogRecord): void => {
        if (match(record)) done(record);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      this.listeners.add(listener);
      void this.exitedPromise.then(() => done(null));
    });
  }
}

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

/** Registers a child process and/or a temp dir of the bench for killAllSync (floors use it too). */
export function track(child: ChildProcess | null, dir: string | null): void {
  if (child !== null) {
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
  }
  if (dir !== null) liveDirs.add(dir);
}

/** SIGKILLs every raftd this process started and removes their dirs (synchronous: exit paths). */
export function killAllSync(): void {
  for (const child of liveChildren) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  liveChildren.clear();
  for (const dir of liveDirs) fs.rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

let cleanupRegistered = false;

/** On exit, Ctrl+C, SIGTERM and uncaught errors: kill every raftd and remove the temp dirs. */
export function registerCleanup(onSignal: () => void): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on("exit", killAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      onSignal();
      killAllSync();
      process.exit(130);
    });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface BenchClusterOptions {
  nodes: number;
  /** Extra node flags, e.g. --cpu-prof (before the script path). */
  nodeFlags?: string[];
  /** Extra raftd flags for every node. */
  raftdArgs?: string[];
  /** Parent of the temp dir (default os.tmpdir()): the disk whose fsync is measured. */
  parentDir?: string;
  startTimeoutMs?: number;
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  readonly rootDir: string;
  private readonly rng = new SeededRng(0xbe4c);

  constructor(readonly options: BenchClusterOptions) {
    if (options.nodes < 1 || options.nodes > nodesMax) throw new Error(`a bench cluster has 1..${nodesMax} nodes`);
    if (!fs.existsSync(raftdMain)) throw new Error(`${raftdMain} is missing: run \`npm run build\` first`);
    this.rootDir = fs.mkdtempSync(path.join(options.parentDir ?? os.tmpdir(), "raftmq-bench-"));
    liveDirs.add(this.rootDir);
  }

  get addresses(): string[] {
    return this.nodes.map((node) => node.address);
  }

  async start(): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    const first = await this.spawnNode(0, null);
    if ((await first.next((r) => r.event === "listening", timeoutMs)) === null) throw new Error(`n1 did not start:\n${first.lines.join("\n")}`);
    // Join one at a time: each join is a membership change, and the leader takes one at a time.
    for (let i = 1; i < this.options.nodes; i++) {
      const node = await this.spawnNode(i, first.address);
      if ((await node.next((r) => r.event === "listening", timeoutMs)) === null) throw new Error(`${node.name} did not start:\n${node.lines.join("\n")}`);
    }
    await this.waitForVoters(this.options.nodes, timeoutMs);
  }

  private async spawnNode(i: number, join: string | null): Promise<BenchNode> {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const dataDir = path.join(this.rootDir, `n${i + 1}`);
    const args = [...raftdNodeFlags, ...(this.options.nodeFlags ?? []), raftdMain, "--listen", address, "--data-dir", dataDir, "--fsync", "always", "--log-level", "info"];
    if (join !== null) args.push("--join", join);
    args.push(...(this.options.raftdArgs ?? []));
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    liveChildren.add(child);
    child.once("exit", () => liveChildren.delete(child));
    const node = new BenchNode(`n${i + 1}`, address, dataDir, child);
    this.nodes.push(node);
    return node;
  }

  /** Why the cluster is broken: a node exited without the bench killing it (crash, outside kill). */
  failure(): string | null {
    const node = this.nodes.find((n) => n.exited && !n.exitExpected);
    if (node === undefined) return null;
    return `${node.name} (pid ${node.pid}) exited unexpectedly (${node.exitInfo?.signal ?? `code ${String(node.exitInfo?.code)}`})`;
  }

  /** SIGKILLs one node on purpose (failover scenarios). */
  killNode(node: BenchNode): void {
    node.exitExpected = true;
    node.child.kill("SIGKILL");
  }

  /**
   * Milliseconds from `sinceMs` (Date.now() when `killed` was SIGKILLed) until another node
   * logged "now leader" (as the bench read the line), or null if none has.
   */
  newLeaderAfterMs(killed: BenchNode, sinceMs: number): number | null {
    const elected = this.nodes
      .filter((node) => node !== killed)
      .flatMap((node) => node.becameLeaderAtMs)
      .filter((at) => at > sinceMs);
    return elected.length === 0 ? null : Math.min(...elected) - sinceMs;
  }

  /** A client over the live nodes; the caller closes it (and `manager`, if it shares one). */
  client(timeoutMs = 30_000, manager?: ConnectionManager): ClusterClient {
    const live = this.nodes.filter((node) => !node.exited).map((node) => node.address);
    if (live.length === 0) throw new Error("every node of the bench cluster has exited (killed from outside?)");
    const cluster = live;
    return new ClusterClient({ cluster, timeoutMs, rng: new SeededRng(this.rng.nextU32()), ...(manager === undefined ? {} : { manager }) });
  }

  async status(timeoutMs = 10_000): Promise<StatusReply> {
    const client = this.client(timeoutMs);
    try {
      const reply = await client.call({ type: "StatusRequest", body: {} });
      if (reply.type !== "StatusReply") throw new Error(`unexpected ${reply.type}`);
      return reply.body;
    } finally {
      await client.close();
    }
  }

  async leader(): Promise<BenchNode> {
    const status = await this.status();
    const node = this.nodes.find((n) => n.address === status.leader);
    if (node === undefined) throw new Error(`leader ${status.leader} is not one of ${this.addresses.join(",")}`);
    return node;
  }

  private async waitForVoters(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const status = await this.status(Math.max(1_000, deadline - Date.now()));
        last = JSON.stringify(status.members);
        if (status.members.filter((m) => m.voter).length === count) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling pace, not synchronisation
    }
    throw new Error(`cluster did not reach ${count} voters within ${timeoutMs} ms; last: ${last}`);
  }

  /** Stops every node (SIGKILL, or SIGTERM first when graceful) and removes the data dirs. */
  async stop(graceful = false): Promise<void> {
    const live = this.nodes.filter((node) => !node.exited);
    for (const node of live) node.exitExpected = true;
    if (graceful) {
      for (const node of live) node.child.kill("SIGTERM");
      const timer = setTimeout(() => live.forEach((node) => node.child.kill("SIGKILL")), gracefulStopMs);
      await Promise.all(live.map((node) => node.exitedPromise));
      clearTimeout(timer);
    } else {
      for (const node of live) node.child.kill("SIGKILL");
      await Promise.all(live.map((node) => node.exitedPromise));
    }
    fs.rmSync(this.rootDir, { recursive: true, force: true });
    liveDirs.delete(this.rootDir);
  }

  dump(): string {
    return this.nodes.map((node) => `==== ${node.name} ${node.address}\n${node.lines.slice(-40).join("\n")}`).join("\n");
  }
}
