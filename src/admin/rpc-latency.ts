/**
 * RpcLatency: pairs the raft requests this node sends with the responses it receives and reports
 * each round trip's latency by kind. Pure (the clock is injected); fed by RaftNode.messageObserver.
 *
 * Kinds: "append" (AppendEntries with entries), "heartbeat" (empty AppendEntries), "vote",
 * "prevote", "snapshot". Raft messages carry no request id, so pairing is by peer and content:
 * a response pairs with the NEWEST outstanding request to that peer it can answer, and every
 * older one in its group is dropped (lost, or answered already). An AppendEntries success
 * carries matchIndex = prevLogIndex + entries.length of its request, so pipelined appends pair
 * exactly; identical requests (heartbeats to an idle follower) are told apart only when at most
 * one is in flight, and otherwise the figure is low, never stuck: a lost message cannot shift
 * every later pairing. Rejections, votes (by pre-vote flag) and snapshots pair with the newest.
 * Unanswered requests are dropped after staleMs and never reported. Bounded: at most
 * pendingPerPeerMax outstanding requests per peer and group (the oldest is dropped).
 */
import type { NodeId, RaftMessage } from "../raft/types";

export type RpcKind = "append" | "heartbeat" | "vote" | "prevote" | "snapshot";
export const rpcKinds: readonly RpcKind[] = ["append", "heartbeat", "vote", "prevote", "snapshot"];

interface Outstanding {
  kind: RpcKind;
  sentAtMs: number;
  /** AppendEntries: matchIndex a success will carry; otherwise 0. */
  expect: number;
}

export const pendingPerPeerMax = 256;
export const staleMs = 30_000;
/** Peers tracked at most (raft clusters are small; this only bounds a misbehaving input). */
const peersMax = 64;

export class RpcLatency {
  /** peer -> group ("append" | "vote" | "snapshot") -> outstanding requests, oldest first. */
  private readonly pending = new Map<NodeId, Map<string, Outstanding[]>>();
  dropped = 0;

  constructor(
    private readonly nowMs: () => number,
    private readonly observe: (kind: RpcKind, ms: number) => void,
  ) {}

  onMessage(message: RaftMessage, direction: "in" | "out"): void {
    if (direction === "out") this.sent(message);
    else this.received(message);
  }

  private sent(message: RaftMessage): void {
    switch (message.type) {
      case "AppendEntries":
        this.push(message.to, "append", {
          kind: message.entries.length === 0 ? "heartbeat" : "append",
          sentAtMs: this.nowMs(),
          expect: message.prevLogIndex + message.entries.length,
        });
        return;
      case "RequestVote":
        this.push(message.to, message.preVote ? "prevote" : "vote", { kind: message.preVote ? "prevote" : "vote", sentAtMs: this.nowMs(), expect: 0 });
        return;
      case "InstallSnapshot":
        this.push(message.to, "snapshot", { kind: "snapshot", sentAtMs: this.nowMs(), expect: 0 });
        return;
      default:
        return;
    }
  }

  private received(message: RaftMessage): void {
    switch (message.type) {
      case "AppendEntriesResponse": {
        const match = message.matchIndex;
        this.answer(message.from, "append", message.success ? (o) => o.expect === match : () => true);
        return;
      }
      case "RequestVoteResponse":
        this.answer(message.from, message.preVote ? "prevote" : "vote", () => true);
        return;
      case "InstallSnapshotResponse":
        this.answer(message.from, "snapshot", () => true);
        return;
      default:
        return;
    }
  }

  /** Reports the newest outstanding request matching `fits` and forgets it and all older ones. */
  private answer(peer: NodeId, group: string, fits: (outstanding: Outstanding) => boolean): void {
    const queue = this.queue(peer, group);
    if (queue === null) return;
    for (let at = queue.length - 1; at >= 0; at--) {
      const outstanding = queue[at]!;
      if (!fits(outstanding)) continue;
      queue.splice(0, at + 1);
      this.dropped += at;
      this.report(outstanding);
      return;
    }
  }

  private report(outstanding: Outstanding | undefined): void {
    if (outstanding === undefined) return;
    this.observe(outstanding.kind, this.nowMs() - outstanding.sentAtMs);
  }

  private queue(peer: NodeId, group: string): Outstanding[] | null {
    const queue = this.pending.get(peer)?.get(group);
    if (queue === undefined) return null;
    const cutoff = this.nowMs() - staleMs;
    let stale = 0;
    while (stale < queue.length && queue[stale]!.sentAtMs < cutoff) stale++;
    if (stale > 0) {
      queue.splice(0, stale);
      this.dropped += stale;
    }
    return queue;
  }

  private push(peer: NodeId, group: string, outstanding: Outstanding): void {
    let groups = this.pending.get(peer);
    if (groups === undefined) {
      if (this.pending.size >= peersMax) return;
      groups = new Map();
      this.pending.set(peer, groups);
    }
    let queue = groups.get(group);
    if (queue === undefined) {
      queue = [];
      groups.set(group, queue);
    }
    if (queue.length >= pendingPerPeerMax) {
      queue.shift();
      this.dropped += 1;
    }
    queue.push(outstanding);
  }

  /** Outstanding requests (for tests and bounds checks). */
  outstanding(): number {
    let count = 0;
    for (const groups of this.pending.values()) for (const queue of groups.values()) count += queue.length;
    return count;
  }
}
