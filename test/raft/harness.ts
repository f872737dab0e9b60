/**
 * Harness: a synchronous, hand-driven cluster of RaftCores for unit and scenario tests (in the
 * spirit of etcd-io/raft rafttest). Nothing happens unless a test says so: a Ready is persisted
 * to an in-memory MemStorage whose disk syncs every write at once (no crash window; the
 * simulator covers that), its messages
 * join one FIFO queue, committed entries are recorded, and advance() is called. deliver() moves
 * queued messages (dropping those on cut links); stabilize() repeats until nothing is left.
 * Every step runs checkInvariants() on the touched core.
 */
import { RaftCore } from "../../src/raft/core";
import type { RaftConfigInput } from "../../src/raft/config";
import { nullCoreLogger } from "../../src/raft/logger";
import { emptyState } from "../../src/raft/membership";
import type { LogEntry, NodeId, PersistentState, RaftMessage, ReadState } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { MemDisk, type MemStorage } from "../sim/storage";

export type CoreOptions = Omit<RaftConfigInput, "id">;

export interface HarnessNode {
  id: NodeId;
  core: RaftCore | null;
  disk: MemDisk;
  /** Open on `disk` while the node runs. */
  storage: MemStorage;
  applied: LogEntry[];
  readStates: ReadState[];
  options: CoreOptions;
}

const stabilizeRoundsMax = 10_000;

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  queue: RaftMessage[] = [];
  private cut = new Set<string>();
  private rngSeed = 1;

  constructor(private readonly defaults: CoreOptions = { electionTicks: 10, heartbeatTicks: 1 }) {}

  /** Bootstraps voters n1..n<count> (or the given ids). */
  addVoters(ids: NodeId[], options: CoreOptions = {}): void {
    const initial = RaftCore.bootstrap(ids);
    for (const id of ids) this.addNode(id, syncedDisk(initial), options);
  }

  /** A fresh node with an empty log, to be added as a learner. */
  addEmpty(id: NodeId, options: CoreOptions = {}): void {
    this.addNode(id, syncedDisk(emptyState()), options);
  }

  private addNode(id: NodeId, disk: MemDisk, options: CoreOptions): void {
    const node: HarnessNode = { id, core: null, disk, storage: disk.open(), applied: [], readStates: [], options };
    this.nodes.set(id, node);
    this.start(node);
  }

  private start(node: HarnessNode): void {
    const state = node.storage.loadNow();
    node.core = new RaftCore(
      { ...this.defaults, ...node.options, id: node.id },
      state,
      new SeededRng(this.rngSeed++),
      nullCoreLogger,
    );
    node.applied = [];
  }

  core(id: NodeId): RaftCore {
    const core = this.nodes.get(id)?.core;
    if (core === null || core === undefined) throw new Error(`no running node ${id}`);
    return core;
  }

  node(id: NodeId): HarnessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    node.core = null;
    // Every write was synced when it was made, so the crash loses nothing and draws nothing.
    node.disk.crash(new SeededRng(0));
    node.storage = node.disk.open();
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: NodeId): void {
    this.start(this.node(id));
  }

  /** Cut traffic between the two groups (both directions), or one way with oneWay. */
  partition(left: NodeId[], right: NodeId[], oneWay = false): void {
    for (const a of left) {
      for (const b of right) {
        this.cut.add(`${a}>${b}`);
        if (!oneWay) this.cut.add(`${b}>${a}`);
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition([id], [...this.nodes.keys()].filter((n) => n !== id));
  }

  heal(): void {
    this.cut.clear();
  }

  tick(id: NodeId, count = 1): void {
    for (let k = 0; k < count; k++) {
      this.core(id).tick();
      this.process(id);
    }
  }

  tickAll(count = 1): void {
    for (let k = 0; k < count; k++) {
      for (const node of this.nodes.values()) if (node.core !== null) this.tick(node.id);
    }
  }

  /** `ticks` rounds of: every node ticks once, then messages are delivered until quiet. */
  run(ticks: number): void {
    for (let k = 0; k < ticks; k++) {
      this.tickAll(1);
      this.stabilize();
    }
  }

  /** Persist, send, apply and advance every Ready of `id` until none is left. */
  process(id: NodeId): void {
    const node = this.node(id);
    const core = node.core;
    if (core === null) return;
    core.checkInvariants();
    for (let ready = core.takeReady(); ready !== null; ready = core.takeReady()) {
      void node.storage.persist(ready.hardState, ready.entries, ready.snapshot); // durable at once
      this.queue.push(...ready.messages);
      if (ready.snapshot !== null) node.applied = [];
      node.applied.push(...ready.committed);
      node.readStates.push(...ready.readStates);
      core.advance(ready);
      core.checkInvariants();
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Deliver the queued messages accepted by `filter`, in order; returns what was delivered. */
  deliver(filter: (m: RaftMessage) => boolean = () => true): RaftMessage[] {
    this.processAll();
    const batch = this.queue;
    this.queue = [];
    const delivered: RaftMessage[] = [];
    for (const message of batch) {
      if (!filter(message)) {
        this.queue.push(message);
        continue;
      }
      const target = this.nodes.get(message.to);
      if (target === undefined || target.core === null || this.cut.has(`${message.from}>${message.to}`)) continue;
      delivered.push(message);
      target.core.step(message);
      this.process(message.to);
    }
    return delivered;
  }

  /** Deliver until quiet; returns every delivered message. */
  stabilize(): RaftMessage[] {
    const all: RaftMessage[] = [];
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      this.processAll();
      if (this.queue.length === 0) return all;
      all.push(...this.deliver());
    }
    throw new Error("stabilize did not converge");
  }

  /** The single node that believes it leads the highest term, if any. */
  leader(): NodeId | null {
    let best: RaftCore | null = null;
    for (const node of this.nodes.values()) {
      const core = node.core;
      if (core !== null && core.role === "leader" && (best === null || core.term > best.term)) best = core;
    }
    return best === null ? null : best.id;
  }

  propose(id: NodeId, text: string): ReturnType<RaftCore["propose"]> {
    const result = this.core(id).propose(new TextEncoder().encode(text));
    this.process(id);
    return result;
  }

  /** Commands applied by `id`, as text (normal entries only). */
  appliedText(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.kind === "normal")
      .map((e) => new TextDecoder().decode(e.data));
  }
}

export function describeMessage(m: RaftMessage): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "RequestVote":
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.preVote ? " pre" : ""}${m.transfer ? " transfer" : ""}`;
    case "RequestVoteResponse":
      return `${head} ${m.granted ? "granted" : "rejected"}${m.preVote ? " pre" : ""}`;
    case "AppendEntries": {
      const entries = m.entries.map((e) => `${e.index}/${e.term}`).join(",");
      const ctx = m.readContext > 0 ? ` ctx=${m.readContext}` : "";
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} entries=[${entries}] commit=${m.leaderCommit}${ctx}`;
    }
    case "AppendEntriesResponse": {
      const ctx = m.readContext > 0 ? ` ctx=${m.readContext}` : "";
      return m.success
        ? `${head} ok match=${m.matchIndex}${ctx}`
        : `${head} reject at=${m.matchIndex} hint=${m.conflictIndex}/${m.conflictTerm}${ctx}`;
    }
    case "InstallSnapshot":
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case "InstallSnapshotResponse":
      return `${head} match=${m.matchIndex}`;
    case "TimeoutNow":
      return head;
  }
}

function syncedDisk(initial: PersistentState): MemDisk {
  return new MemDisk(initial, "immediate");
}
