/**
 * RaftCore: the public face of the consensus core (etcd-io/raft RawNode style): tick(), step(),
 * propose(), proposeConfigChange(), transferLeadership(), readIndex(), compact(), takeReady(),
 * advance(), status(), checkInvariants(). Pure and deterministic; see core-base.ts for the host
 * loop contract and the role machine, membership.ts for bootstrap and the membership design.
 *
 * This file routes ticks and messages by role and implements the leader side:
 *   - replication with per-follower Progress (probe / replicate with bounded inflights /
 *     snapshot), batches bounded by maxEntriesPerMsg and maxBytesPerMsg, fast backtracking by
 *     conflictTerm / conflictIndex (§5.3), stall detection for lost pipelined messages;
 *   - commit by majority of voters, only for entries of the current term (§5.4.2);
 *   - check-quorum, leader transfer (thesis §3.10), ReadIndex (thesis §6.4);
 *   - single-server membership changes with learner auto-promotion (thesis §4.1).
 */
import { assert, unreachable } from "../util/assert";
import type { Rng } from "../util/rng";
import type { RaftConfigInput } from "./config";
import { RaftCoreBase } from "./core-base";
import type { CoreLogger } from "./logger";
import {
  applyConfigChange,
  bootstrapState,
  encodeConfig,
  isMember,
  isVoter,
  type ConfigChangeResult,
} from "./membership";
import { Progress } from "./progress";
import { committedIndex, hasQuorum } from "./quorum";
import type {
  AppendEntriesResponse,
  ConfigChange,
  InstallSnapshotResponse,
  NodeId,
  PersistentState,
  ProposeResult,
  RaftMessage,
  Snapshot,
  SnapshotData,
  SnapshotMeta,
} from "./types";

export type TransferResult =
  | { ok: true }
  | { ok: false; reason: "not-leader" | "transfer-in-progress" | "invalid-target"; leaderHint: NodeId | null };

export type ReadIndexResult =
  | { ok: true }
  | { ok: false; reason: "not-leader" | "too-many-pending"; leaderHint: NodeId | null };

export class RaftCore extends RaftCoreBase {
  constructor(config: RaftConfigInput, initial: PersistentState, rng: Rng, logger: CoreLogger) {
    super(config, initial, rng, logger);
  }

  /** PersistentState for every initial member of a new cluster; a single node: bootstrap([id]). */
  static bootstrap(voters: NodeId[]): PersistentState {
    return bootstrapState(voters);
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    if (this.role === "leader") {
      this.tickLeader();
      return;
    }
    this.electionElapsed++;
    // A non-voter keeps counting: its lease on the last leader must expire, or it would ignore
    // forever the votes of a candidate that needs it (e.g. a learner whose promotion it lacks).
    if (this.electionElapsed >= this.randomizedElectionTicks && this.promotable()) {
      this.electionElapsed = 0;
      this.campaign(this.config.preVote ? "pre-vote" : "election");
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.transferTarget !== null && ++this.transferElapsed >= this.config.electionTicks) {
      this.logger.info({ term: this.term, peer: this.transferTarget, event: "transfer-aborted" }, "transfer aborted");
      this.transferTarget = null;
    }
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumActive()) {
        this.logger.info({ term: this.term, event: "check-quorum-failed" }, "lost contact with a majority");
        this.becomeFollower(this.term, null);
        return;
      }
    }
    const lastIndex = this.log.lastIndex();
    for (const [node, pr] of this.progress) {
      if (node === this.id) continue;
      if (pr.state === "snapshot" && ++pr.snapshotElapsedTicks >= this.config.electionTicks) {
        pr.becomeProbe();
        pr.nextIndex = pr.matchIndex + 1; // the snapshot may be lost: look again
      } else if (pr.state === "replicate" && pr.matchIndex < lastIndex && ++pr.stallTicks >= this.config.electionTicks) {
        pr.becomeProbe(); // pipelined messages were probably lost: find the match point again
      }
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
      // A learner that caught up while another change was in flight has no progress event to
      // wait for in an idle cluster: look again every heartbeat.
      for (const node of this.log.config.learners) {
        const pr = this.progress.get(node);
        if (pr !== undefined) this.maybePromote(node, pr);
      }
    }
  }

  /** Check-quorum: did a majority of voters talk to us in the last window? Resets the window. */
  private quorumActive(): boolean {
    const active = new Set<NodeId>([this.id]);
    for (const [node, pr] of this.progress) {
      if (pr.recentActive) active.add(node);
      if (node !== this.id) pr.recentActive = false;
    }
    return hasQuorum(this.log.config.voters, active);
  }

  // ---------------------------------------------------------------- messages

  step(message: RaftMessage): void {
    if (message.to !== this.id || message.from === this.id) {
      this.logger.warn({ peer: message.from, type: message.type }, "misaddressed message dropped");
      return;
    }
    if (message.term > this.term) {
      if (!this.stepHigherTerm(message)) return;
    } else if (message.term < this.term) {
      this.stepLowerTerm(message);
      return;
    }
    if (message.type === "RequestVote") {
      this.handleRequestVote(message);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(message);
        break;
      case "candidate":
      case "precandidate":
        this.stepCandidate(message);
        break;
      case "follower":
        this.stepFollower(message);
        break;
      default:
        unreachable(this.role, "role");
    }
  }

  /** A message from a later term; false when it is to be ignored. */
  private stepHigherTerm(message: RaftMessage): boolean {
    if (message.type === "RequestVote") {
      if (!message.transfer && this.inLease()) {
        this.logger.debug({ term: this.term, peer: message.from, event: "vote-ignored" }, "in lease, vote ignored");
        return false;
      }
      if (message.preVote) return true; // a pre-vote never changes our term
    }
    if (message.type === "RequestVoteResponse" && message.preVote && message.granted) return true;
    const fromLeader = message.type === "AppendEntries" || message.type === "InstallSnapshot";
    // A vote request may be refused (handleRequestVote restarts the timer if it grants): were
    // the timer restarted here, candidates whose logs are behind could keep the one node that
    // could win from ever campaigning, each of their doomed requests, at a higher term, resetting
    // its timer (simulator seed 20431, 3 nodes, pre-vote and check-quorum off).
    this.becomeFollower(message.term, fromLeader ? message.from : null, message.type === "RequestVote");
    return true;
  }

  private stepLowerTerm(message: RaftMessage): void {
    if (message.type === "AppendEntries" && (this.config.checkQuorum || this.config.preVote)) {
      // A stale leader (or a node whose term fell behind ours after we bumped it in a failed
      // campaign) learns our term and steps down; otherwise it could stay leader forever.
      this.send({
        type: "AppendEntriesResponse",
        to: message.from,
        success: false,
        matchIndex: 0,
        conflictIndex: 0,
        conflictTerm: 0,
        readContext: 0,
      });
    } else if (message.type === "RequestVote" && message.preVote) {
      this.send({ type: "RequestVoteResponse", to: message.from, granted: false, preVote: true });
    }
  }

  private stepFollower(message: RaftMessage): void {
    switch (message.type) {
      case "AppendEntries":
        this.electionElapsed = 0;
        this.leader = message.from;
        this.handleAppendEntries(message);
        break;
      case "InstallSnapshot":
        this.electionElapsed = 0;
        this.leader = message.from;
        this.handleInstallSnapshot(message);
        break;
      case "TimeoutNow":
        this.logger.info({ term: this.term, peer: message.from, event: "timeout-now" }, "leader transfer to us");
        this.campaign("transfer");
        break;
      default:
        break; // answers to a role we no longer have
    }
  }

  private stepCandidate(message: RaftMessage): void {
    switch (message.type) {
      case "AppendEntries":
      case "InstallSnapshot":
        // A leader of our term exists (§5.2): return to follower and take its message.
        this.becomeFollower(message.term, message.from);
        this.stepFollower(message);
        break;
      case "RequestVoteResponse":
        this.handleVoteResponse(message);
        break;
      default:
        break;
    }
  }

  private stepLeader(message: RaftMessage): void {
    switch (message.type) {
      case "AppendEntriesResponse":
        this.handleAppendResponse(message);
        break;
      case "InstallSnapshotResponse":
        this.handleSnapshotResponse(message);
        break;
      case "AppendEntries":
      case "InstallSnapshot":
        this.logger.warn({ term: this.term, peer: message.from, event: "second-leader" }, "another leader in our term");
        break;
      default:
        break;
    }
  }

  // ---------------------------------------------------------------- proposals

  propose(data: Uint8Array): ProposeResult {
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    const index = this.appendLocal("normal", data);
    // Replication waits for takeReady(): proposals made in between go out in one AppendEntries
    // per follower instead of one each.
    this.replicationPending = true;
    return { ok: true, index, term: this.term };
  }

  private refuseProposal(): Exclude<ProposeResult, { ok: true }> | null {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leaderHint: this.leader };
    if (this.transferTarget !== null) return { ok: false, reason: "transfer-in-progress", leaderHint: this.id };
    if (this.log.lastIndex() - this.log.commitIndex >= this.config.maxUncommittedEntries) {
      return { ok: false, reason: "too-many-pending", leaderHint: this.id };
    }
    return null;
  }

  proposeConfigChange(change: ConfigChange): ConfigChangeResult {
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    // At most one uncommitted config entry, and none before our term's no-op is committed
    // (otherwise a change from a deposed leader's term and ours could form two majorities).
    if (this.log.hasUncommittedConfig() || this.log.commitIndex < this.termStartIndex) {
      return { ok: false, reason: "config-change-in-progress", leaderHint: this.id };
    }
    const next = applyConfigChange(this.log.config, change);
    if (!next.ok) return { ok: false, reason: "invalid-change", leaderHint: this.id, detail: next.detail };
    const index = this.appendLocal("config", encodeConfig(next.config));
    this.logger.info({ term: this.term, index, change: change.type, peer: change.node, event: "config-proposed" }, "config change proposed");
    this.onLeaderAppended();
    return { ok: true, index, term: this.term };
  }

  protected appendLocal(kind: "noop" | "normal" | "config", data: Uint8Array): number {
    assert(this.role === "leader", "only a leader appends on its own");
    const index = this.log.lastIndex() + 1;
    this.log.append([{ index, term: this.term, kind, data }]);
    if (kind === "config") this.syncProgressWithConfig();
    return index;
  }

  /** Config took effect at append: track new members, forget removed ones. */
  private syncProgressWithConfig(): void {
    const config = this.log.config;
    for (const node of [...config.voters, ...config.learners]) {
      if (!this.progress.has(node)) {
        this.progress.set(node, new Progress(this.log.lastIndex(), this.config.maxInflightMsgs));
      }
    }
    for (const node of [...this.progress.keys()]) {
      if (node !== this.id && !isMember(config, node)) this.progress.delete(node);
    }
    if (this.transferTarget !== null && !isVoter(config, this.transferTarget)) this.transferTarget = null;
  }

  protected onLeaderAppended(): void {
    for (const node of this.progress.keys()) {
      if (node !== this.id) this.sendAppendLoop(node);
    }
    // A lone voter commits as soon as its entry is durable (onLeaderPersisted).
  }

  protected onLeaderPersisted(): void {
    this.selfProgress().maybeUpdate(this.log.stableIndex);
    this.maybeCommit();
  }

  // ---------------------------------------------------------------- replication

  /** Send as many AppendEntries as flow control allows (at least one if allowEmpty). */
  private sendAppendLoop(node: NodeId, allowEmpty = false): void {
    let sentAny = false;
    for (let k = 0; k < this.config.maxInflightMsgs; k++) {
      if (!this.sendAppend(node, allowEmpty && !sentAny)) break;
      sentAny = true;
    }
  }

  /** One AppendEntries (or an InstallSnapshot when the entries are compacted); false if none. */
  private sendAppend(node: NodeId, allowEmpty: boolean): boolean {
    const pr = this.progress.get(node);
    assert(pr !== undefined, "sendAppend to a tracked peer");
    if (pr.paused()) return false;
    const prevLogIndex = pr.nextIndex - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === null) return this.sendSnapshot(node, pr);
    const entries = this.log.slice(pr.nextIndex, this.config.maxEntriesPerMsg, this.config.maxBytesPerMsg);
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({
      type: "AppendEntries",
      to: node,
      prevLogIndex,
      prevLogTerm,
      entries,
      leaderCommit: this.log.commitIndex,
      readContext: this.reads.latestContext(),
    });
    pr.sentEntries(prevLogIndex + entries.length, entries.length);
    return true;
  }

  private sendSnapshot(node: NodeId, pr: Progress): boolean {
    const snapshot: Snapshot | null = this.log.snapshot;
    assert(snapshot !== null, "entries are compacted only behind a snapshot");
    pr.becomeSnapshot(snapshot.meta.index);
    this.logger.info({ term: this.term, peer: node, index: snapshot.meta.index, event: "send-snapshot" }, "sending snapshot");
    this.send({ type: "InstallSnapshot", to: node, snapshot });
    return false;
  }

  /**
   * Heartbeats are empty AppendEntries. In replicate state they sit at nextIndex - 1, behind
   * every pipelined message: on a FIFO transport a rejection then means some of those were lost
   * (so we probe again at once), and a success acknowledges them all. Otherwise they sit at
   * matchIndex, which always matches.
   */
  private broadcastHeartbeat(): void {
    const readContext = this.reads.latestContext();
    for (const [node, pr] of this.progress) {
      if (node === this.id) continue;
      const at = pr.state === "replicate" ? pr.nextIndex - 1 : pr.matchIndex;
      const known = this.log.term(at);
      const prevLogIndex = known === null ? 0 : at;
      this.send({
        type: "AppendEntries",
        to: node,
        prevLogIndex,
        prevLogTerm: known === null ? 0 : known,
        entries: [],
        leaderCommit: this.log.commitIndex,
        readContext,
      });
      // A probe that got no answer is retried once per heartbeat.
      if (pr.state === "probe") pr.probeSent = false;
      this.sendAppendLoop(node);
    }
  }

  private handleAppendResponse(message: AppendEntriesResponse): void {
    const pr = this.progress.get(message.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (message.readContext > 0) {
      this.reads.ack(message.from, message.readContext);
      this.releaseReads();
    }
    if (!message.success) {
      this.handleAppendRejection(message, pr);
      return;
    }
    if (message.matchIndex > this.log.lastIndex()) {
      this.logger.warn({ peer: message.from, index: message.matchIndex }, "ack beyond our log ignored");
      return;
    }
    if (pr.state === "probe") pr.probeSent = false;
    if (pr.maybeUpdate(message.matchIndex)) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.matchIndex >= pr.pendingSnapshotIndex) pr.becomeReplicate();
      else if (pr.state === "replicate") pr.inflights.freeTo(pr.matchIndex);
      this.maybeCommit();
      if (this.role !== "leader") return; // the commit removed us and we stepped down
      this.afterFollowerProgress(message.from, pr);
    }
    if (this.progress.has(message.from)) this.sendAppendLoop(message.from);
  }

  private handleAppendRejection(message: AppendEntriesResponse, pr: Progress): void {
    const rejected = message.matchIndex;
    if (pr.state === "snapshot") return;
    if (pr.state === "replicate" && rejected <= pr.matchIndex) return; // stale
    if (pr.state === "probe" && rejected !== pr.nextIndex - 1) return; // stale
    let next = message.conflictIndex;
    if (message.conflictTerm > 0) {
      // Thesis §5.3: if we hold entries of the conflicting term, resume after our last one.
      const ours = this.log.lastIndexOfTerm(message.conflictTerm, rejected);
      if (ours !== null) next = ours + 1;
    }
    next = Math.max(pr.matchIndex + 1, Math.min(next, rejected));
    pr.becomeProbe();
    pr.nextIndex = next;
    this.sendAppendLoop(message.from);
  }

  private handleSnapshotResponse(message: InstallSnapshotResponse): void {
    const pr = this.progress.get(message.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (message.matchIndex > this.log.lastIndex()) return;
    const updated = pr.maybeUpdate(message.matchIndex);
    if (pr.state === "snapshot") {
      pr.becomeProbe();
      pr.nextIndex = pr.matchIndex + 1;
    }
    if (updated) {
      this.maybeCommit();
      if (this.role !== "leader") return;
      this.afterFollowerProgress(message.from, pr);
    }
    if (this.progress.has(message.from)) this.sendAppendLoop(message.from);
  }

  /** A follower's matchIndex moved: leader transfer and learner promotion may proceed. */
  private afterFollowerProgress(node: NodeId, pr: Progress): void {
    const lastIndex = this.log.lastIndex();
    if (node === this.transferTarget && pr.matchIndex === lastIndex) {
      this.send({ type: "TimeoutNow", to: node });
    }
    this.maybePromote(node, pr);
  }

  /** Proposes promoting a caught-up learner (refused, and tried again later, while another
   * config change is uncommitted). */
  private maybePromote(node: NodeId, pr: Progress): void {
    if (
      this.config.autoPromote &&
      this.log.config.learners.includes(node) &&
      pr.matchIndex + this.config.promoteLagEntries >= this.log.lastIndex() &&
      this.transferTarget === null
    ) {
      const result = this.proposeConfigChange({ type: "promote", node });
      if (result.ok) this.logger.info({ term: this.term, peer: node, event: "auto-promote" }, "promoting caught-up learner");
    }
  }

  /** §5.3/§5.4.2: commit the largest index held by a majority, if it is of our term. */
  private maybeCommit(): void {
    const log = this.log;
    const index = committedIndex(log.config.voters, (node) => this.progress.get(node)?.matchIndex ?? 0);
    if (index <= log.commitIndex) return;
    if (log.term(index) !== this.term) return; // never by counting replicas of an older term
    log.commitTo(index);
    if (!isVoter(log.config, this.id) && log.commitIndex >= log.configIndex) {
      // Thesis §4.2.2: a leader removed from the config steps down once the removal commits.
      this.logger.info({ term: this.term, index: log.configIndex, event: "removed-step-down" }, "removed, stepping down");
      this.becomeFollower(this.term, null);
      return;
    }
    if (log.commitIndex >= this.termStartIndex && this.readsWaiting.length > 0) {
      const waiting = this.readsWaiting;
      this.readsWaiting = [];
      for (const requestId of waiting) this.registerRead(requestId);
    }
    // Followers learn the new commitIndex from the next AppendEntries or heartbeat, not from a
    // message of its own: clients are answered by the leader, and on a busy cluster an extra
    // round of empty appends and acks per commit costs every node two socket writes (measured:
    // bench/README.md). A new leader commits everything of ours with its first entry anyway.
  }

  // ---------------------------------------------------------------- leader transfer

  transferLeadership(target: NodeId): TransferResult {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leaderHint: this.leader };
    if (target === this.id) return { ok: true };
    if (this.transferTarget !== null) {
      if (this.transferTarget === target) return { ok: true };
      return { ok: false, reason: "transfer-in-progress", leaderHint: this.id };
    }
    const pr = this.progress.get(target);
    if (pr === undefined || !isVoter(this.log.config, target)) {
      return { ok: false, reason: "invalid-target", leaderHint: this.id };
    }
    this.transferTarget = target;
    this.transferElapsed = 0;
    this.logger.info({ term: this.term, peer: target, event: "transfer-started" }, "leader transfer started");
    if (pr.matchIndex === this.log.lastIndex()) this.send({ type: "TimeoutNow", to: target });
    else this.sendAppendLoop(target);
    return { ok: true };
  }

  // ---------------------------------------------------------------- ReadIndex

  /** Thesis §6.4: a ReadState {requestId, index} is emitted once leadership is confirmed. */
  readIndex(requestId: number): ReadIndexResult {
    if (this.role !== "leader") return { ok: false, reason: "not-leader", leaderHint: this.leader };
    if (this.reads.count() + this.readsWaiting.length >= this.config.maxPendingReads) {
      return { ok: false, reason: "too-many-pending", leaderHint: this.id };
    }
    if (this.log.commitIndex < this.termStartIndex) {
      // Our commitIndex may lag the cluster's until an entry of our term commits.
      this.readsWaiting.push(requestId);
    } else {
      this.registerRead(requestId);
    }
    return { ok: true };
  }

  private registerRead(requestId: number): void {
    const voters = this.log.config.voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.readStates.push({ requestId, index: this.log.commitIndex });
      return;
    }
    this.reads.add(requestId, this.log.commitIndex, this.id);
    this.broadcastHeartbeat();
  }

  private releaseReads(): void {
    for (const state of this.reads.release(this.log.config.voters)) this.readStates.push(state);
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * The application made a snapshot of its state at `index` (<= lastApplied). The core keeps it
   * to send InstallSnapshot and drops entries <= index; the shell also calls
   * RaftStorage.compact(returned snapshot).
   */
  compact(index: number, data: SnapshotData): Snapshot {
    return this.log.compact(index, data);
  }

  /**
   * The metadata compact(index, ...) will give the snapshot: a host that writes the application's
   * state to a file names and heads the file with it before handing the core a reference.
   */
  snapshotMetaAt(index: number): SnapshotMeta {
    return this.log.snapshotMetaAt(index);
  }
}
