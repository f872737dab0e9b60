/**
 * RaftNode: the runtime shell around the pure RaftCore (STYLE.md §2). The only part of the raft
 * side that awaits. Its loop is deliberately boring:
 *
 *   tick / inbound message / proposal
 *        -> core.takeReady()
 *        -> send the leader's appends (they need not wait for its own write, §10.2.1)
 *        -> start storage.persist(hardState, entries, snapshot)
 *        -> meanwhile apply the committed entries already durable here, answer their waiters
 *        -> await the write (durable first: votes and acks below depend on it, thesis §3.8)
 *        -> transport.send(the other messages)
 *        -> state machine: restore(snapshot), apply the rest of committed in order
 *        -> answer ReadIndex waiters whose index is applied
 *        -> core.advance(ready)
 *        -> maybe take a snapshot and compact
 *
 * While one Ready is being persisted, new proposals pile up in the core and leave together in
 * the next Ready: that is the group commit (one fsync for many entries).
 *
 * Waiters: a proposal resolves when the entry it was given (index, term) is applied, with the
 * state machine's result; it rejects with RAFT_PROPOSAL_DROPPED ("outcome unknown, retry with the
 * same sequence number") when another entry took its index or this node stopped leading. Reads
 * resolve once a ReadIndex round confirmed leadership and lastApplied reached the read index.
 */
import { performance } from "node:perf_hooks";
import type { RaftCore } from "../raft/core";
import { decodeConfig, type ConfigChangeResult } from "../raft/membership";
import type { ConfigChange, LogEntry, NodeId, ProposeResult, RaftMessage, RaftStorage, Ready, SnapshotData } from "../raft/types";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import type { NodeLogger } from "./node-logger";
import { tenths, type PauseFigures } from "./pause-monitor";
import type { SnapshotHost } from "./snapshot-host";
import { snapshotDue, validateSnapshotPolicy, type SnapshotPolicy } from "./snapshot-policy";

/** What the node needs from the network: fire-and-forget delivery (raft tolerates loss). */
export interface RaftTransport {
  send(message: RaftMessage): void;
  /**
   * Puts what this process queued for the network (raft messages; in raftd also the clients'
   * answers) on the wire now rather than at the end of this turn (optional).
   */
  flush?(): void;
}

/** What the node needs from the application: apply committed entries (snapshots: SnapshotHost). */
export interface AppliedStateMachine<Result> {
  /** Apply one committed entry of kind "normal" (noop and config entries are not passed). */
  apply(index: number, data: Uint8Array): Result;
}

export interface NodeTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface RaftNodeOptions<Result> {
  core: RaftCore;
  storage: RaftStorage;
  stateMachine: AppliedStateMachine<Result>;
  /** Takes the state machine's snapshots into files and restores it from them. */
  snapshots: SnapshotHost;
  transport: RaftTransport;
  logger: NodeLogger;
  timers: NodeTimers;
  tickMs: number;
  /** When to take a snapshot (snapshot-policy.ts). */
  snapshotPolicy: SnapshotPolicy;
  /** Bound on proposals and reads awaiting an answer. */
  waitersMax: number;
  /** Heartbeats and appends are summarised at info once per this many ms (0: never). */
  summaryMs: number;
  /** Milliseconds on a monotonic clock, for the activity line's persist times (default performance.now). */
  clock?: () => number;
  /** GC figures for the activity line (raftd: PauseMonitor); taken once per period. */
  pauses?: { take(): PauseFigures } | null;
}

/** Counters behind the periodic activity line (reset after each line). */
interface Activity {
  heartbeatsSent: number;
  heartbeatsReceived: number;
  appendsSent: number;
  appendsReceived: number;
  entriesPersisted: number;
  fsyncs: number;
  applied: number;
  /** Longest persist() of the period, and how many took over slowPersistMs (write + flush). */
  persistMaxMs: number;
  slowPersists: number;
}

/** A persist slower than this is counted in the activity line (a c64 round lasts about 1.5 ms). */
export const slowPersistMs = 2;

/** A promise settled by a ProposalCallback (the API for callers off the hot path). */
function settled<Result>(start: (done: ProposalCallback<Result>) => void): Promise<ProposalOutcome<Result>> {
  return new Promise((resolve, reject) => start((error, outcome) => (error === null ? resolve(outcome!) : reject(error))));
}

function emptyActivity(): Activity {
  return { heartbeatsSent: 0, heartbeatsReceived: 0, appendsSent: 0, appendsReceived: 0, entriesPersisted: 0, fsyncs: 0, applied: 0, persistMaxMs: 0, slowPersists: 0 };
}

/** What a proposal ends with: the entry's index and its applied result. */
export interface ProposalOutcome<Result> {
  index: number;
  result: Result | null;
}

/**
 * Called once when a proposal ends: with (null, outcome) once its entry is applied, or with
 * (error, null) when it is refused or dropped. A plain callback, not a promise: on a busy
 * leader the promise of every proposal was 7.4% of the bytes allocated (HeapProfiler sampling).
 */
export type ProposalCallback<Result> = (error: RaftmqError | null, outcome: ProposalOutcome<Result> | null) => void;

interface ProposalWaiter<Result> {
  term: number;
  done: ProposalCallback<Result>;
}

interface ReadWaiter {
  index: number;
  resolve: () => void;
  reject: (error: RaftmqError) => void;
}

export type NodeEvent = "role-change" | "applied" | "config-change" | "stopped";

export class RaftNode<Result> {
  readonly id: NodeId;
  private readonly options: RaftNodeOptions<Result>;
  private readonly clock: () => number;
  private lastTickMs: number | null = null;
  /** How much later than tickMs after the previous tick a tick ran, at most, this activity period (ms): no activity of its own. */
  private tickLateMaxMs = 0;
  private readonly core: RaftCore;
  private readonly proposals = new Map<number, ProposalWaiter<Result>>();
  /** ReadIndex requests by requestId until the core confirms them, then by index. */
  private readonly readsPending = new Map<number, ReadWaiter>();
  private readonly readsConfirmed: ReadWaiter[] = [];
  private nextReadId = 1;
  private ticker: unknown = null;
  private summaryTimer: unknown = null;
  private activity: Activity = emptyActivity();
  private running = false;
  private loopActive = false;
  private loopAgain = false;
  private stopped = false;
  private failure: Error | null = null;
  private lastRole: string;
  private lastTerm: number;
  private lastSnapshotIndex: number;
  /** Bytes of entry data applied after lastSnapshotIndex (the snapshot policy's log size). */
  private appliedBytesSinceSnapshot = 0;
  /** The snapshot being written in the background (maybeSnapshot), or null. */
  private snapshotting: Promise<void> | null = null;
  /** Term and vote as last made durable (commit-only changes are not persisted on their own). */
  private durableHardState: { term: number; votedFor: NodeId | null };
  /** Invariant: every committed entry <= appliedIndex was handed to the state machine, once. */
  private appliedIndex: number;
  private readonly listeners = new Map<NodeEvent, Array<() => void>>();
  /** Counters for the periodic summary and for status. */
  readonly stats = { ticks: 0, messagesSent: 0, messagesReceived: 0, applied: 0, snapshots: 0 };
  /** Tick count (stats.ticks) at the last raft message from each sender: "last contact" for src/admin. */
  readonly lastHeardTick = new Map<NodeId, number>();
  /** Optional instrumentation (src/admin): each persist's duration (write + flush), in ms of `clock`. */
  persistObserver: ((ms: number) => void) | null = null;
  /** Optional instrumentation (src/admin: raft RPC latency): every raft message in and out. */
  messageObserver: ((message: RaftMessage, direction: "in" | "out") => void) | null = null;

  constructor(options: RaftNodeOptions<Result>) {
    validateSnapshotPolicy(options.snapshotPolicy);
    this.options = options;
    this.clock = options.clock ?? (() => performance.now());
    this.core = options.core;
    this.id = options.core.id;
    const status = this.core.status();
    this.lastRole = status.role;
    this.lastTerm = status.term;
    this.lastSnapshotIndex = status.snapshotIndex;
    this.appliedIndex = status.lastApplied;
    this.durableHardState = { term: status.term, votedFor: status.votedFor };
  }

  get lastApplied(): number {
    return this.appliedIndex;
  }

  start(): void {
    assert(!this.running, "RaftNode started twice");
    this.running = true;
    this.ticker = this.options.timers.setInterval(() => this.onTick(), this.options.tickMs);
    if (this.options.summaryMs > 0) this.summaryTimer = this.options.timers.setInterval(() => this.logActivity(), this.options.summaryMs);
    this.options.logger.info({ event: "started", ...this.roleFields() }, "node started");
    const status = this.core.status();
    if (status.role === "follower" && status.config.voters.length === 1 && status.config.voters[0] === this.id) {
      // The only voter needs nobody's vote: campaign at once instead of after an election
      // timeout (it leads once its new term is durable, a turn of the loop later).
      this.core.campaign("election");
    }
    this.kick();
  }

  on(event: NodeEvent, listener: () => void): void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
  }

  private emit(event: NodeEvent): void {
    for (const listener of this.listeners.get(event) ?? []) listener();
  }

  // ---------------------------------------------------------------- inputs

  private onTick(): void {
    if (!this.running) return;
    // The tick's own lateness: the loop could not run it for that long (a GC, a slow blocking
    // write, long work, a frozen VM), measured for free on the timer that already wakes us.
    const now = this.clock();
    if (this.lastTickMs !== null) {
      const late = now - this.lastTickMs - this.options.tickMs;
      if (late > this.tickLateMaxMs) this.tickLateMaxMs = late;
    }
    this.lastTickMs = now;
    this.stats.ticks += 1;
    this.core.tick();
    this.kick();
  }

  receive(message: RaftMessage): void {
    if (!this.running) return;
    this.stats.messagesReceived += 1;
    this.lastHeardTick.set(message.from, this.stats.ticks);
    if (this.messageObserver !== null) this.messageObserver(message, "in");
    if (message.type === "AppendEntries") {
      if (message.entries.length === 0) this.activity.heartbeatsReceived += 1;
      else this.activity.appendsReceived += 1;
    }
    this.core.step(message);
    this.kick();
  }

  /** Proposes application bytes; resolves with the applied result (see the header for errors). */
  propose(data: Uint8Array): Promise<ProposalOutcome<Result>> {
    return settled((done) => this.proposeThen(data, done));
  }

  /**
   * propose() for the hot path: `done` is called once, synchronously when the proposal is refused
   * at once (not leader, stopping, too many waiting), else from the Ready loop when its entry is
   * applied or dropped.
   */
  proposeThen(data: Uint8Array, done: ProposalCallback<Result>): void {
    this.wait(this.core.propose(data), done);
  }

  proposeConfigChange(change: ConfigChange): Promise<ProposalOutcome<Result>> {
    const result: ConfigChangeResult = this.core.proposeConfigChange(change);
    if (!result.ok && result.reason === "invalid-change") {
      return Promise.reject(new RaftmqError("BAD_REQUEST", `membership change refused: ${result.detail}`));
    }
    return settled((done) => this.wait(result as ProposeResult, done));
  }

  private wait(result: ProposeResult, done: ProposalCallback<Result>): void {
    if (!this.running) return done(new RaftmqError("RAFT_NOT_LEADER", "node is stopping"), null);
    if (!result.ok) return done(refusal(result.reason, result.leaderHint), null);
    if (this.proposals.size >= this.options.waitersMax) {
      // The entry is in the log already; we only cannot track its answer. The client retries
      // with the same sequence number and exactly-once gives it the cached result.
      this.kick();
      return done(new RaftmqError("QUEUE_FULL", "too many proposals in flight on this node"), null);
    }
    this.proposals.set(result.index, { term: result.term, done });
    this.kick();
  }

  /**
   * Calls `done` when the entry at `index` is applied, if it still has `term` then (else with
   * RAFT_PROPOSAL_DROPPED). For entries proposed before this node led, found in its log.
   * Synchronously with an error if the entry is applied already or awaited by someone else.
   */
  awaitEntryThen(index: number, term: number, done: ProposalCallback<Result>): void {
    if (index <= this.appliedIndex) return done(dropped(index), null);
    if (this.proposals.has(index)) return done(new RaftmqError("BAD_REQUEST", "entry already awaited"), null);
    this.proposals.set(index, { term, done });
  }

  /** Resolves once a linearizable read may be served from the state machine (ReadIndex). */
  readBarrier(): Promise<void> {
    if (!this.running) return Promise.reject(new RaftmqError("RAFT_NOT_LEADER", "node is stopping"));
    if (this.readsPending.size + this.readsConfirmed.length >= this.options.waitersMax) {
      return Promise.reject(new RaftmqError("QUEUE_FULL", "too many reads in flight on this node"));
    }
    const requestId = this.nextReadId++;
    const result = this.core.readIndex(requestId);
    if (!result.ok) return Promise.reject(refusal(result.reason, result.leaderHint));
    const promise = new Promise<void>((resolve, reject) => {
      this.readsPending.set(requestId, { index: 0, resolve, reject });
    });
    this.kick();
    return promise;
  }

  transferLeadership(target: NodeId): void {
    const result = this.core.transferLeadership(target);
    if (!result.ok) {
      if (result.reason === "invalid-target") throw new RaftmqError("BAD_REQUEST", `${target} is not a voting member`);
      throw refusal(result.reason, result.leaderHint);
    }
    this.kick();
  }

  // ---------------------------------------------------------------- the loop

  /** Runs the Ready loop soon; at most one runs at a time. */
  private kick(): void {
    if (this.loopActive) {
      this.loopAgain = true;
      return;
    }
    if (this.stopped || this.failure !== null) return;
    this.loopActive = true;
    // setImmediate, not a microtask: the loop runs once the current batch of socket reads is
    // handled, so proposals from many connections share one Ready, one fsync and one
    // AppendEntries per follower.
    setImmediate(() => {
      this.loop().catch((error: unknown) => this.fail(error));
    });
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.loopAgain = false;
        for (;;) {
          const ready = this.core.takeReady();
          if (ready === null) break;
          await this.handleReady(ready);
          if (this.stopped) return;
        }
        this.noticeRoleChange();
      } while (this.loopAgain && !this.stopped);
    } finally {
      this.loopActive = false;
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    // Thesis §10.2.1: a leader may send AppendEntries before its own write is durable; the core
    // counts the leader's own entries toward a majority only after advance() says so. Votes,
    // vote requests and acks depend on what this node persists and wait for it (§5.1, §3.8).
    // A Ready that changes term or vote sends nothing early: no message of a term may leave
    // before that term is durable here.
    const early = !this.changesTermOrVote(ready);
    const late: RaftMessage[] = [];
    for (const message of ready.messages) {
      if (early && sendableBeforePersist(message)) this.sendMessage(message);
      else late.push(message);
    }
    // The appends leave now, not when this turn ends: encoding our own write and applying the
    // previous batch below took about a fifth of a c64 round, and the followers' leg (their
    // disk write and ack) is the longer one (bench/README.md, session 6).
    if (late.length < ready.messages.length) this.options.transport.flush?.();

    // Committed entries this node already holds durably (those before the first one being
    // written) need not wait for the write; when they are applied depends on who waits for what.
    // A leader's clients wait for the applies and nothing waits for its write (its appends left
    // above): apply and answer first, then write. A follower's ack (or a vote) waits for the write
    // and nobody for its applies: write, ack, then apply them all below. Either way nothing waits
    // behind work it does not need, also when persist() does not return before the disk is done
    // (--wal-writes blocking, the default).
    const committed = ready.committed;
    let appliedEarly = 0;
    if (late.length === 0 && ready.snapshot === null) {
      const firstWritten = ready.entries.length > 0 ? ready.entries[0]!.index : Infinity;
      while (appliedEarly < committed.length && committed[appliedEarly]!.index < firstWritten) {
        this.applyEntry(committed[appliedEarly]!);
        appliedEarly += 1;
      }
      if (appliedEarly > 0) this.options.transport.flush?.(); // their answers
    }
    const persisting = this.mustPersist(ready) ? this.startPersist(ready) : null;
    if (persisting !== null) {
      await persisting.durable;
      const persistMs = this.clock() - persisting.startedMs;
      if (persistMs > this.activity.persistMaxMs) this.activity.persistMaxMs = persistMs;
      if (persistMs > slowPersistMs) this.activity.slowPersists += 1;
      this.persistObserver?.(persistMs);
      if (ready.hardState !== null) this.durableHardState = ready.hardState;
      this.activity.fsyncs += 1;
      this.activity.entriesPersisted += ready.entries.length;
      if (ready.entries.length > 0) {
        const first = ready.entries[0]!.index;
        const last = ready.entries[ready.entries.length - 1]!.index;
        this.options.logger.debug({ event: "appended", index: last, first, count: ready.entries.length }, "entries persisted");
      }
    }
    for (const message of late) this.sendMessage(message);
    if (late.length > 0) this.options.transport.flush?.(); // the ack leaves before the applies below

    if (ready.snapshot !== null) {
      await this.options.snapshots.restore(ready.snapshot.data);
      this.lastSnapshotIndex = ready.snapshot.meta.index;
      this.appliedBytesSinceSnapshot = 0;
      this.appliedIndex = ready.snapshot.meta.index;
      this.options.logger.info({ event: "snapshot-installed", index: ready.snapshot.meta.index }, "snapshot installed");
    }
    for (let k = appliedEarly; k < committed.length; k++) this.applyEntry(committed[k]!);
    for (const state of ready.readStates) {
      const waiter = this.readsPending.get(state.requestId);
      if (waiter === undefined) continue;
      this.readsPending.delete(state.requestId);
      waiter.index = state.index;
      this.readsConfirmed.push(waiter);
    }
    this.releaseReads();
    this.core.advance(ready);
    if (ready.committed.length > 0) {
      this.options.logger.debug(
        { event: "applied", index: ready.committed[ready.committed.length - 1]!.index, count: ready.committed.length },
        "entries applied",
      );
      this.emit("applied");
    }
    this.maybeSnapshot();
  }

  private startPersist(ready: Ready): { durable: Promise<void>; startedMs: number } {
    const startedMs = this.clock();
    return { durable: this.options.storage.persist(ready.hardState, ready.entries, ready.snapshot), startedMs };
  }

  /**
   * commitIndex is volatile in Raft (Figure 2): a Ready whose only change is a higher
   * commitIndex need not cost an fsync. It is written with the next entries or vote instead, so
   * the durable commitIndex lags but never exceeds the real one, which is all a restart needs.
   */
  private mustPersist(ready: Ready): boolean {
    return ready.entries.length > 0 || ready.snapshot !== null || this.changesTermOrVote(ready);
  }

  private changesTermOrVote(ready: Ready): boolean {
    const hardState = ready.hardState;
    if (hardState === null) return false;
    return hardState.term !== this.durableHardState.term || hardState.votedFor !== this.durableHardState.votedFor;
  }

  private sendMessage(message: RaftMessage): void {
    this.noteSent(message);
    if (this.messageObserver !== null) this.messageObserver(message, "out");
    this.options.transport.send(message);
    this.stats.messagesSent += 1;
  }

  /** Elections and votes are logged one line each; heartbeats and appends are counted. */
  private noteSent(message: RaftMessage): void {
    const logger = this.options.logger;
    switch (message.type) {
      case "AppendEntries":
        if (message.entries.length === 0) this.activity.heartbeatsSent += 1;
        else this.activity.appendsSent += 1;
        break;
      case "RequestVote":
        logger.info({ event: message.preVote ? "prevote-request" : "vote-request", peer: message.to, index: message.lastLogIndex, msgTerm: message.term }, message.preVote ? "asking for pre-vote" : "asking for vote");
        break;
      case "RequestVoteResponse":
        logger.info(
          { event: message.granted ? "vote-granted" : "vote-refused", peer: message.to, preVote: message.preVote, msgTerm: message.term },
          message.granted ? "vote granted" : "vote refused",
        );
        break;
      case "TimeoutNow":
        logger.info({ event: "timeout-now-sent", peer: message.to }, "telling successor to campaign");
        break;
      default:
        break;
    }
  }

  private logActivity(): void {
    const activity = this.activity;
    const idle = Object.values(activity).every((count) => count === 0);
    this.activity = emptyActivity();
    // Taken every period, idle or not, so that a line covers only its own.
    const tickLateMaxMs = this.tickLateMaxMs;
    this.tickLateMaxMs = 0;
    const pauses = this.options.pauses?.take() ?? null;
    if (idle) return;
    const status = this.core.status();
    // Memory in MiB beside the counters: where a node's RSS goes (JS heap, buffers outside it).
    const memory = process.memoryUsage();
    const mib = (bytes: number): number => Math.round(bytes / 1048576);
    this.options.logger.info(
      {
        event: "activity",
        ...activity,
        persistMaxMs: tenths(activity.persistMaxMs),
        tickLateMaxMs: tenths(tickLateMaxMs),
        ...pauses,
        commitIndex: status.commitIndex,
        lastApplied: this.appliedIndex,
        logEntries: status.lastIndex - status.snapshotIndex,
        leader: status.leader,
        periodMs: this.options.summaryMs,
        rssMb: mib(memory.rss),
        heapUsedMb: mib(memory.heapUsed),
        heapTotalMb: mib(memory.heapTotal),
        arrayBuffersMb: mib(memory.arrayBuffers),
      },
      "heartbeats and appends",
    );
  }

  private applyEntry(entry: LogEntry): void {
    const machine = this.options.stateMachine;
    assert(entry.index === this.appliedIndex + 1, "entries are applied in order, once");
    const result = entry.kind === "normal" ? machine.apply(entry.index, entry.data) : null;
    this.appliedIndex = entry.index;
    this.appliedBytesSinceSnapshot += entry.data.length;
    this.stats.applied += 1;
    this.activity.applied += 1;
    if (entry.kind === "config") {
      const config = decodeConfig(entry.data);
      this.options.logger.info(
        { event: "config-applied", index: entry.index, voters: config.voters, learners: config.learners },
        "membership change committed",
      );
      this.emit("config-change");
    }
    const waiter = this.proposals.get(entry.index);
    if (waiter === undefined) return;
    this.proposals.delete(entry.index);
    if (waiter.term === entry.term) waiter.done(null, { index: entry.index, result });
    else waiter.done(dropped(entry.index), null);
  }

  private releaseReads(): void {
    const applied = this.appliedIndex;
    for (let i = 0; i < this.readsConfirmed.length; ) {
      const waiter = this.readsConfirmed[i]!;
      if (waiter.index <= applied) {
        this.readsConfirmed.splice(i, 1);
        waiter.resolve();
      } else {
        i += 1;
      }
    }
  }

  /**
   * Starts a snapshot when the policy says one is due (snapshot-policy.ts). It runs beside the
   * loop: the state machine freezes its state when the save starts (synchronously,
   * QueueStateMachine.snapshotChunks), so entries go on being applied, and heartbeats and
   * appends go on leaving, while the file is written; then the core and storage drop the log
   * before it. One at a time.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting !== null || this.stopped) return;
    const applied = this.appliedIndex;
    const progress = {
      entriesSince: applied - this.lastSnapshotIndex,
      logBytesSince: this.appliedBytesSinceSnapshot,
      // The core keeps the newest snapshot, taken or installed.
      snapshotBytes: this.core.log.snapshot?.data.byteLength ?? 0,
    };
    if (!snapshotDue(progress, this.options.snapshotPolicy)) return;
    const saving = this.options.snapshots.save(this.core.snapshotMetaAt(applied));
    // Entries applied while the file is written count toward the next snapshot.
    const bytesCovered = this.appliedBytesSinceSnapshot;
    this.snapshotting = this.finishSnapshot(applied, bytesCovered, saving)
      .catch((error: unknown) => {
        if (!this.stopped) this.fail(error);
      })
      .finally(() => {
        this.snapshotting = null;
      });
  }

  private async finishSnapshot(applied: number, bytesCovered: number, saving: Promise<SnapshotData>): Promise<void> {
    const data = await saving;
    // The node may have stopped, or a snapshot from the leader overtaken this one, meanwhile.
    if (this.stopped || applied <= this.core.status().snapshotIndex) return;
    const snapshot = this.core.compact(applied, data);
    await this.options.storage.compact(snapshot);
    if (applied > this.lastSnapshotIndex) {
      this.lastSnapshotIndex = applied;
      this.appliedBytesSinceSnapshot = Math.max(0, this.appliedBytesSinceSnapshot - bytesCovered);
    }
    this.stats.snapshots += 1;
    this.options.logger.info({ event: "snapshot-taken", index: applied, bytes: data.byteLength }, "snapshot taken");
  }

  /** Resolves once no snapshot is being written (the owner awaits it before closing storage). */
  async snapshotIdle(): Promise<void> {
    while (this.snapshotting !== null) await this.snapshotting;
  }

  /** Logs role and term changes; a leader that stepped down fails its waiters (outcome unknown). */
  private noticeRoleChange(): void {
    // Fast path for the busy leader (status() copies the progress table).
    if (this.lastRole === "leader" && this.core.role === "leader" && this.core.term === this.lastTerm) return;
    const status = this.core.status();
    if (status.role === this.lastRole && status.term === this.lastTerm) return;
    const wasLeader = this.lastRole === "leader";
    this.lastRole = status.role;
    this.lastTerm = status.term;
    this.options.logger.setRole(status.role, status.term);
    this.options.logger.info({ event: "role", leader: status.leader }, `now ${status.role}`);
    if (wasLeader && status.role !== "leader") this.failAllWaiters(dropped, refusal("not-leader", status.leader));
    this.emit("role-change");
  }

  /** Rejects every waiting proposal (with its own error, by index) and read. */
  private failAllWaiters(proposalError: (index: number) => RaftmqError, readError: RaftmqError): void {
    const proposals = [...this.proposals];
    this.proposals.clear();
    for (const [index, waiter] of proposals) waiter.done(proposalError(index), null);
    for (const waiter of this.readsPending.values()) waiter.reject(readError);
    this.readsPending.clear();
    for (const waiter of this.readsConfirmed) waiter.reject(readError);
    this.readsConfirmed.length = 0;
  }

  private fail(error: unknown): void {
    // Storage failures and assertion failures end the node: continuing could acknowledge
    // something that is not durable. The owner (raftd) exits on the "stopped" event.
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.options.logger.error({ err: this.failure, event: "fatal" }, "node failed");
    void this.stop();
  }

  get failed(): Error | null {
    return this.failure;
  }

  // ---------------------------------------------------------------- inspection and shutdown

  status(): ReturnType<RaftCore["status"]> {
    return this.core.status();
  }

  roleFields(): { role: string; term: number } {
    const status = this.core.status();
    return { role: status.role, term: status.term };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    if (this.ticker !== null) this.options.timers.clearInterval(this.ticker);
    if (this.summaryTimer !== null) this.options.timers.clearInterval(this.summaryTimer);
    this.ticker = null;
    this.summaryTimer = null;
    const error = new RaftmqError("RAFT_NOT_LEADER", "node stopped");
    this.failAllWaiters(() => error, error);
    this.emit("stopped");
  }
}

/** Leader-only messages: they do not depend on the leader's own durable state. */
function sendableBeforePersist(message: RaftMessage): boolean {
  return message.type === "AppendEntries" || message.type === "InstallSnapshot" || message.type === "TimeoutNow";
}

function dropped(index: number): RaftmqError {
  return new RaftmqError(
    "RAFT_PROPOSAL_DROPPED",
    "leadership changed before the command was known to commit; its outcome is unknown: retry with the same sequence number",
    { details: { index } },
  );
}

function refusal(reason: string, leaderHint: NodeId | null): RaftmqError {
  switch (reason) {
    case "not-leader":
      return new RaftmqError("RAFT_NOT_LEADER", leaderHint === null ? "not the leader; leader unknown" : `not the leader; try ${leaderHint}`, {
        details: { leader: leaderHint },
      });
    case "transfer-in-progress":
      return new RaftmqError("RAFT_TRANSFER_IN_PROGRESS", "leadership transfer in progress; retry shortly", { details: { leader: leaderHint } });
    case "config-change-in-progress":
      return new RaftmqError("RAFT_CONFIG_CHANGE_IN_PROGRESS", "another membership change is in progress; retry shortly", {
        details: { leader: leaderHint },
      });
    default:
      return new RaftmqError("QUEUE_FULL", `proposal refused: ${reason}`, { details: { leader: leaderHint } });
  }
}
