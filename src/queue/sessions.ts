/**
 * Client sessions: exactly-once execution under retries (Raft thesis §6.3).
 *
 * Each session remembers, for one clientId, the last seq executed and its result. The table is a
 * Map whose iteration order is least recently used first; "use" stamps the session with the
 * replicated clock, so lastActiveMs never decreases along the iteration order, which lets expiry
 * and eviction pop from the front in O(1) each.
 *
 * Contract: all changes are driven by the state machine from applied entries only, with the
 * replicated clock as `nowMs`; identical calls give identical tables on every node.
 * Bounds: at most limits.sessionsMax sessions and limits.sessionCacheBytesMax bytes of cached
 * dequeue values; beyond either, the least recently used sessions are evicted (never the one
 * being recorded; limits.ts guarantees one value always fits).
 */
import { assert } from "../util/assert";
import { ApplyResult } from "./types";

export interface Session {
  readonly clientId: string;
  /** Invariant: >= 1; the last seq executed for this client. */
  lastSeq: number;
  /** Invariant: the replicated clock when the session was last used; <= the table's clock. */
  lastActiveMs: number;
  /** The result of executing lastSeq, returned again to a retry. */
  result: ApplyResult;
  /** UTF-8 bytes of the value held by `result` (a dequeued message), else 0. */
  resultValueBytes: number;
}

export class SessionTable {
  /** Invariant: iteration order is LRU first; lastActiveMs is non-decreasing along it. */
  private readonly byClient = new Map<string, Session>();
  /** Invariant: sum of resultValueBytes over all sessions. */
  private cachedBytes = 0;

  get size(): number {
    return this.byClient.size;
  }

  get cachedValueBytes(): number {
    return this.cachedBytes;
  }

  get(clientId: string): Session | undefined {
    return this.byClient.get(clientId);
  }

  /** Marks `session` used at `nowMs`: it becomes the most recently used. */
  touch(session: Session, nowMs: number): void {
    assert(nowMs >= session.lastActiveMs, "the replicated clock never goes back");
    this.byClient.delete(session.clientId);
    session.lastActiveMs = nowMs;
    this.byClient.set(session.clientId, session);
  }

  /** Records that `clientId` executed `seq` with `result` at `nowMs` (creating the session). */
  record(clientId: string, seq: number, result: ApplyResult, resultValueBytes: number, nowMs: number): void {
    const existing = this.byClient.get(clientId);
    if (existing === undefined) {
      assert(seq === 1, "a session starts at seq 1");
      const session: Session = { clientId, lastSeq: seq, lastActiveMs: nowMs, result, resultValueBytes };
      this.byClient.set(clientId, session);
    } else {
      assert(seq > existing.lastSeq, "seq increases within a session");
      this.cachedBytes -= existing.resultValueBytes;
      existing.lastSeq = seq;
      existing.result = result;
      existing.resultValueBytes = resultValueBytes;
      this.touch(existing, nowMs);
    }
    this.cachedBytes += resultValueBytes;
  }

  /** Appends a session read from a snapshot; callers append in LRU order. */
  restore(session: Session): void {
    assert(!this.byClient.has(session.clientId), "restored client ids are unique");
    this.byClient.set(session.clientId, session);
    this.cachedBytes += session.resultValueBytes;
  }

  /** Drops every session idle for more than `ttlMs` at `nowMs`; returns how many. */
  expire(nowMs: number, ttlMs: number): number {
    let expiredCount = 0;
    for (const session of this.byClient.values()) {
      if (nowMs - session.lastActiveMs <= ttlMs) break; // LRU order: the rest are younger
      this.remove(session);
      expiredCount += 1;
    }
    return expiredCount;
  }

  /** Evicts least recently used sessions until both bounds hold, sparing `keepClientId`. */
  evict(sessionsMax: number, cachedBytesMax: number, keepClientId: string): number {
    let evictedCount = 0;
    for (const session of this.byClient.values()) {
      if (this.byClient.size <= sessionsMax && this.cachedBytes <= cachedBytesMax) break;
      assert(session.clientId !== keepClientId, "the session just used fits within the limits alone");
      this.remove(session);
      evictedCount += 1;
    }
    return evictedCount;
  }

  private remove(session: Session): void {
    this.byClient.delete(session.clientId);
    this.cachedBytes -= session.resultValueBytes;
  }

  /** Sessions, least recently used first. */
  values(): IterableIterator<Session> {
    return this.byClient.values();
  }
}
