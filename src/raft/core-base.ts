/**
 * RaftCore: Raft (§5-§7 of the paper, thesis §3-§6, §9.6) as a pure, deterministic state
 * machine in the style of etcd-io/raft's RawNode. No I/O, no clock, no Math.random: time is
 * tick(), randomness is the injected Rng, and all work is described in a Ready.
 *
 * Host loop (see Ready in types.ts): tick() / step(msg) / propose(...) → takeReady() → persist
 * ready.hardState, ready.snapshot, ready.entries durably → send ready.messages → restore the
 * snapshot and apply ready.committed → answer ready.readStates → advance(ready). At most one
 * Ready is outstanding; tick/step/propose may be called while it is being persisted.
 *
 * Durability rule (thesis §3.8, etcd-io/raft msgsAfterAppend): every message is generated into an
 * outbox that is only handed out in a Ready, and the shell sends a Ready's messages only after
 * its state is durable, so vote grants and append acks never claim state a crash could lose. The
 * leader counts its own log toward a majority only up to what advance() confirmed durable.
 *
 * Roles:
 *
 *            timeout (preVote)            majority of pre-votes
 *   follower ----------------> precandidate ----------------> candidate --majority--> leader
 *      ^  ^    timeout (no preVote) / TimeoutNow                  |                     |
 *      |  +-------------------------------------------------------+                     |
 *      +---- higher term, AppendEntries of the current term, check-quorum, removal -----+
 *
 * A precandidate also returns to follower when it grants a peer's pre-vote (it yields to a peer
 * whose log is ahead of its own, or as far along with a greater id: handleRequestVote).
 *
 * Membership: single-server changes effective when appended (see membership.ts for why).
 * This file holds the role machine, elections, the follower side and Ready; core.ts (RaftCore)
 * adds tick/step routing, the public API and the leader side: replication, commit, membership,
 * leader transfer and ReadIndex.
 */
import { assert, unreachable } from "../util/assert";
import type { Rng } from "../util/rng";
import { leaseTicks, validateRaftConfig, type RaftConfig, type RaftConfigInput } from "./config";
import type { CoreLogger } from "./logger";
import { acceptAppendEntries, acceptSnapshot } from "./follower";
import { RaftLog } from "./log";
import { isVoter } from "./membership";
import { voteResult } from "./quorum";
import { ReadIndexTracker } from "./read-index";
import { Progress } from "./progress";
import type {
  AppendEntries,
  ClusterConfig,
  HardState,
  InstallSnapshot,
  NodeId,
  PersistentState,
  RaftMessage,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteResponse,
  Role,
} from "./types";

/** Drop (and log) outbound messages beyond this many untaken ones: the network may lose them. */
export const outboxMessagesMax = 100_000;

export type CampaignKind = "pre-vote" | "election" | "transfer";

/** Distributes Omit over the message union so each member keeps its own fields. */
type Outgoing<M> = M extends RaftMessage ? Omit<M, "from" | "term"> & { term?: number } : never;

export interface PeerStatus {
  matchIndex: number;
  nextIndex: number;
  state: "probe" | "replicate" | "snapshot";
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  votedFor: NodeId | null;
  leader: NodeId | null;
  commitIndex: number;
  lastApplied: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  config: ClusterConfig;
  transferTarget: NodeId | null;
  progress: Record<NodeId, PeerStatus>;
}

export abstract class RaftCoreBase {
  readonly config: RaftConfig;
  readonly id: NodeId;
  protected readonly rng: Rng;
  protected readonly logger: CoreLogger;
  readonly log: RaftLog;

  term: number;
  votedFor: NodeId | null;
  /** The leader of `term` as far as we know (ourselves when leader). */
  leader: NodeId | null = null;
  role: "follower" | "precandidate" | "candidate" | "leader" = "follower";

  /** Follower/candidate: ticks since we heard from the leader or granted a vote. Leader: the
   * check-quorum window. */
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  /** Invariant: electionTicks <= randomizedElectionTicks < 2 * electionTicks. */
  protected randomizedElectionTicks: number;
  protected votes = new Map<NodeId, boolean>();
  /** Leader only: one entry per member (voters and learners), including ourselves. */
  protected progress = new Map<NodeId, Progress>();
  /** Leader only: index of the no-op that opened our term; reads and config changes wait for it. */
  protected termStartIndex = 0;
  protected transferTarget: NodeId | null = null;
  protected transferElapsed = 0;
  protected readonly reads = new ReadIndexTracker();
  /** Read requests waiting for the leader to commit an entry of its term. */
  protected readsWaiting: number[] = [];

  protected outbox: RaftMessage[] = [];
  /** Leader: proposals were appended since the last takeReady(); replicate them then. */
  protected replicationPending = false;
  protected readStates: ReadState[] = [];
  protected lastHardState: HardState;
  protected readyOutstanding = false;

  constructor(config: RaftConfigInput, initial: PersistentState, rng: Rng, logger: CoreLogger) {
    this.config = validateRaftConfig(config);
    this.id = this.config.id;
    this.rng = rng;
    this.logger = logger;
    this.log = new RaftLog(initial, this.config.logBlockEntries);
    this.term = initial.hardState.term;
    this.votedFor = initial.hardState.votedFor;
    assert(this.term >= this.log.lastTerm(), "persisted term >= last log term");
    this.lastHardState = { ...initial.hardState };
    this.randomizedElectionTicks = this.randomElectionTicks();
  }

  // ---------------------------------------------------------------- role transitions

  /**
   * In [electionTicks + 1, 2 * electionTicks - 1].
   * - The bottom is above the lease (leaseTicks, inLease) on purpose. Peers count ticks on clocks
   *   of their own phase, and hear the leader's last heartbeat at slightly different times: when
   *   this follower's count fires, a peer's count of the same silence may be a tick or more
   *   lower. If that peer is still "in lease" it ignores our pre-vote, and the cluster waits a
   *   whole second timeout. With the lease ending at the bottom, a failover in the bench took
   *   2,669 ms without a leader (session 4); with it ending one tick below, 2,354 ms (session 7;
   *   target 2,000, others 1,033-1,984). So the lease now ends three ticks below the bottom,
   *   two below electionTicks (leaseTicks in config.ts).
   * - The top is one tick below 2x, so a follower whose ticks lag its last heartbeat by up to a
   *   tick still fires before 2 x the election timeout: a dead leader is replaced within that
   *   bound (issue 6; the bench once measured 1,984 ms of 2,000 when 2x was allowed).
   */
  protected randomElectionTicks(): number {
    return this.config.electionTicks + 1 + this.rng.nextInt(this.config.electionTicks - 1);
  }

  protected resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.randomElectionTicks();
  }

  protected clearLeaderState(): void {
    this.replicationPending = false;
    this.progress.clear();
    this.votes.clear();
    this.transferTarget = null;
    this.transferElapsed = 0;
    this.reads.reset();
    this.readsWaiting = [];
    this.termStartIndex = 0;
  }

  /**
   * `keepElectionTimer`: a non-leader keeps counting toward its election timeout (Figure 2: the
   * timer restarts on hearing from the leader or on granting a vote, not on a vote request that
   * may be refused; see stepHigherTerm). A leader's count is check-quorum's and always restarts.
   */
  becomeFollower(term: number, leader: NodeId | null, keepElectionTimer = false): void {
    assert(term >= this.term, "becomeFollower: term never decreases");
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
    }
    const wasLeader = this.role === "leader";
    this.role = "follower";
    this.leader = leader;
    this.clearLeaderState();
    if (keepElectionTimer && !wasLeader) this.heartbeatElapsed = 0;
    else this.resetTimers();
    if (wasLeader) this.logger.info({ term, leader, event: "stepped-down" }, "leader stepped down");
  }

  protected becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become precandidate");
    // Thesis §9.6: neither term nor votedFor changes, so a failed pre-vote disturbs nobody.
    this.role = "precandidate";
    this.leader = null;
    this.clearLeaderState();
    this.resetTimers();
    this.votes.set(this.id, true);
  }

  protected becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.role = "candidate";
    this.term += 1;
    this.votedFor = this.id;
    this.leader = null;
    this.clearLeaderState();
    this.resetTimers();
    // Our own vote counts once the new term and vote are durable (advance): a candidate that
    // needs nobody else's vote (the only voter) would otherwise lead a term that a crash before
    // the write erases, and, restarted in the term before, vote for another leader of that same
    // term (simulator seed 7022349, 3 nodes: the only voter left after a removal led term 7 in
    // memory, crashed before writing it, came back in term 6 and voted for another candidate of
    // term 7). Peers' votes cannot come sooner: our requests leave once the term is durable.
    this.logger.info({ term: this.term, event: "became-candidate" }, "became candidate");
  }

  protected becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    assert(this.votedFor === this.id, "a leader voted for itself");
    this.role = "leader";
    this.leader = this.id;
    this.clearLeaderState();
    this.resetTimers();
    const next = this.log.lastIndex() + 1;
    for (const node of this.members()) this.progress.set(node, new Progress(next, this.config.maxInflightMsgs));
    this.selfProgress().matchIndex = this.log.stableIndex;
    // §5.4.2 / §8: a no-op of our term lets us commit everything before it.
    this.termStartIndex = next;
    this.appendLocal("noop", new Uint8Array(0));
    this.logger.info({ term: this.term, index: next, event: "became-leader" }, "became leader");
    this.onLeaderAppended();
  }

  protected members(): NodeId[] {
    const config = this.log.config;
    const nodes = [...config.voters, ...config.learners];
    if (!nodes.includes(this.id)) nodes.push(this.id);
    return nodes;
  }

  protected selfProgress(): Progress {
    const progress = this.progress.get(this.id);
    assert(progress !== undefined, "leader tracks its own progress");
    return progress;
  }

  /**
   * May we campaign? Voters of our latest config may. So may a node that the latest, still
   * uncommitted, config entry removes: thesis §4.2.2 notes it may be needed to commit that very
   * entry (e.g. a removed leader that stepped down early holds the only copy); it does not count
   * its own vote. Once the removal is committed, a removed node stays quiet.
   */
  promotable(): boolean {
    const log = this.log;
    if (isVoter(log.config, this.id)) return true;
    if (!log.hasUncommittedConfig()) return false;
    return isVoter(log.configAt(log.configIndex - 1), this.id);
  }

  protected send(message: Outgoing<RaftMessage>): void {
    if (this.outbox.length >= outboxMessagesMax) {
      this.logger.warn({ to: message.to, type: message.type }, "outbox full, message dropped");
      return;
    }
    // Callers pass fresh literals, so stamp in place rather than copy (hot path).
    const full = message as unknown as { from: NodeId; term: number | undefined };
    full.from = this.id;
    if (full.term === undefined) full.term = this.term;
    this.outbox.push(message as unknown as RaftMessage);
  }

  // ---------------------------------------------------------------- hooks for leader.ts

  /** Leader: append an entry of our term to our log; returns its index. */
  protected abstract appendLocal(kind: "noop" | "normal" | "config", data: Uint8Array): number;
  /** Leader: entries were appended to our log (replicate them). */
  protected abstract onLeaderAppended(): void;
  /** Leader: advance() made more of our log durable (count it, maybe commit). */
  protected abstract onLeaderPersisted(): void;

  // ---------------------------------------------------------------- elections

  campaign(kind: CampaignKind): void {
    if (!this.promotable()) {
      this.logger.debug({ term: this.term, event: "campaign-refused" }, "not a voter, not campaigning");
      return;
    }
    if (kind === "pre-vote") this.becomePreCandidate();
    else this.becomeCandidate();
    const preVote = kind === "pre-vote";
    if (this.tallyVotes()) return;
    for (const voter of this.log.config.voters) {
      if (voter === this.id) continue;
      this.send({
        type: "RequestVote",
        to: voter,
        term: preVote ? this.term + 1 : this.term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        preVote,
        transfer: kind === "transfer",
      });
    }
  }

  /** Acts on the votes so far; true when the campaign is over (won or lost). */
  protected tallyVotes(): boolean {
    const result = voteResult(this.log.config.voters, this.votes);
    if (result === "pending") return false;
    if (result === "lost") {
      this.becomeFollower(this.term, null);
      return true;
    }
    if (this.role === "precandidate") this.campaign("election");
    else this.becomeLeader();
    return true;
  }

  /**
   * Leader stickiness (thesis §4.2.3): we heard from a live leader within the last leaseTicks
   * (a little less than an election timeout, see randomElectionTicks), so (pre)vote requests are
   * ignored. Only with checkQuorum, as in etcd-io/raft: without it a leader cut off from a
   * majority never steps down, and followers it still reaches would ignore forever a candidate
   * whose term is the only way to depose it.
   */
  protected inLease(): boolean {
    if (!this.config.checkQuorum || this.leader === null) return false;
    return this.electionElapsed < leaseTicks(this.config);
  }

  protected handleRequestVote(message: RequestVote): void {
    const canVote =
      this.votedFor === message.from ||
      (this.votedFor === null && this.leader === null) ||
      (message.preVote && message.term > this.term);
    let granted = canVote && this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    // Two pre-candidates at once (the leader gone, their timeouts within a pre-vote round trip)
    // would grant each other, both campaign, and split the real vote: another whole election
    // timeout without a leader (test/scenarios/split-vote.txt; a failover under load went
    // 3,474 ms without a leader, 2,000 being the bound, after both followers pre-campaigned in
    // the same millisecond). So a pre-candidate yields to a peer whose log is ahead of its own,
    // or as far along and with the greater id, and refuses a peer it would beat on that order.
    // Pre-votes change no term and no vote, so this decides only who campaigns first, never
    // safety; if the preferred peer fails, the one that yielded campaigns after its own timeout.
    let yielded = false;
    if (granted && message.preVote && this.role === "precandidate") {
      const sameLog = message.lastLogIndex === this.log.lastIndex() && message.lastLogTerm === this.log.lastTerm();
      if (sameLog && message.from < this.id) granted = false;
      else yielded = true;
    }
    this.logger.debug(
      { term: this.term, peer: message.from, preVote: message.preVote, granted, event: "vote" },
      "answered vote request",
    );
    this.send({
      type: "RequestVoteResponse",
      to: message.from,
      // A granted pre-vote answers in the candidate's future term so it counts the grant.
      term: granted ? message.term : this.term,
      granted,
      preVote: message.preVote,
    });
    if (granted && !message.preVote) {
      this.votedFor = message.from;
      this.electionElapsed = 0;
    }
    if (yielded) {
      this.logger.info({ term: this.term, peer: message.from, event: "prevote-yielded" }, "pre-candidacy given up for a peer's");
      this.becomeFollower(this.term, null);
    }
  }

  protected handleVoteResponse(message: RequestVoteResponse): void {
    const expectPreVote = this.role === "precandidate";
    if (message.preVote !== expectPreVote) return;
    if (expectPreVote && message.granted && message.term !== this.term + 1) return;
    if (!expectPreVote && message.term !== this.term) return;
    if (!this.votes.has(message.from)) this.votes.set(message.from, message.granted);
    this.tallyVotes();
  }

  // ---------------------------------------------------------------- follower side

  protected handleAppendEntries(message: AppendEntries): void {
    const verdict = acceptAppendEntries(this.log, message);
    this.send({ type: "AppendEntriesResponse", to: message.from, ...verdict, readContext: message.readContext });
  }

  protected handleInstallSnapshot(message: InstallSnapshot): void {
    const verdict = acceptSnapshot(this.log, message);
    if (verdict === "restored") {
      this.logger.info({ term: this.term, index: message.snapshot.meta.index, event: "snapshot-restore" }, "restored snapshot");
    }
    this.send({ type: "InstallSnapshotResponse", to: message.from, matchIndex: this.log.commitIndex });
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    return (
      this.outbox.length > 0 ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.stableIndex < this.log.lastIndex() ||
      this.log.appliedCursor < this.log.commitIndex ||
      this.hardStateChanged()
    );
  }

  protected hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  protected hardStateChanged(): boolean {
    const last = this.lastHardState;
    return last.term !== this.term || last.votedFor !== this.votedFor || last.commitIndex !== this.log.commitIndex;
  }

  /** The work to do now, or null. Call advance(ready) once it is done (one Ready at a time). */
  takeReady(): Ready | null {
    if (!this.hasReady()) return null;
    if (this.replicationPending) {
      this.replicationPending = false;
      if (this.role === "leader") this.onLeaderAppended();
    }
    const log = this.log;
    const snapshot = log.pendingSnapshot;
    if (snapshot !== null) {
      log.pendingSnapshot = null;
      log.appliedCursor = snapshot.meta.index;
    }
    const hardStateChanged = this.hardStateChanged();
    const ready: Ready = {
      hardState: hardStateChanged ? this.hardState() : null,
      entries: log.unstableEntries(),
      snapshot,
      messages: this.outbox,
      committed: log.takeCommitted(),
      readStates: this.readStates,
    };
    if (hardStateChanged) this.lastHardState = this.hardState();
    this.outbox = [];
    this.readStates = [];
    this.readyOutstanding = true;
    return ready;
  }

  /** The shell finished `ready`: its state is durable, its messages sent, its entries applied. */
  advance(ready: Ready): void {
    assert(this.readyOutstanding, "advance without an outstanding Ready");
    this.readyOutstanding = false;
    this.log.stableTo(ready.entries);
    let applied = ready.snapshot === null ? 0 : ready.snapshot.meta.index;
    if (ready.committed.length > 0) applied = ready.committed[ready.committed.length - 1]!.index;
    if (applied > 0) this.log.appliedTo(applied);
    if (this.role === "leader") this.onLeaderPersisted();
    const hardState = ready.hardState;
    if (this.role === "candidate" && hardState !== null && hardState.term === this.term && hardState.votedFor === this.id && !this.votes.has(this.id)) {
      this.votes.set(this.id, true);
      this.tallyVotes();
    }
  }

  // ---------------------------------------------------------------- inspection

  status(): RaftStatus {
    const progress: Record<NodeId, PeerStatus> = {};
    for (const [node, pr] of this.progress) {
      progress[node] = {
        matchIndex: pr.matchIndex,
        nextIndex: pr.nextIndex,
        state: pr.state,
        recentActive: pr.recentActive,
      };
    }
    let role: Role = this.role;
    if (role === "follower" && !isVoter(this.log.config, this.id)) role = "learner";
    return {
      id: this.id,
      role,
      term: this.term,
      votedFor: this.votedFor,
      leader: this.leader,
      commitIndex: this.log.commitIndex,
      lastApplied: this.log.lastApplied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshotIndex(),
      config: { voters: [...this.log.config.voters], learners: [...this.log.config.learners] },
      transferTarget: this.transferTarget,
      progress,
    };
  }

  checkInvariants(): void {
    this.log.checkInvariants();
    this.reads.checkInvariants();
    assert(this.term >= this.log.lastTerm(), "term >= last log term");
    assert(this.lastHardState.term <= this.term, "handed-out term <= term");
    assert(this.lastHardState.commitIndex <= this.log.commitIndex, "handed-out commitIndex <= commitIndex");
    const timeout = this.randomizedElectionTicks;
    assert(timeout > this.config.electionTicks, "randomized election timeout > electionTicks");
    assert(leaseTicks(this.config) <= this.config.electionTicks, "the lease is no longer than electionTicks");
    assert(timeout <= 2 * this.config.electionTicks, "randomized election timeout <= 2 * electionTicks");
    switch (this.role) {
      case "leader": {
        assert(this.leader === this.id, "a leader knows it leads");
        assert(this.votedFor === this.id, "a leader voted for itself");
        const self = this.selfProgress();
        assert(self.matchIndex <= this.log.stableIndex, "leader counts only durable entries of its own");
        assert(this.termStartIndex > 0, "leader knows where its term starts");
        assert(this.log.term(this.termStartIndex) === this.term || this.termStartIndex <= this.log.snapshotIndex(),
          "the term start entry is of the leader's term");
        for (const pr of this.progress.values()) {
          pr.checkInvariants();
          assert(pr.matchIndex <= this.log.lastIndex(), "progress: matchIndex <= leader lastIndex");
          assert(pr.nextIndex <= this.log.lastIndex() + 1, "progress: nextIndex <= leader lastIndex + 1");
        }
        break;
      }
      case "candidate":
        assert(this.votedFor === this.id, "a candidate voted for itself");
        assert(this.progress.size === 0, "only leaders track progress");
        break;
      case "precandidate":
      case "follower":
        assert(this.progress.size === 0, "only leaders track progress");
        assert(this.transferTarget === null, "only leaders transfer leadership");
        assert(this.reads.count() === 0, "only leaders serve reads");
        break;
      default:
        unreachable(this.role, "role");
    }
  }
}
