/**
 * Test helper: a cluster of real raftd processes on 127.0.0.1, optionally each behind its own
 * FaultProxy (test/wire/fault-proxy.ts). With proxies, a node listens on a private port and
 * advertises its proxy's address, so every byte to it (from peers and clients) crosses the
 * proxy, and its identity survives restarts because the proxy stays up.
 *
 * Bounded: at most 7 nodes; every wait has a deadline; cleanup() (registered with t.teardown by
 * the caller) SIGKILLs every process, closes every proxy and client and removes the data dirs.
 */
import path from "node:path";
import { ClusterClient } from "../../src/client/cluster-client";
import { SeededRng } from "../../src/util/rng";
import { FaultProxy, type FaultConfig } from "../wire/fault-proxy";
import { freePort } from "../wire/harness";
import { ProcessSet, type RaftdProcess } from "./raftd-process";

export interface TestClusterOptions {
  nodes: number;
  seed: number;
  /** Faults on every node's proxy; no proxies when omitted. */
  faults?: Partial<FaultConfig>;
  /** Extra raftd flags for every node. */
  raftdArgs?: string[];
  /** Deadline for forming the cluster (default 60 s). */
  waitMs?: number;
}

interface Member {
  name: string;
  listenPort: number;
  address: string;
  proxy: FaultProxy | null;
  dataDir: string;
  process: RaftdProcess | null;
}

export class TestCluster {
  readonly processes = new ProcessSet();
  readonly members: Member[] = [];
  private readonly clients: ClusterClient[] = [];
  private readonly rng: SeededRng;
  private readonly baseDir: string;

  constructor(readonly options: TestClusterOptions) {
    if (options.nodes < 1 || options.nodes > 7) throw new Error("a test cluster has 1..7 nodes");
    this.rng = new SeededRng(options.seed);
    this.baseDir = this.processes.tempDir("cluster");
  }

  get addresses(): string[] {
    return this.members.map((member) => member.address);
  }

  /** Creates the members (ports, proxies) and starts them: the first bootstraps, the rest join it. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) {
      const listenPort = await freePort();
      let proxy: FaultProxy | null = null;
      let address = `127.0.0.1:${listenPort}`;
      if (this.options.faults !== undefined) {
        proxy = new FaultProxy(listenPort, this.rng.nextU32(), this.options.faults);
        address = `127.0.0.1:${await proxy.listen()}`;
      }
      this.members.push({ name: `n${i + 1}`, listenPort, address, proxy, dataDir: path.join(this.baseDir, `n${i + 1}`), process: null });
    }
    const first = this.startNode(0, null);
    await first.waitForEvent("listening");
    const waitMs = this.options.waitMs ?? 60_000;
    await Promise.all(this.members.slice(1).map(async (_, k) => this.startNode(k + 1, this.addresses[0] ?? null).waitForEvent("listening", waitMs)));
    await this.waitForVoters(this.options.nodes, waitMs);
  }

  startNode(i: number, join: string | null): RaftdProcess {
    const member = this.members[i];
    if (member === undefined) throw new Error(`no member ${i}`);
    const proc = this.processes.startRaftd(member.name, {
      listen: `127.0.0.1:${member.listenPort}`,
      advertise: member.address,
      dataDir: member.dataDir,
      ...(join === null ? {} : { join }),
      extra: this.options.raftdArgs ?? [],
    });
    member.process = proc;
    return proc;
  }

  async kill(i: number): Promise<void> {
    const member = this.members[i];
    if (member?.process === null || member === undefined) return;
    await member.process.kill("SIGKILL");
    member.process = null;
  }

  /** A client over the given members (default: all). Closed by cleanup(). */
  client(indexes?: number[], timeoutMs = 30_000): ClusterClient {
    const cluster = (indexes ?? this.members.map((_, i) => i)).map((i) => this.addresses[i] ?? "");
    const client = new ClusterClient({ cluster, timeoutMs, rng: new SeededRng(this.rng.nextU32()) });
    this.clients.push(client);
    return client;
  }

  /** Status from the leader, through a client over the live members. */
  async status(timeoutMs = 30_000): Promise<{ leader: string; term: number; members: Array<{ id: string; role: string; voter: boolean; reachable: boolean; matchIndex: number }> }> {
    const live = this.members.map((m, i) => (m.process === null ? -1 : i)).filter((i) => i >= 0);
    const client = this.client(live, timeoutMs);
    const reply = await client.call({ type: "StatusRequest", body: {} });
    if (reply.type !== "StatusReply") throw new Error(`unexpected ${reply.type}`);
    return reply.body;
  }

  indexOf(address: string): number {
    return this.addresses.indexOf(address);
  }

  /** Polls status (bounded) until `count` voters are configured, all of them caught up. */
  async waitForVoters(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const status = await this.status(Math.max(1000, deadline - Date.now()));
        const voters = status.members.filter((m) => m.voter);
        last = JSON.stringify(status.members);
        if (voters.length === count) return;
      } catch (error) {
        last = String(error);
      }
      await this.waitForAnyLine(500);
    }
    throw new Error(`cluster did not reach ${count} voters within ${timeoutMs} ms; last: ${last}`);
  }

  /** Waits until some node logs something (or `ms` pass): a pacing step for polling loops. */
  private async waitForAnyLine(ms: number): Promise<void> {
    const live = this.members.map((m) => m.process).filter((p): p is RaftdProcess => p !== null);
    await Promise.race([
      new Promise<void>((resolve) => setTimeout(resolve, ms)),
      ...live.map((p) => p.waitFor(() => true, ms, "any line").then(() => undefined, () => undefined)),
    ]);
  }

  dump(): string {
    const proxies = this.members.map((m) => (m.proxy === null ? "" : `${m.name} proxy ${JSON.stringify(m.proxy.stats)}`)).filter((s) => s !== "");
    return [...proxies, this.processes.dump()].join("\n");
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
    await this.processes.cleanup();
    await Promise.all(this.members.map((member) => member.proxy?.close()));
  }
}
