/**
 * The replicated queue state machine: named FIFO queues of UTF-8 strings with exactly-once
 * execution of client commands under retries. Pure and deterministic (STYLE.md §2): no clock,
 * no randomness, no I/O. Every node applies the same committed entries (LogEntry.data of kind
 * "normal", see command-codec.ts) in log order and gets the same state and the same results.
 *
 * Host contract:
 *   - apply(entry.index, entry.data) for every committed "normal" entry, in log order (noop and
 *     config entries are skipped; indexes must increase);
 *   - peek()/length() only after a ReadIndex round says lastApplied is recent enough;
 *   - snapshotChunks() at lastApplied (a frozen view: applying may go on while it is written);
 *     beginRestore() + push(chunk)... + finish() replaces the whole state (snapshot() and
 *     restore(bytes) do the same with one whole buffer, for tests);
 *   - all nodes use identical QueueLimits (snapshots carry them and refuse others).
 *
 * Sessions and time (copy this rule into ARCHITECTURE.md):
 *   - Clock. The state machine's clock is clockMs = max(proposedAtMs) over all applied commands:
 *     the leader stamps its wall clock into each command; a leader whose clock is behind cannot
 *     move it back, one whose clock is ahead moves it forward for everybody (sessions then expire
 *     early, which is safe: see below; sessions used while the clock is ahead live longer, which
 *     is safe too). There is no tick command: the clock only moves when commands are applied,
 *     so an idle cluster expires nobody (memory stays bounded by sessionsMax).
 *   - Session. A client (clientId) has a session holding its last executed seq and that command's
 *     result. Applying a command first advances the clock, then expires every session idle for
 *     more than sessionTtlMs (clockMs - lastActiveMs > sessionTtlMs), then:
 *       no session, seq == 1        -> execute; the session starts;
 *       no session, seq > 1         -> SESSION_EXPIRED (not executed, no session created);
 *       seq == session.lastSeq      -> the cached result again, not executed again (a retried
 *                                      dequeue returns the same message, never a second one);
 *       seq <  session.lastSeq      -> STALE_SEQUENCE (not executed);
 *       seq >  session.lastSeq      -> execute; cache the result.
 *     Executing and retrying refresh the session's lastActiveMs; STALE/EXPIRED answers do not.
 *     Beyond sessionsMax sessions or sessionCacheBytesMax cached dequeue bytes, the least
 *     recently used sessions are evicted (ties impossible: LRU order is replicated).
 *   - What a client sees. SESSION_EXPIRED means "this command was not executed and your earlier
 *     commands' outcomes that you did not see stay unknown": the client must take a new clientId
 *     and start again at seq 1. Client rules that make "no command executes twice" hold:
 *       1. a fresh clientId per client incarnation (16+ random hex digits);
 *       2. retry a command with the same seq, and for less than sessionTtlMs in total;
 *       3. if the outcome of seq 1 stays unknown, abandon that clientId (never send seq 2 with
 *          it): otherwise a late copy of seq 1 could open a new session after seq 2 was
 *          refused with SESSION_EXPIRED, and a late copy of seq 2 would then execute;
 *       4. a session evicted by sessionsMax (LRU) within its TTL behaves like an expired one;
 *          size sessionsMax above the number of clients active within one retry period.
 *     Retrying seq 1 past the TTL (breaking rule 2) executes it again: tested and documented.
 *   - Undecodable entries yield BAD_REQUEST and change nothing but lastApplied.
 */
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { utf8ByteLength } from "./bytes";
import { type ApplyCommand, decodeForApply, validateQueueName } from "./command-codec";
import { Fifo } from "./fifo";
import { QueueLimits } from "./limits";
import { emptyQueueState, freezeQueueState, QueueState } from "./queue-state";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-codec";
import { SnapshotDecoder } from "./snapshot-decoder";
import { encodeSnapshotChunks, snapshotTotalBytes } from "./snapshot-encoder";
import { ApplyResult, PeekResult } from "./types";

const EMPTY: ApplyResult = Object.freeze({ ok: false, error: "EMPTY" });
const STALE_SEQUENCE: ApplyResult = Object.freeze({ ok: false, error: "STALE_SEQUENCE" });
const SESSION_EXPIRED: ApplyResult = Object.freeze({ ok: false, error: "SESSION_EXPIRED" });
const BAD_REQUEST: ApplyResult = Object.freeze({ ok: false, error: "BAD_REQUEST" });
const QUEUE_FULL: ApplyResult = Object.freeze({ ok: false, error: "QUEUE_FULL" });
const VALUE_TOO_LARGE: ApplyResult = Object.freeze({ ok: false, error: "VALUE_TOO_LARGE" });
const PEEK_EMPTY: PeekResult = Object.freeze({ ok: false, error: "EMPTY" });

export interface QueueStats {
  lastApplied: number;
  clockMs: number;
  queueCount: number;
  messageCount: number;
  valueBytesTotal: number;
  sessionCount: number;
  sessionCachedBytes: number;
}

export class QueueStateMachine {
  private state: QueueState = emptyQueueState();

  constructor(readonly limits: QueueLimits) {}

  get lastApplied(): number {
    return this.state.lastApplied;
  }

  get clockMs(): number {
    return this.state.clockMs;
  }

  /**
   * The result cached for (clientId, seq) if that is the client's last applied command, else
   * null. Read-only: a leader answers a retry of an applied command from here without logging it
   * again (the result of an applied command never changes, so no ReadIndex round is needed).
   */
  cachedResult(clientId: string, seq: number): ApplyResult | null {
    const session = this.state.sessions.get(clientId);
    return session !== undefined && session.lastSeq === seq ? session.result : null;
  }

  /** Applies the committed entry at `entryIndex` holding command bytes `data`. */
  apply(entryIndex: number, data: Uint8Array): ApplyResult {
    assert(Number.isSafeInteger(entryIndex), "entry index is a safe integer");
    assert(entryIndex > this.state.lastApplied, "entries are applied in increasing index order");
    this.state.lastApplied = entryIndex;
    const command = decodeForApply(data);
    if (command === null) return BAD_REQUEST;
    this.advanceClock(command.proposedAtMs);
    const sessions = this.state.sessions;
    const session = sessions.get(command.clientId);
    if (session === undefined) {
      if (command.seq !== 1) return SESSION_EXPIRED;
    } else if (command.seq === session.lastSeq) {
      sessions.touch(session, this.state.clockMs);
      return session.result;
    } else if (command.seq < session.lastSeq) {
      return STALE_SEQUENCE;
    }
    const [result, resultValueBytes] = command.op === "enqueue" ? [this.enqueue(command, entryIndex), 0] : this.dequeue(command);
    sessions.record(command.clientId, command.seq, result, resultValueBytes, this.state.clockMs);
    sessions.evict(this.limits.sessionsMax, this.limits.sessionCacheBytesMax, command.clientId);
    return result;
  }

  private advanceClock(proposedAtMs: number): void {
    if (proposedAtMs > this.state.clockMs) this.state.clockMs = proposedAtMs;
    this.state.sessions.expire(this.state.clockMs, this.limits.sessionTtlMs);
  }

  private enqueue(command: ApplyCommand, entryIndex: number): ApplyResult {
    const valueBytes = command.value.length;
    const limits = this.limits;
    const state = this.state;
    // Checked again here although the leader checked it: a follower must not trust the leader's
    // configuration, and the result must be the same on every node.
    if (valueBytes > limits.valueBytesMax) return VALUE_TOO_LARGE;
    if (state.messageCount + 1 > limits.messagesMax) return QUEUE_FULL;
    if (state.valueBytesTotal + valueBytes > limits.valueBytesTotalMax) return QUEUE_FULL;
    let fifo = state.queues.get(command.queue);
    if (fifo === undefined) {
      if (state.queues.size + 1 > limits.queuesMax) return QUEUE_FULL;
      fifo = new Fifo();
      state.queues.set(command.queue, fifo);
    }
    fifo.pushUtf8(command.value, entryIndex);
    state.messageCount += 1;
    state.valueBytesTotal += valueBytes;
    return { ok: true, op: "enqueue", index: entryIndex };
  }

  private dequeue(command: ApplyCommand): [ApplyResult, number] {
    const state = this.state;
    const fifo = state.queues.get(command.queue);
    if (fifo === undefined) return [EMPTY, 0];
    const value = fifo.peekValue();
    const index = fifo.peekIndex();
    const valueBytes = fifo.peekValueBytes();
    fifo.drop();
    if (fifo.count === 0) state.queues.delete(command.queue);
    state.messageCount -= 1;
    state.valueBytesTotal -= valueBytes;
    return [{ ok: true, op: "dequeue", index, value }, valueBytes];
  }

  /** The oldest message of `queue` without taking it; throws BAD_REQUEST on an invalid name. */
  peek(queue: string): PeekResult {
    this.checkQueueName(queue);
    const fifo = this.state.queues.get(queue);
    return fifo === undefined ? PEEK_EMPTY : { ok: true, value: fifo.peekValue() };
  }

  /** Names and lengths of at most `max` non-empty queues (for metrics and the admin endpoint). */
  queueLengths(max: number): Array<{ queue: string; length: number }> {
    const out: Array<{ queue: string; length: number }> = [];
    for (const [queue, fifo] of this.state.queues) {
      if (out.length >= max) break;
      out.push({ queue, length: fifo.count });
    }
    return out;
  }

  /** Number of messages in `queue`; throws BAD_REQUEST on an invalid name. */
  length(queue: string): number {
    this.checkQueueName(queue);
    return this.state.queues.get(queue)?.count ?? 0;
  }

  private checkQueueName(queue: string): void {
    const error: RaftmqError | null = validateQueueName(queue);
    if (error !== null) throw error;
  }

  stats(): QueueStats {
    const state = this.state;
    return {
      lastApplied: state.lastApplied,
      clockMs: state.clockMs,
      queueCount: state.queues.size,
      messageCount: state.messageCount,
      valueBytesTotal: state.valueBytesTotal,
      sessionCount: state.sessions.size,
      sessionCachedBytes: state.sessions.cachedValueBytes,
    };
  }

  /**
   * The whole state at lastApplied as a snapshot of `totalBytes`, produced chunk by chunk (at
   * most chunkBytes each) by `chunks`. The state is frozen when this is called
   * (freezeQueueState): applying and restoring may go on while the chunks are taken, and the
   * snapshot still says exactly what the state was at that lastApplied.
   */
  snapshotChunks(chunkBytes: number, options: { reuseChunks?: boolean } = {}): { totalBytes: number; chunks: Generator<Uint8Array, void, undefined> } {
    const view = freezeQueueState(this.state);
    return { totalBytes: snapshotTotalBytes(view), chunks: encodeSnapshotChunks(view, this.limits, chunkBytes, options.reuseChunks === true) };
  }

  /** Deterministic bytes of the whole state at lastApplied (whole buffer: tests, small states). */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state, this.limits);
  }

  /**
   * Restores from a snapshot pushed in pieces: push() each chunk, then finish() replaces the
   * whole state. Any error (SNAPSHOT_CORRUPT, CONFIG_INVALID) leaves the current state untouched.
   */
  beginRestore(): { push(chunk: Uint8Array): void; finish(): void } {
    const decoder = new SnapshotDecoder(this.limits);
    return {
      push: (chunk) => decoder.push(chunk),
      finish: () => {
        this.state = decoder.finish();
        this.checkInvariants();
      },
    };
  }

  /**
   * Replaces the whole state with a snapshot's. Throws SNAPSHOT_CORRUPT (bad bytes) or
   * CONFIG_INVALID (other limits) and then leaves the current state untouched.
   */
  restore(bytes: Uint8Array): void {
    const state = decodeSnapshot(bytes, this.limits);
    this.state = state;
    this.checkInvariants();
  }

  /** Asserts every invariant of the state; O(total size), meant for tests and the simulator. */
  checkInvariants(): void {
    const { state, limits } = this;
    assert(Number.isSafeInteger(state.lastApplied), "lastApplied is a safe integer");
    assert(state.lastApplied >= 0, "lastApplied is not negative");
    assert(Number.isSafeInteger(state.clockMs), "clockMs is a safe integer");
    assert(state.clockMs >= 0, "clockMs is not negative");
    assert(state.queues.size <= limits.queuesMax, "queue count within queuesMax");
    let messageCount = 0;
    let valueBytesTotal = 0;
    for (const [name, fifo] of state.queues) {
      assert(validateQueueName(name) === null, "stored queue names are valid");
      assert(fifo.count > 0, "empty queues are deleted");
      let fifoCount = 0;
      let fifoBytes = 0;
      let previousIndex = 0;
      fifo.forEach((value, valueBytes, index) => {
        assert(utf8ByteLength(value) === valueBytes, "stored byte length matches the value");
        assert(valueBytes <= limits.valueBytesMax, "stored value within valueBytesMax");
        assert(index > previousIndex, "message indexes increase in FIFO order");
        assert(index <= state.lastApplied, "messages were enqueued by applied entries");
        previousIndex = index;
        fifoCount += 1;
        fifoBytes += valueBytes;
      });
      assert(fifoCount === fifo.count, "fifo count matches its contents");
      assert(fifoBytes === fifo.valueBytes, "fifo byte count matches its contents");
      messageCount += fifoCount;
      valueBytesTotal += fifoBytes;
    }
    assert(messageCount === state.messageCount, "messageCount matches the queues");
    assert(valueBytesTotal === state.valueBytesTotal, "valueBytesTotal matches the queues");
    assert(messageCount <= limits.messagesMax, "messages within messagesMax");
    assert(valueBytesTotal <= limits.valueBytesTotalMax, "value bytes within valueBytesTotalMax");
    this.checkSessionInvariants();
  }

  private checkSessionInvariants(): void {
    const { state, limits } = this;
    const sessions = state.sessions;
    assert(sessions.size <= limits.sessionsMax, "sessions within sessionsMax");
    let previousActiveMs = 0;
    let cachedBytes = 0;
    for (const session of sessions.values()) {
      assert(session.lastSeq >= 1, "a session has executed a command");
      assert(session.lastActiveMs >= previousActiveMs, "sessions are in LRU order");
      assert(session.lastActiveMs <= state.clockMs, "sessions are not active in the future");
      assert(state.clockMs - session.lastActiveMs <= limits.sessionTtlMs, "expired sessions are gone");
      const result = session.result;
      const expectedBytes = result.ok && result.op === "dequeue" ? utf8ByteLength(result.value) : 0;
      assert(session.resultValueBytes === expectedBytes, "cached byte count matches the cached result");
      previousActiveMs = session.lastActiveMs;
      cachedBytes += session.resultValueBytes;
    }
    assert(cachedBytes === sessions.cachedValueBytes, "cached byte total matches the sessions");
    assert(cachedBytes <= limits.sessionCacheBytesMax, "cached bytes within sessionCacheBytesMax");
  }
}
