/**
 * The follower's side of replication (§5.3, §7) as pure functions over a RaftLog: they change
 * the log and say what to answer; the core wraps the answer in a message. Kept apart from the
 * role machine so the consistency check and the conflict hints can be read in one place.
 */
import { assert } from "../util/assert";
import type { RaftLog } from "./log";
import type { AppendEntries, InstallSnapshot } from "./types";

export interface AppendVerdict {
  success: boolean;
  /** Success: last index known to match the leader. Rejection: the rejected prevLogIndex. */
  matchIndex: number;
  conflictIndex: number;
  conflictTerm: number;
}

export function acceptAppendEntries(log: RaftLog, message: AppendEntries): AppendVerdict {
  if (message.prevLogIndex < log.commitIndex) {
    // Everything up to our commitIndex matches any current leader (§5.4 leader completeness).
    return { success: true, matchIndex: log.commitIndex, conflictIndex: 0, conflictTerm: 0 };
  }
  if (log.matchTerm(message.prevLogIndex, message.prevLogTerm)) {
    const lastNew = log.appendFromLeader(message.prevLogIndex, message.entries);
    // §5.3: commit up to leaderCommit, but only what this message proved we share.
    log.commitTo(Math.min(message.leaderCommit, lastNew));
    return { success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 };
  }
  // Rejected: matchIndex carries the rejected prevLogIndex so the leader can spot stale answers.
  if (message.prevLogIndex > log.lastIndex()) {
    return { success: false, matchIndex: message.prevLogIndex, conflictIndex: log.lastIndex() + 1, conflictTerm: 0 };
  }
  const conflictTerm = log.term(message.prevLogIndex);
  assert(conflictTerm !== null, "prevLogIndex >= commitIndex >= snapshotIndex has a term");
  return {
    success: false,
    matchIndex: message.prevLogIndex,
    conflictIndex: log.firstIndexOfTermAt(message.prevLogIndex),
    conflictTerm,
  };
}

export type SnapshotVerdict = "stale" | "fast-forward" | "restored";

/** §7: install the leader's snapshot unless our log already covers it. Answer log.commitIndex. */
export function acceptSnapshot(log: RaftLog, message: InstallSnapshot): SnapshotVerdict {
  const meta = message.snapshot.meta;
  // Stale or duplicate: we already have (and committed) everything it covers.
  if (meta.index <= log.commitIndex) return "stale";
  if (log.matchTerm(meta.index, meta.term)) {
    log.commitTo(meta.index);
    return "fast-forward";
  }
  log.restore(message.snapshot);
  return "restored";
}
