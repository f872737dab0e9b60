/**
 * Deterministic simulation of a raftmq cluster: N RaftCores on a simulated clock, an unreliable
 * network and crash-prone storage, all driven by one seeded PRNG (STYLE.md §9; anchors:
 * TigerBeetle vopr.zig / packet_simulator.zig, etcd-io/raft rafttest).
 *
 * Fault model (the seed picks each rate, "swarm testing", so some runs are calm and some brutal):
 *   network  per-message loss; duplication; random delays (which reorder); corruption, modelled
 *            as the receiver's wire layer rejecting the frame on its checksum, i.e. a drop;
 *            bounded link capacity (overflow drops); partitions (symmetric split, asymmetric
 *            one-way cuts, leader isolation) lasting at least partitionTicksMin, then healed.
 *   storage  each node persists through MemStorage (storage.ts), the RaftStorage contract that
 *            FileStorage also passes (test/storage/contract.ts). A Ready's write enters the
 *            node's MemDisk cache when the Ready is taken and becomes durable when the simulator
 *            completes the sync at a later "persisted" event; a crash before it (at random, or
 *            aimed at the write with crashInSyncRate) loses it except for a seeded prefix, cut
 *            where FileStorage's recovery can leave one. At the sync the simulator checks the
 *            disk holds the Ready's writes before any message leaves; the core sees advance()
 *            only then. Log matching is checked on what reaches the disk, synced or torn.
 *   host     the orders RaftNode uses, each for half the seeds: a leader's replication
 *            messages leave before its own write is durable (thesis §10.2.1) unless the Ready
 *            changes term or vote; committed entries already durable here are applied before
 *            the write is durable (checked durable on the disk first). RaftNode does so on a
 *            leader, before it starts the write; a follower applies after its write and ack,
 *            as the other half of the seeds do.
 *   nodes    crash (all volatile state lost) and restart from durable storage alone; per-node
 *            clock rate skew.
 *   workload client proposals at whoever claims leadership, membership changes (add a fresh
 *            learner, which the leader auto-promotes; remove any member, even the leader), leader
 *            transfers, ReadIndex requests, and application snapshots + log compaction so that
 *            InstallSnapshot happens.
 * After every event the SafetyChecker runs (checker.ts) with the touched core's checkInvariants()
 * (the other cores did not change). After the chaos phase every partition heals, faults stop,
 * crashed nodes restart, and a leader must commit a fresh command on every member within a
 * bounded simulated time (liveness).
 */
import { RaftCore } from "../../src/raft/core";
import { emptyState } from "../../src/raft/membership";
import { snapshotBytes } from "../../src/raft/snapshot-data";
import type { LogEntry, NodeId, PersistentState, RaftMessage, Ready, SnapshotData } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { SafetyChecker, SimViolation, violation } from "./checker";
import { EventHeap } from "./heap";
import { MemDisk, type MemStorage } from "./storage";
import { Trace } from "./trace";
import { pickParams, type SimParams } from "./params";

/** Simulated time units per nominal tick. */
export const unitsPerTick = 10;
const linkMessagesMax = 256;
const readsTrackedMax = 1000;

type SimEvent =
  | { time: number; seq: number; kind: "tick"; node: NodeId; incarnation: number }
  | { time: number; seq: number; kind: "deliver"; message: RaftMessage }
  | { time: number; seq: number; kind: "persisted"; node: NodeId; incarnation: number }
  | { time: number; seq: number; kind: "restart"; node: NodeId; incarnation: number }
  | { time: number; seq: number; kind: "crash"; node: NodeId; incarnation: number }
  | { time: number; seq: number; kind: "chaos" };

interface SimNode {
  id: NodeId;
  disk: MemDisk;
  /** Open on `disk` while the node runs (null while it is down). */
  storage: MemStorage | null;
  core: RaftCore | null;
  incarnation: number;
  /** Ticks take this many units on this node's clock (skew). */
  tickUnits: number;
  pending: Ready | null;
  /** How many of pending.committed were applied while its write was in flight. */
  appliedEarly: number;
  appIndex: number;
  appHash: number;
}

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Keep debug-level core logs in the trace (slower). */
  debugLog?: boolean;
  traceCapacity?: number;
}

export interface SimStats {
  events: number;
  delivered: number;
  dropped: number;
  crashes: number;
  /** Unsynced records that crashes kept (a torn prefix) and lost. */
  unsyncedKept: number;
  unsyncedLost: number;
  /** Entries applied while their Ready's write was in flight (applyEarly seeds). */
  appliedEarly: number;
  partitions: number;
  proposals: number;
  committed: number;
  configChanges: number;
  transfers: number;
  snapshotsSent: number;
  compactions: number;
  reads: number;
  simTicks: number;
}

export interface SimResult {
  ok: boolean;
  seed: number;
  nodes: number;
  error?: string;
  trace?: string;
  stats: SimStats;
  params: SimParams;
}

export class Simulation {
  private readonly rng: SeededRng;
  readonly params: SimParams;
  private readonly trace: Trace;
  private readonly checker = new SafetyChecker();
  private readonly events = new EventHeap<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly spares: NodeId[] = [];
  private seq = 0;
  private now = 0;
  private chaos = true;
  /** Directed links cut by the current partition ("a>b"), and when it may heal. */
  private cut = new Set<string>();
  private healAt = 0;
  private linkLoad = new Map<string, number>();
  private proposalCount = 0;
  private readsAsked = new Map<number, number>();
  private nextReadId = 1;
  private final: { index: number; term: number } | null = null;
  readonly stats: SimStats = {
    events: 0, delivered: 0, dropped: 0, crashes: 0, unsyncedKept: 0, unsyncedLost: 0, appliedEarly: 0, partitions: 0, proposals: 0, committed: 0,
    configChanges: 0, transfers: 0, snapshotsSent: 0, compactions: 0, reads: 0, simTicks: 0,
  };

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRng(options.seed);
    this.params = pickParams(this.rng, options.nodes);
    this.trace = new Trace(options.traceCapacity ?? 400);
    const voters = Array.from({ length: options.nodes }, (_, k) => `n${k + 1}`);
    for (let k = 0; k < this.params.spareNodes; k++) this.spares.push(`n${options.nodes + k + 1}`);
    const initial = RaftCore.bootstrap(voters);
    for (const id of voters) this.addNode(id, this.newDisk(initial));
  }

  run(): SimResult {
    try {
      this.schedule({ kind: "chaos" }, unitsPerTick);
      const chaosEnd = this.params.chaosTicks * unitsPerTick;
      this.runUntil(chaosEnd);
      this.endChaos();
      const deadline = chaosEnd + this.params.livenessTicks * unitsPerTick;
      while (!this.live()) {
        violation(this.now < deadline, `liveness: no committed command on every member within ${this.params.livenessTicks} ticks`);
        this.runUntil(this.now + unitsPerTick);
      }
      this.stats.simTicks = Math.round(this.now / unitsPerTick);
      return { ok: true, seed: this.options.seed, nodes: this.options.nodes, stats: this.stats, params: this.params };
    } catch (error) {
      const message = error instanceof SimViolation ? `VIOLATION: ${error.message}` : `CRASH: ${String((error as Error).stack ?? error)}`;
      this.stats.simTicks = Math.round(this.now / unitsPerTick);
      return {
        ok: false,
        seed: this.options.seed,
        nodes: this.options.nodes,
        error: message,
        trace: this.trace.format(),
        stats: this.stats,
        params: this.params,
      };
    }
  }

  // ---------------------------------------------------------------- event loop

  /** `event` must be a fresh object literal: it is stamped in place (hot path, no copy). */
  private schedule(event: Omit<SimEvent, "time" | "seq"> & Partial<SimEvent>, delayUnits: number): void {
    const stamped = event as SimEvent;
    stamped.time = this.now + delayUnits;
    stamped.seq = this.seq++;
    this.events.push(stamped);
  }

  private runUntil(time: number): void {
    for (;;) {
      const next = this.events.peek();
      if (next === undefined || next.time > time) break;
      this.events.pop();
      this.now = next.time;
      this.trace.now = next.time;
      this.stats.events++;
      this.handle(next);
    }
    this.now = time;
  }

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case "tick": {
        const node = this.nodes.get(event.node)!;
        if (node.core === null || node.incarnation !== event.incarnation) return;
        node.core.tick();
        this.afterStep(node);
        this.schedule({ kind: "tick", node: node.id, incarnation: node.incarnation }, node.tickUnits);
        return;
      }
      case "deliver":
        this.deliver(event.message);
        return;
      case "persisted": {
        const node = this.nodes.get(event.node)!;
        if (node.core === null || node.incarnation !== event.incarnation) return;
        this.persisted(node);
        return;
      }
      case "crash": {
        const node = this.nodes.get(event.node)!;
        if (node.core === null || node.incarnation !== event.incarnation) return;
        this.crash(node);
        return;
      }
      case "restart": {
        const node = this.nodes.get(event.node)!;
        if (node.core !== null || node.incarnation !== event.incarnation) return;
        this.start(node);
        return;
      }
      case "chaos":
        if (this.chaos) this.chaosStep();
        this.schedule({ kind: "chaos" }, unitsPerTick);
        return;
    }
  }

  // ---------------------------------------------------------------- nodes

  private newDisk(initial: PersistentState): MemDisk {
    return new MemDisk(initial, "manual");
  }

  private addNode(id: NodeId, disk: MemDisk): SimNode {
    const skew = this.params.clockSkewUnits;
    const node: SimNode = {
      id, disk, storage: null, core: null, incarnation: 0, pending: null, appliedEarly: 0, appIndex: 0, appHash: 0,
      tickUnits: unitsPerTick - skew + this.rng.nextInt(2 * skew + 1),
    };
    // Log matching is checked on exactly what reaches the disk, whether a sync or a torn write put it there.
    disk.onDurable = (entries, prevTerm) => this.checker.onDurable(id, entries, prevTerm);
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  private start(node: SimNode): void {
    node.storage = node.disk.open();
    const state = node.storage.loadNow();
    node.incarnation++;
    const p = this.params;
    node.core = new RaftCore(
      {
        id: node.id,
        electionTicks: p.electionTicks,
        heartbeatTicks: p.heartbeatTicks,
        maxInflightMsgs: p.maxInflightMsgs,
        maxEntriesPerMsg: p.maxEntriesPerMsg,
        maxBytesPerMsg: p.maxBytesPerMsg,
        checkQuorum: p.checkQuorum,
        preVote: p.preVote,
        promoteLagEntries: p.promoteLagEntries,
        // Client backpressure: with maxInflightMsgs = maxEntriesPerMsg = 1 replication moves one
        // entry per round trip, and an unbounded backlog would outlast any liveness deadline.
        maxUncommittedEntries: 32,
        // Tiny packed blocks, so entries cross block edges and compaction cuts blocks often. Drawn
        // from the params, not the rng, so every seed replays as it did before the option.
        logBlockEntries: 1 + ((p.electionTicks * 7 + p.maxInflightMsgs) % 8),
      },
      state,
      this.rng.fork(),
      this.trace.loggerFor(node.id, this.options.debugLog === true),
    );
    node.pending = null;
    // The application restores its snapshot (if any) before the core starts.
    node.appIndex = state.snapshot === null ? 0 : state.snapshot.meta.index;
    node.appHash = state.snapshot === null ? 0 : decodeAppSnapshot(state.snapshot.data, node.appIndex);
    if (state.snapshot !== null) this.checker.onSnapshot(node.id, node.appIndex, node.appHash);
    this.trace.add(node.id, "start", { incarnation: node.incarnation, commit: state.hardState.commitIndex });
    this.checker.onStart(node.id, node.core, state.hardState.commitIndex);
    this.schedule({ kind: "tick", node: node.id, incarnation: node.incarnation }, 1 + this.rng.nextInt(node.tickUnits));
    this.afterStep(node);
  }

  private crash(node: SimNode): void {
    const report = node.disk.crash(this.rng);
    this.trace.add(node.id, "crash", { unsyncedReady: node.pending !== null, ...report });
    node.core = null;
    node.storage = null;
    this.stats.unsyncedKept += report.recordsKept;
    this.stats.unsyncedLost += report.recordsLost;
    node.pending = null;
    node.incarnation++;
    this.stats.crashes++;
    const downTicks = 1 + this.rng.nextInt(this.params.downTicksMax);
    this.schedule({ kind: "restart", node: node.id, incarnation: node.incarnation }, downTicks * unitsPerTick);
  }

  /** Run the checks, then hand the next Ready to (simulated) storage. */
  private afterStep(node: SimNode): void {
    const core = node.core!;
    this.checker.afterStep(node.id, core);
    if (node.pending !== null) return;
    const ready = core.takeReady();
    if (ready === null) return;
    if (this.params.leaderSendsEarly && core.role === "leader" && !changesVote(ready, node.disk)) {
      const early = ready.messages.filter(isLeaderReplication);
      ready.messages = ready.messages.filter((m) => !isLeaderReplication(m));
      for (const message of early) this.send(message);
    }
    // The write enters the disk's cache now; it is durable only at the "persisted" event's sync,
    // and a crash before that keeps at most a prefix of it. The promise is not needed: the
    // simulator completes the sync itself, synchronously, at that event.
    const writes = hasWrites(ready);
    if (writes) void node.storage!.persist(ready.hardState, ready.entries, ready.snapshot);
    node.pending = ready;
    node.appliedEarly = this.params.applyEarly ? this.applyDurableCommitted(node, ready) : 0;
    const syncUnits = 1 + this.rng.nextInt(this.params.fsyncUnitsMax);
    this.schedule({ kind: "persisted", node: node.id, incarnation: node.incarnation }, syncUnits);
    if (this.chaos && writes && this.rng.chance(this.params.crashInSyncRate)) {
      // Power cut while this write is in the cache: the crash event sorts before the sync.
      this.schedule({ kind: "crash", node: node.id, incarnation: node.incarnation }, this.rng.nextInt(syncUnits));
    }
  }

  private persisted(node: SimNode): void {
    const ready = node.pending!;
    const core = node.core!;
    node.pending = null;
    node.disk.sync();
    checkDurable(node.id, ready, node.disk);
    for (const message of ready.messages) this.send(message);
    if (ready.snapshot !== null) {
      const index = ready.snapshot.meta.index;
      const hash = decodeAppSnapshot(ready.snapshot.data, index);
      this.checker.onSnapshot(node.id, index, hash);
      node.appIndex = index;
      node.appHash = hash;
    }
    for (let k = node.appliedEarly; k < ready.committed.length; k++) this.apply(node, ready.committed[k]!);
    for (const read of ready.readStates) {
      const asked = this.readsAsked.get(read.requestId);
      violation(asked !== undefined, `${node.id}: ReadState for unknown request ${read.requestId}`);
      this.checker.onReadState(node.id, read.index, asked);
      this.readsAsked.delete(read.requestId);
    }
    core.advance(ready);
    this.afterStep(node);
  }

  private apply(node: SimNode, entry: LogEntry): void {
    violation(entry.index === node.appIndex + 1, `${node.id}: applied ${entry.index} after ${node.appIndex}`);
    node.appHash = this.checker.onApply(node.id, entry, node.appHash);
    node.appIndex = entry.index;
  }

  /**
   * RaftNode's order on a leader: committed entries below the first one this Ready writes are
   * applied before that write is durable, on the grounds that they are durable here already
   * (here after the write entered the cache; raftd before it starts: the same check). Check that they
   * are, on the disk's durable state, then apply them. Returns how many were applied.
   */
  private applyDurableCommitted(node: SimNode, ready: Ready): number {
    if (ready.snapshot !== null) return 0;
    const firstWritten = ready.entries.length > 0 ? ready.entries[0]!.index : Infinity;
    const durable = node.disk.durableLog();
    let count = 0;
    for (const entry of ready.committed) {
      if (entry.index >= firstWritten) break;
      const held = entry.index <= durable.snapshotIndex() || durable.termAt(entry.index) === entry.term;
      violation(held, `${node.id}: entry ${entry.index} applied during the write but not durable here`);
      this.apply(node, entry);
      count++;
    }
    this.stats.appliedEarly += count;
    return count;
  }

  // ---------------------------------------------------------------- network

  private blocked(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  private send(message: RaftMessage): void {
    const p = this.params;
    const link = `${message.from}>${message.to}`;
    if (message.type === "InstallSnapshot") this.stats.snapshotsSent++;
    if (this.blocked(message.from, message.to) || (this.chaos && this.rng.chance(p.dropRate))) {
      this.stats.dropped++;
      return;
    }
    if (this.chaos && this.rng.chance(p.corruptRate)) {
      // A corrupted frame fails the receiver's checksum and is dropped by its wire layer.
      this.stats.dropped++;
      return;
    }
    const copies = this.chaos && this.rng.chance(p.duplicateRate) ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      const load = this.linkLoad.get(link) ?? 0;
      if (load >= linkMessagesMax) {
        this.stats.dropped++;
        return;
      }
      this.linkLoad.set(link, load + 1);
      const delay = p.delayUnitsMin + this.rng.nextInt(p.delayUnitsJitter + 1);
      this.schedule({ kind: "deliver", message }, delay);
    }
  }

  private deliver(message: RaftMessage): void {
    const link = `${message.from}>${message.to}`;
    this.linkLoad.set(link, (this.linkLoad.get(link) ?? 1) - 1);
    const node = this.nodes.get(message.to);
    if (node === undefined || node.core === null || this.blocked(message.from, message.to)) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    node.core.step(message);
    this.afterStep(node);
  }

  // ---------------------------------------------------------------- chaos

  private liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.core !== null);
  }

  private pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.rng.nextInt(items.length)];
  }

  private leaders(): SimNode[] {
    return this.liveNodes().filter((n) => n.core!.role === "leader");
  }

  private chaosStep(): void {
    const p = this.params;
    const rng = this.rng;
    if (this.cut.size > 0 && this.now >= this.healAt) this.heal();
    if (this.cut.size === 0 && rng.chance(p.partitionRate)) this.partition();
    if (rng.chance(p.crashRate)) {
      const leader = rng.chance(p.crashLeaderBias) ? this.pick(this.leaders()) : undefined;
      const victim = leader ?? this.pick(this.liveNodes());
      if (victim !== undefined) this.crash(victim);
    }
    let proposals = Math.floor(p.proposalsPerTick) + (rng.chance(p.proposalsPerTick % 1) ? 1 : 0);
    while (proposals-- > 0) this.propose();
    if (rng.chance(p.configRate)) this.changeConfig();
    if (rng.chance(p.transferRate)) this.transfer();
    if (rng.chance(p.compactRate)) this.compact();
    if (rng.chance(p.readRate)) this.read();
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    const kind = this.rng.nextInt(3);
    this.cut.clear();
    if (kind === 0) {
      // Symmetric split into two random sides.
      const side = new Set(ids.filter(() => this.rng.chance(0.5)));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.cut.add(`${a}>${b}`);
    } else if (kind === 1) {
      // Asymmetric: random one-way cuts.
      for (const a of ids) for (const b of ids) if (a !== b && this.rng.chance(0.3)) this.cut.add(`${a}>${b}`);
    } else {
      // Isolate the leader (or a random node), in one or both directions.
      const target = this.pick(this.leaders())?.id ?? this.pick(ids)!;
      const direction = this.rng.nextInt(3);
      for (const b of ids) {
        if (b === target) continue;
        if (direction !== 1) this.cut.add(`${target}>${b}`);
        if (direction !== 2) this.cut.add(`${b}>${target}`);
      }
    }
    this.healAt = this.now + (this.params.partitionTicksMin + this.rng.nextInt(this.params.partitionTicksMin * 3 + 1)) * unitsPerTick;
    this.stats.partitions++;
    this.trace.add("sim", "partition", { kind, cut: [...this.cut].join(" ") });
  }

  private heal(): void {
    this.cut.clear();
    this.trace.add("sim", "heal");
  }

  private propose(): void {
    const leader = this.pick(this.leaders());
    if (leader === undefined) return;
    const id = ++this.proposalCount;
    const result = leader.core!.propose(new TextEncoder().encode(`cmd-${this.options.seed}-${id}`));
    if (result.ok) this.stats.proposals++;
    this.afterStep(leader);
  }

  private changeConfig(): void {
    const leader = this.pick(this.leaders());
    if (leader === undefined) return;
    const core = leader.core!;
    const config = core.log.config;
    if (this.spares.length > 0 && this.rng.chance(0.5)) {
      const id = this.spares[0]!;
      const result = core.proposeConfigChange({ type: "add-learner", node: id });
      this.trace.add(leader.id, "sim add-learner", { node: id, result });
      if (result.ok) {
        this.spares.shift();
        this.stats.configChanges++;
        this.addNode(id, this.newDisk(emptyState()));
      }
    } else {
      const victim = this.pick([...config.voters, ...config.learners]);
      if (victim === undefined) return;
      const result = core.proposeConfigChange({ type: "remove", node: victim });
      this.trace.add(leader.id, "sim remove", { node: victim, result });
      if (result.ok) this.stats.configChanges++;
    }
    this.afterStep(leader);
  }

  private transfer(): void {
    const leader = this.pick(this.leaders());
    if (leader === undefined) return;
    const target = this.pick(leader.core!.log.config.voters);
    if (target === undefined) return;
    const result = leader.core!.transferLeadership(target);
    this.trace.add(leader.id, "sim transfer", { target, result });
    if (result.ok) this.stats.transfers++;
    this.afterStep(leader);
  }

  private compact(): void {
    const node = this.pick(this.liveNodes());
    if (node === undefined) return;
    const log = node.core!.log;
    const index = log.lastApplied;
    if (index <= log.snapshotIndex() || index !== node.appIndex) return;
    const snapshot = node.core!.compact(index, encodeAppSnapshot(index, node.appHash));
    // Durable at this node's next sync; a crash before it may lose it (harmless: the log
    // still holds everything the snapshot covers).
    void node.storage!.compact(snapshot);
    this.stats.compactions++;
    this.trace.add(node.id, "sim compact", { index });
    this.afterStep(node);
  }

  private read(): void {
    const leader = this.pick(this.leaders());
    if (leader === undefined || this.readsAsked.size >= readsTrackedMax) return;
    const requestId = this.nextReadId++;
    const result = leader.core!.readIndex(requestId);
    if (result.ok) {
      this.readsAsked.set(requestId, this.checker.maxCommitted);
      this.stats.reads++;
    }
    this.afterStep(leader);
  }

  // ---------------------------------------------------------------- liveness

  private endChaos(): void {
    this.chaos = false;
    this.heal();
    // Faults off: the network and disks become prompt (round trips well inside electionTicks).
    this.params.delayUnitsJitter = Math.min(this.params.delayUnitsJitter, 5);
    this.params.fsyncUnitsMax = Math.min(this.params.fsyncUnitsMax, 5);
    this.trace.add("sim", "chaos over: healed, faults off, restarting crashed nodes");
    for (const node of this.nodes.values()) {
      if (node.core === null) this.start(node);
    }
  }

  /** True once a fresh command is committed and applied on every member of the leader's config. */
  private live(): boolean {
    const leaders = this.leaders();
    if (leaders.length === 0) return false;
    const leader = leaders.reduce((a, b) => (a.core!.term >= b.core!.term ? a : b));
    const core = leader.core!;
    // Once anything is committed at the final command's index, that decides; before, the leader's
    // log does. (A leader's snapshot says nothing of the term at an index inside it: a final
    // command proposed by a stale leader, whose index a later leader has compacted, was taken as
    // held and then reported as "applied but not committed", seed 20575 with 3 nodes.)
    const committedTerm = this.final === null ? undefined : this.checker.committedTermAt(this.final.index);
    const held =
      this.final !== null &&
      (committedTerm !== undefined
        ? committedTerm === this.final.term
        : this.final.index > core.log.snapshotIndex() && core.log.term(this.final.index) === this.final.term);
    if (this.final === null || !held) {
      // Not in the current leader's log: it can no longer commit through this leader.
      const result = core.propose(new TextEncoder().encode(`final-${this.options.seed}-${this.now}`));
      if (result.ok) this.final = { index: result.index, term: result.term };
      this.afterStep(leader);
      return false;
    }
    const config = core.log.config;
    for (const id of [...config.voters, ...config.learners]) {
      const node = this.nodes.get(id);
      if (node === undefined || node.appIndex < this.final.index) return false;
    }
    violation(this.checker.committedTermAt(this.final.index) === this.final.term, "final command applied but not committed");
    this.stats.committed = this.checker.maxCommitted;
    return true;
  }
}

function isLeaderReplication(message: RaftMessage): boolean {
  return message.type === "AppendEntries" || message.type === "InstallSnapshot" || message.type === "TimeoutNow";
}

/** Does the Ready change the durable term or vote (then nothing may leave before the fsync)? */
function changesVote(ready: Ready, disk: MemDisk): boolean {
  const durable = disk.durableLog().hardState();
  return ready.hardState !== null && (ready.hardState.term !== durable.term || ready.hardState.votedFor !== durable.votedFor);
}

function hasWrites(ready: Ready): boolean {
  return ready.hardState !== null || ready.entries.length > 0 || ready.snapshot !== null;
}

/** Messages leave only once the Ready's writes are durable: check the disk says they are. */
function checkDurable(node: NodeId, ready: Ready, disk: MemDisk): void {
  const log = disk.durableLog();
  violation(disk.unsyncedWrites() === 0, `${node}: writes still unsynced after the sync`);
  if (ready.snapshot !== null) violation(log.snapshotIndex() >= ready.snapshot.meta.index, `${node}: snapshot not durable before its messages`);
  const last = ready.entries[ready.entries.length - 1];
  if (last !== undefined) violation(log.termAt(last.index) === last.term || log.snapshotIndex() >= last.index, `${node}: entry ${last.index} not durable before its messages`);
  if (ready.hardState !== null) {
    const durable = log.hardState();
    violation(durable.term === ready.hardState.term && durable.votedFor === ready.hardState.votedFor, `${node}: term and vote not durable before their messages`);
  }
}

function encodeAppSnapshot(index: number, hash: number): Uint8Array {
  return new TextEncoder().encode(`${index}:${hash}`);
}

/** The simulator's snapshot data are in-memory bytes. */
function decodeAppSnapshot(data: SnapshotData, index: number): number {
  const [at, hash] = new TextDecoder().decode(snapshotBytes(data)).split(":");
  violation(Number(at) === index, "app snapshot index mismatch");
  return Number(hash);
}

export function runSeed(seed: number, nodes: number, debugLog = false): SimResult {
  return new Simulation({ seed, nodes, debugLog }).run();
}
