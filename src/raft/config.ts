/**
 * RaftConfig: the core's tunables, validated when built (STYLE.md §6).
 *
 * Contract: validateRaftConfig(raw) returns a complete, frozen config or throws RaftmqError
 * CONFIG_INVALID naming the offending option; unknown options are rejected so a renamed option
 * never silently falls back to its default. Time is in ticks; the runtime maps ticks to ms.
 */
import { RaftmqError } from "../util/errors";
import { DEFAULT_BLOCK_ENTRIES } from "./packed-entries";
import type { NodeId } from "./types";

export interface RaftConfig {
  readonly id: NodeId;
  /** A follower campaigns after a random timeout in [electionTicks + 1, 2 * electionTicks - 1] (core-base.ts). */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  readonly heartbeatTicks: number;
  /** Max AppendEntries in flight to one follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Max entries in one AppendEntries. */
  readonly maxEntriesPerMsg: number;
  /** Max summed entry data bytes in one AppendEntries (one entry is always allowed). */
  readonly maxBytesPerMsg: number;
  /** A leader that has not heard from a majority within an election timeout steps down. */
  readonly checkQuorum: boolean;
  /** Thesis §9.6: a pre-vote round before bumping the term. */
  readonly preVote: boolean;
  /** Proposals refused (too-many-pending) while this many entries are uncommitted. */
  readonly maxUncommittedEntries: number;
  /** Reads refused (too-many-pending) while this many ReadIndex requests are outstanding. */
  readonly maxPendingReads: number;
  /** A learner is promoted once its matchIndex >= leader lastIndex - promoteLagEntries. */
  readonly promoteLagEntries: number;
  /** Promote caught-up learners automatically (the leader proposes "promote"). */
  readonly autoPromote: boolean;
  /** Applied, durable log entries are kept packed in blocks of this many (src/raft/packed-entries.ts). */
  readonly logBlockEntries: number;
}

export type RaftConfigInput = Partial<RaftConfig> & { id: NodeId };

export const raftConfigDefaults: Omit<RaftConfig, "id"> = Object.freeze({
  electionTicks: 10,
  heartbeatTicks: 1,
  maxInflightMsgs: 64,
  maxEntriesPerMsg: 256,
  maxBytesPerMsg: 1024 * 1024,
  checkQuorum: true,
  preVote: true,
  maxUncommittedEntries: 10_000,
  maxPendingReads: 10_000,
  promoteLagEntries: 16,
  autoPromote: true,
  logBlockEntries: DEFAULT_BLOCK_ENTRIES,
});

/**
 * Ticks after the leader's last message during which a follower ignores (pre)vote requests
 * (leader stickiness, core-base.ts inLease): two ticks less than electionTicks, so that when a
 * peer campaigns at the earliest (electionTicks + 1 ticks of silence by its clock), a follower
 * whose count of the same silence lags by up to three ticks has left it; but always longer than
 * a heartbeat interval (else followers would fall out of it between heartbeats).
 */
export function leaseTicks(config: Pick<RaftConfig, "electionTicks" | "heartbeatTicks">): number {
  return Math.min(config.electionTicks, Math.max(config.heartbeatTicks + 1, config.electionTicks - 2));
}

const knownKeys = new Set<string>(["id", ...Object.keys(raftConfigDefaults)]);

function invalid(option: string, why: string): never {
  throw new RaftmqError("CONFIG_INVALID", `raft config: ${option} ${why}`, { details: { option } });
}

function positiveInt(config: RaftConfig, key: keyof RaftConfig): void {
  const value = config[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    invalid(key, "must be a positive integer");
  }
}

export function validateRaftConfig(raw: RaftConfigInput): RaftConfig {
  for (const key of Object.keys(raw)) {
    if (!knownKeys.has(key)) invalid(key, "is not a known option");
  }
  const config: RaftConfig = { ...raftConfigDefaults, ...raw };
  if (typeof config.id !== "string" || config.id.length === 0) invalid("id", "must be a non-empty string");
  for (const key of [
    "electionTicks",
    "heartbeatTicks",
    "maxInflightMsgs",
    "maxEntriesPerMsg",
    "maxBytesPerMsg",
    "maxUncommittedEntries",
    "maxPendingReads",
    "logBlockEntries",
  ] as const) {
    positiveInt(config, key);
  }
  if (!Number.isSafeInteger(config.promoteLagEntries) || config.promoteLagEntries < 0) {
    invalid("promoteLagEntries", "must be a non-negative integer");
  }
  if (config.heartbeatTicks >= config.electionTicks) invalid("heartbeatTicks", "must be < electionTicks");
  if (typeof config.checkQuorum !== "boolean") invalid("checkQuorum", "must be a boolean");
  if (typeof config.preVote !== "boolean") invalid("preVote", "must be a boolean");
  if (typeof config.autoPromote !== "boolean") invalid("autoPromote", "must be a boolean");
  return Object.freeze(config);
}
