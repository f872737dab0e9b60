/**
 * SafetyChecker: cluster-wide Raft properties, checked after every simulator step.
 *
 *   election safety       at most one leader per term (§5.2);
 *   log matching          two durable logs holding an entry with the same index and term agree on
 *                         its content and on the term before it, hence (by induction) on the
 *                         whole prefix (§5.3); checked when entries become durable;
 *   committed stability   an index, once committed anywhere, always carries the same term;
 *   leader completeness   a new leader holds every entry committed so far (§5.4);
 *   state machine safety  every node applies the same entry at each index, in index order, and
 *                         its state (a hash chain) equals the canonical one at that index;
 *   monotonic commit      a node's commitIndex never decreases, and a restarted node starts at
 *                         its durable commitIndex (never below it);
 *   linearizable reads    a ReadState's index >= every index known committed when it was asked.
 * A violation throws SimViolation; the simulator prints the trace and the replay command.
 */
import type { RaftCore } from "../../src/raft/core";
import type { LogEntry, NodeId } from "../../src/raft/types";

export class SimViolation extends Error {
  override readonly name = "SimViolation";
}

export function violation(condition: unknown, what: string): asserts condition {
  if (!condition) throw new SimViolation(what);
}

export function dataHash(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < data.length; k++) h = Math.imul(h ^ data[k]!, 0x01000193) >>> 0;
  return h;
}

export function chainHash(previous: number, entry: LogEntry): number {
  let h = Math.imul(previous ^ entry.index, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ entry.term, 0x85ebca6b) >>> 0;
  return Math.imul(h ^ dataHash(entry.data), 0xc2b2ae35) >>> 0;
}

export class SafetyChecker {
  private leaderOfTerm = new Map<number, NodeId>();
  /** Term of every committed index (1-based; index 0 unused). */
  private committedTerm: number[] = [0];
  /** State-machine hash after applying each index. */
  private appliedHash: number[] = [0];
  /** (index, term) -> "prevTerm:dataHash" for log matching. */
  private entryKey = new Map<number, string>();
  private commitSeen = new Map<NodeId, number>();
  private leaderSeen = new Map<NodeId, number>();
  maxCommitted = 0;

  committedTermAt(index: number): number | undefined {
    return this.committedTerm[index];
  }

  /** A node (re)started: its commitIndex must equal its durable one. */
  onStart(node: NodeId, core: RaftCore, durableCommit: number): void {
    const log = core.log;
    violation(log.commitIndex === durableCommit, `${node}: restarted below its durable commitIndex`);
    for (let index = Math.max(1, log.snapshotIndex()); index <= log.commitIndex; index++) {
      this.noteCommitted(node, index, log.term(index)!);
    }
    this.commitSeen.set(node, durableCommit);
    this.leaderSeen.delete(node);
  }

  afterStep(node: NodeId, core: RaftCore): void {
    core.checkInvariants();
    const log = core.log;
    const previous = this.commitSeen.get(node) ?? 0;
    violation(log.commitIndex >= previous, `${node}: commitIndex decreased ${previous} -> ${log.commitIndex}`);
    if (log.commitIndex > previous) {
      for (let index = Math.max(previous + 1, log.snapshotIndex()); index <= log.commitIndex; index++) {
        this.noteCommitted(node, index, log.term(index)!);
      }
      this.commitSeen.set(node, log.commitIndex);
    }
    if (core.role === "leader") {
      const holder = this.leaderOfTerm.get(core.term);
      violation(holder === undefined || holder === node, `two leaders in term ${core.term}: ${holder} and ${node}`);
      if (holder === undefined) this.leaderOfTerm.set(core.term, node);
      if (this.leaderSeen.get(node) !== core.term) {
        this.leaderSeen.set(node, core.term);
        this.checkLeaderCompleteness(node, core);
      }
    }
  }

  private noteCommitted(node: NodeId, index: number, term: number): void {
    if (index <= 0) return;
    const known = this.committedTerm[index];
    if (known === undefined) {
      violation(index === this.committedTerm.length, `${node}: committed index ${index} with a gap`);
      this.committedTerm.push(term);
      this.maxCommitted = index;
    } else {
      violation(known === term, `${node}: committed index ${index} has term ${term}, elsewhere ${known}`);
    }
  }

  private checkLeaderCompleteness(node: NodeId, core: RaftCore): void {
    const log = core.log;
    violation(log.lastIndex() >= this.maxCommitted, `${node}: new leader of term ${core.term} lacks committed entries`);
    for (let index = Math.max(1, log.snapshotIndex()); index <= this.maxCommitted; index++) {
      violation(log.term(index) === this.committedTerm[index], `${node}: new leader differs at committed index ${index}`);
    }
  }

  /** Entries made durable at `node`; prevTerm is the durable term before the first. */
  onDurable(node: NodeId, entries: LogEntry[], prevTerm: number): void {
    let before = prevTerm;
    for (const entry of entries) {
      const key = entry.index * 0x100000 + entry.term;
      const value = `${before}:${entry.kind}:${dataHash(entry.data)}`;
      const known = this.entryKey.get(key);
      if (known === undefined) this.entryKey.set(key, value);
      else violation(known === value, `${node}: log matching violated at index ${entry.index} term ${entry.term}`);
      before = entry.term;
    }
  }

  /** `node` applied `entry` on top of state hash `previous`; returns the new hash. */
  onApply(node: NodeId, entry: LogEntry, previous: number): number {
    const hash = chainHash(previous, entry);
    const known = this.appliedHash[entry.index];
    if (known === undefined) {
      violation(entry.index === this.appliedHash.length, `${node}: applied index ${entry.index} out of order`);
      this.appliedHash.push(hash);
    } else {
      violation(known === hash, `${node}: state machine diverged at index ${entry.index}`);
    }
    return hash;
  }

  /** A snapshot at `index` with state `hash` must be the canonical state there. */
  onSnapshot(node: NodeId, index: number, hash: number): void {
    violation(this.appliedHash[index] === hash, `${node}: snapshot at ${index} differs from the applied state`);
  }

  /** `index` must be committed and equal across nodes; used when a node reports a ReadState. */
  onReadState(node: NodeId, index: number, committedAtRequest: number): void {
    violation(index >= committedAtRequest, `${node}: read index ${index} < ${committedAtRequest} committed before the read`);
  }
}
