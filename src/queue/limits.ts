/**
 * Limits of the queue state machine (STYLE.md §6: a limit on everything).
 *
 * Contract: the limits are part of the replicated state machine's definition. Every node of a
 * cluster MUST run with identical limits, because they decide apply results (QUEUE_FULL,
 * VALUE_TOO_LARGE, which session is evicted). Snapshots record the limits and restoring a snapshot
 * taken under different limits fails with CONFIG_INVALID rather than silently diverging.
 *
 * makeQueueLimits() validates a configuration when it is built: unknown keys, non-integers and
 * impossible combinations throw RaftmqError CONFIG_INVALID.
 */
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";

export interface QueueLimits {
  /** Largest value accepted, in UTF-8 bytes (checked when proposing and again when applying). */
  readonly valueBytesMax: number;
  /** Most non-empty named queues at once (an empty queue does not exist). */
  readonly queuesMax: number;
  /** Most messages across all queues. */
  readonly messagesMax: number;
  /** Most value bytes (UTF-8) across all queues. */
  readonly valueBytesTotalMax: number;
  /** Most client sessions kept; beyond it the least recently used one is evicted. */
  readonly sessionsMax: number;
  /** Most value bytes held by cached dequeue results of sessions; LRU eviction beyond it. */
  readonly sessionCacheBytesMax: number;
  /** A session idle for longer than this (by the replicated clock, see sessions.ts) expires. */
  readonly sessionTtlMs: number;
}

/** Hard cap of the command codec; any configured valueBytesMax must be at most this. */
export const VALUE_BYTES_LIMIT = 16 * 1024 * 1024;
/** Queue names: 1..64 bytes of [A-Za-z0-9._-]. */
export const QUEUE_NAME_BYTES_MAX = 64;
/** Client ids: 1..64 bytes of printable ASCII without space (0x21..0x7e). */
export const CLIENT_ID_BYTES_MAX = 64;
export const DEFAULT_QUEUE_NAME = "default";
/** Upper bound for counts and byte totals, so that every snapshot length fits in a u32. */
const TOTAL_LIMIT = 1024 * 1024 * 1024;

export const defaultQueueLimits: QueueLimits = Object.freeze({
  valueBytesMax: 64 * 1024,
  queuesMax: 1024,
  messagesMax: 2_000_000,
  valueBytesTotalMax: 256 * 1024 * 1024,
  sessionsMax: 10_000,
  sessionCacheBytesMax: 64 * 1024 * 1024,
  sessionTtlMs: 10 * 60 * 1000,
});

const LIMIT_KEYS: readonly (keyof QueueLimits)[] = [
  "valueBytesMax",
  "queuesMax",
  "messagesMax",
  "valueBytesTotalMax",
  "sessionsMax",
  "sessionCacheBytesMax",
  "sessionTtlMs",
];

/** The order in which snapshots record the limits. */
export function limitKeys(): readonly (keyof QueueLimits)[] {
  return LIMIT_KEYS;
}

function invalid(message: string, details: Record<string, unknown>): RaftmqError {
  return new RaftmqError("CONFIG_INVALID", message, { details });
}

/** Defaults overridden by `overrides`; throws CONFIG_INVALID on unknown keys or bad values. */
export function makeQueueLimits(overrides: Readonly<Record<string, unknown>> = {}): QueueLimits {
  for (const key of Object.keys(overrides)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) throw invalid(`unknown queue limit ${key}`, { key });
  }
  const limits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) {
    const value = overrides[key] ?? defaultQueueLimits[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > TOTAL_LIMIT) {
      throw invalid(`queue limit ${key} must be an integer in [1, ${TOTAL_LIMIT}]`, { key, value });
    }
    limits[key] = value;
  }
  const result = limits as unknown as QueueLimits;
  if (result.valueBytesMax > VALUE_BYTES_LIMIT) {
    throw invalid(`valueBytesMax must be <= ${VALUE_BYTES_LIMIT}`, { valueBytesMax: result.valueBytesMax });
  }
  // One value must always fit, or the limit would reject everything.
  if (result.valueBytesMax > result.valueBytesTotalMax) {
    throw invalid("valueBytesMax must be <= valueBytesTotalMax", { ...result });
  }
  // The session that just dequeued must fit in the cache on its own (sessions.ts relies on it).
  if (result.valueBytesMax > result.sessionCacheBytesMax) {
    throw invalid("valueBytesMax must be <= sessionCacheBytesMax", { ...result });
  }
  return Object.freeze(result);
}

// Relations between constants, checked at module load (STYLE.md §4): the defaults must pass
// their own validation, and the codec's hard cap must fit the u32 length fields.
assert(makeQueueLimits() !== null, "default queue limits are valid");
assert(VALUE_BYTES_LIMIT < 0x100000000, "VALUE_BYTES_LIMIT fits a u32 length");
assert(QUEUE_NAME_BYTES_MAX <= 0xff, "queue name length fits a u8");
assert(CLIENT_ID_BYTES_MAX <= 0xff, "clientId length fits a u8");
