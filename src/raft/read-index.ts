/**
 * ReadIndexTracker: linearizable reads without writing to the log (thesis §6.4).
 *
 * Contract: the leader records commitIndex for each read together with a fresh, increasing
 * readContext and broadcasts a heartbeat carrying it. A response from voter v echoing context c
 * proves v still followed this leader after every read with context <= c was registered. Once
 * the acks for a read form a majority of voters, that read and every earlier one are released
 * as ReadStates, in order. Bounded by the caller (maxPendingReads); cleared on leadership loss.
 */
import { assert } from "../util/assert";
import { hasQuorum } from "./quorum";
import type { NodeId, ReadState } from "./types";

interface PendingRead {
  requestId: number;
  index: number;
  context: number;
  acks: Set<NodeId>;
}

export class ReadIndexTracker {
  /** Invariant: contexts strictly increase along `pending`. */
  private pending: PendingRead[] = [];
  /** Contexts keep increasing across terms so a late ack can never match a newer read. */
  private lastContext = 0;

  count(): number {
    return this.pending.length;
  }

  /** The context to put on outgoing heartbeats (0: nothing to confirm). */
  latestContext(): number {
    return this.pending.length === 0 ? 0 : this.pending[this.pending.length - 1]!.context;
  }

  add(requestId: number, index: number, self: NodeId): number {
    this.lastContext++;
    this.pending.push({ requestId, index, context: this.lastContext, acks: new Set([self]) });
    return this.lastContext;
  }

  ack(from: NodeId, context: number): void {
    for (const read of this.pending) {
      if (read.context > context) break;
      read.acks.add(from);
    }
  }

  /** Reads confirmed by a majority of `voters`, oldest first. */
  release(voters: readonly NodeId[]): ReadState[] {
    let last = -1;
    for (let k = this.pending.length - 1; k >= 0; k--) {
      if (hasQuorum(voters, this.pending[k]!.acks)) {
        last = k;
        break;
      }
    }
    if (last < 0) return [];
    const released = this.pending.splice(0, last + 1);
    return released.map((read) => ({ requestId: read.requestId, index: read.index }));
  }

  reset(): void {
    this.pending = [];
  }

  checkInvariants(): void {
    for (let k = 1; k < this.pending.length; k++) {
      assert(this.pending[k - 1]!.context < this.pending[k]!.context, "read contexts increase");
      assert(this.pending[k - 1]!.index <= this.pending[k]!.index, "read indexes never decrease");
    }
  }
}
