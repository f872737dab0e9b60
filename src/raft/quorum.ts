/**
 * Quorum math over a set of voters (single-server changes: only ever one voter set at a time).
 *
 * Contract: majority(n) = floor(n/2) + 1; committedIndex returns the largest index held by a
 * majority of voters (0 if there are no voters); voteResult tallies grants and rejections.
 */
import { assert } from "../util/assert";
import type { NodeId } from "./types";

export function majority(voterCount: number): number {
  assert(Number.isSafeInteger(voterCount) && voterCount >= 0, "voter count must be a non-negative integer");
  return Math.floor(voterCount / 2) + 1;
}

/** Reused by committedIndex: it runs for every ack and every leader write. */
const matchScratch: number[] = [];

/**
 * The largest index that a majority of `voters` have matched (match of unknown voters is 0).
 * Insertion sort into a reused array: `map().sort()` allocated about 1.7 KB per call (V8's sort
 * copies into work arrays), a tenth of the leader's bytes per op at c1 (bench/README.md, session 9).
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (node: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  const sorted = matchScratch;
  for (let i = 0; i < n; i++) {
    // Descending: shift the smaller ones right, put this one in its place.
    const match = matchOf(voters[i]!);
    let j = i;
    while (j > 0 && sorted[j - 1]! < match) {
      sorted[j] = sorted[j - 1]!;
      j--;
    }
    sorted[j] = match;
  }
  return sorted[majority(n) - 1]!;
}

export type VoteResult = "won" | "lost" | "pending";

export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return "lost";
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return "won";
  if (voters.length - rejected < needed) return "lost";
  return "pending";
}

/** True when the members of `acks` that are voters form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acks: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const voter of voters) if (acks.has(voter)) count++;
  return voters.length > 0 && count >= majority(voters.length);
}
