/**
 * Streaming decoder of queue snapshots (format in snapshot-format.ts): push(chunk) any number of
 * times with the snapshot's bytes split anywhere, then finish() returns the decoded state.
 *
 * Contract: it accepts exactly what a whole-buffer decode would accept and builds a fresh state
 * (the caller's is untouched until it swaps the result in). Every length is checked before it
 * is used; a field past totalBytes, trailing bytes, a bad checksum or any broken state invariant
 * throws RaftmqError SNAPSHOT_CORRUPT (offset in details); other limits than ours throw
 * CONFIG_INVALID, but only once the checksum proved the limits were not damaged. The checksum
 * is checked at the end, so a damaged snapshot may fail on a field first (still SNAPSHOT_CORRUPT).
 *
 * Memory: besides the state being built, the unconsumed tail of the chunks pushed so far, which
 * is less than one field (a value is at most valueBytesMax).
 *
 * The parser is a generator that yields how many bytes it needs next and receives exactly those
 * bytes, so it reads like a whole-buffer parser while the input arrives in pieces.
 */
import { isUtf8 } from "node:buffer";
import { assert } from "../util/assert";
import { crc32 } from "../util/crc32";
import { RaftmqError } from "../util/errors";
import { SAFE_HIGH_MAX, TWO_POW_32, u32At } from "./bytes";
import { validateClientId, validateQueueName } from "./command-codec";
import { CRC32C_START, crc32cFinish, crc32cUpdate } from "./crc32c";
import { Fifo } from "./fifo";
import { limitKeys, type QueueLimits } from "./limits";
import { emptyQueueState, type QueueState } from "./queue-state";
import {
  CACHED_ERRORS,
  SNAPSHOT_CHECKSUM_BYTES,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_FORMAT_VERSION_CRC32C,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_MAGIC,
  TAG_DEQUEUE,
  TAG_ENQUEUE,
  TAG_ERROR,
} from "./snapshot-format";
import type { ApplyResult } from "./types";

/** Bytes skipped per step when the limits differ and only the checksum is still read. */
const SKIP_BYTES = 64 * 1024;
// fatal: reject invalid UTF-8; ignoreBOM: keep a leading U+FEFF as part of the value.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

type Parser = Generator<number, QueueState, Uint8Array>;

interface Checksum {
  start: number;
  /** The checksum continued over bytes[from, to). */
  update(crc: number, bytes: Uint8Array, from: number, to: number): number;
  finish(crc: number): number;
}

const crc32Checksum: Checksum = {
  start: 0,
  update: (crc, bytes, from, to) => crc32(bytes, from, to, crc),
  finish: (crc) => crc,
};

const crc32cChecksum: Checksum = {
  start: CRC32C_START,
  update: crc32cUpdate,
  finish: crc32cFinish,
};

/** The checksum of a format version (snapshot-format.ts), or null for a version we cannot read. */
function checksumOf(version: number): Checksum | null {
  if (version === SNAPSHOT_FORMAT_VERSION) return crc32Checksum;
  if (version === SNAPSHOT_FORMAT_VERSION_CRC32C) return crc32cChecksum;
  return null;
}

export class SnapshotDecoder {
  private readonly parser: Parser;
  /** Bytes the parser waits for. */
  private want: number;
  private readonly pending: Uint8Array[] = [];
  private pendingAt = 0;
  private available = 0;
  private consumed = 0;
  /**
   * The checksum, and which one (null until the header says: see checksumOf). It is computed a
   * whole input chunk at a time, once the chunk is consumed (hashConsumed), not field by field:
   * zlib's CRC-32 costs a call into C++ each time. checkedTo is the offset it covers up to.
   */
  private crc = 0;
  private sum: Checksum | null = null;
  private checkedTo = 0;
  /** Offset of pending[0][0] in the snapshot. */
  private pendingStart = 0;
  /** Offset of the checksum field (known once the header is read). */
  private bodyEnd = Number.POSITIVE_INFINITY;
  private readingChecksum = false;
  private result: QueueState | null = null;
  private failure: unknown = null;

  constructor(private readonly limits: QueueLimits) {
    this.parser = this.parse();
    const first = this.parser.next();
    assert(first.done !== true, "the parser asks for the header first");
    this.want = first.value;
  }

  /** Bytes pushed and not yet consumed (for tests: stays below one chunk plus one field). */
  get bytesBuffered(): number {
    return this.available;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== null) throw this.failure;
    try {
      if (this.result !== null && chunk.length > 0) this.fail("trailing bytes", { trailingBytes: chunk.length });
      this.pending.push(chunk);
      this.available += chunk.length;
      this.run();
    } catch (error) {
      this.failure = error;
      throw error;
    }
  }

  /** The decoded state; throws SNAPSHOT_CORRUPT when the bytes ended early. */
  finish(): QueueState {
    if (this.failure !== null) throw this.failure;
    if (this.result === null) this.fail("truncated snapshot", { needBytes: this.want, haveBytes: this.available });
    return this.result;
  }

  private run(): void {
    while (this.result === null && this.available >= this.want) {
      const bytes = this.take(this.want);
      const step = this.parser.next(bytes);
      if (step.done === true) {
        this.result = step.value;
        break;
      }
      this.want = step.value;
      if (!this.readingChecksum && this.consumed + this.want > this.bodyEnd) {
        this.fail("field runs past totalBytes", { needBytes: this.want, bodyEnd: this.bodyEnd });
      }
    }
    if (this.result !== null && this.available > 0) this.fail("trailing bytes", { trailingBytes: this.available });
  }

  /** Exactly `byteCount` bytes from the pending chunks (a view when they lie in one chunk). */
  private take(byteCount: number): Uint8Array {
    let out: Uint8Array;
    const head = this.pending[0];
    if (byteCount === 0) {
      out = new Uint8Array(0);
    } else if (head !== undefined && head.length - this.pendingAt >= byteCount) {
      out = head.subarray(this.pendingAt, this.pendingAt + byteCount);
      this.advance(byteCount);
    } else {
      out = new Uint8Array(byteCount);
      let filled = 0;
      while (filled < byteCount) {
        const chunk = this.pending[0]!;
        const part = Math.min(byteCount - filled, chunk.length - this.pendingAt);
        out.set(chunk.subarray(this.pendingAt, this.pendingAt + part), filled);
        filled += part;
        this.advance(part);
      }
    }
    this.consumed += byteCount;
    this.available -= byteCount;
    return out;
  }

  private advance(byteCount: number): void {
    this.pendingAt += byteCount;
    const head = this.pending[0]!;
    if (this.pendingAt === head.length) {
      this.hashConsumed(head, this.pendingStart + head.length);
      this.pendingStart += head.length;
      this.pending.shift();
      this.pendingAt = 0;
    }
  }

  /**
   * Extends the checksum over the bytes of `chunk` (pending[0], starting at pendingStart) up to
   * offset `to`, never past the body (the stored checksum is not part of it). Before the header
   * is read there is no checksum yet: parse() covers the header's bytes itself.
   */
  private hashConsumed(chunk: Uint8Array, to: number): void {
    if (this.sum === null) return;
    const end = Math.min(to, this.bodyEnd);
    if (end <= this.checkedTo) return;
    this.crc = this.sum.update(this.crc, chunk, this.checkedTo - this.pendingStart, end - this.pendingStart);
    this.checkedTo = end;
  }

  private fail(message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
    throw new RaftmqError("SNAPSHOT_CORRUPT", `queue snapshot: ${message}`, { cause, details: { ...details, offset: this.consumed } });
  }

  private u64(bytes: Uint8Array, at: number, field: string): number {
    const high = u32At(bytes, at);
    if (high > SAFE_HIGH_MAX) this.fail(`${field} exceeds 2^53-1`, { field });
    return high * TWO_POW_32 + u32At(bytes, at + 4);
  }

  private utf8(bytes: Uint8Array, field: string): string {
    try {
      return utf8Decoder.decode(bytes);
    } catch (cause) {
      // TextDecoder with fatal: true throws TypeError on invalid UTF-8: convert to a typed error.
      return this.fail(`${field} is not valid UTF-8`, { field }, cause);
    }
  }

  private *parse(): Parser {
    const head = yield SNAPSHOT_HEADER_BYTES;
    if (u32At(head, 0) !== SNAPSHOT_MAGIC) this.fail("bad magic");
    const version = (head[4]! << 8) | head[5]!;
    const sum = checksumOf(version);
    if (sum === null) this.fail("unknown version", { version });
    // The header was taken before its version was known: it is checksummed now, from its copy;
    // the chunks it came from were all consumed, or are checksummed from its end on.
    this.sum = sum;
    this.crc = sum.update(sum.start, head, 0, SNAPSHOT_HEADER_BYTES);
    this.checkedTo = SNAPSHOT_HEADER_BYTES;
    if (((head[6]! << 8) | head[7]!) !== 0) this.fail("unknown flags");
    const totalBytes = u32At(head, 8);
    if (totalBytes < SNAPSHOT_HEADER_BYTES + SNAPSHOT_CHECKSUM_BYTES) this.fail("length field too small", { totalBytes });
    this.bodyEnd = totalBytes - SNAPSHOT_CHECKSUM_BYTES;
    const keys = limitKeys();
    const recorded = yield keys.length * 8;
    let mismatch: RaftmqError | null = null;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      const value = this.u64(recorded, k * 8, `limit ${key}`);
      if (mismatch === null && value !== this.limits[key]) {
        mismatch = new RaftmqError("CONFIG_INVALID", `snapshot taken with ${key}=${value}, this node has ${this.limits[key]}`, {
          details: { key, recorded: value, configured: this.limits[key] },
        });
      }
    }
    if (mismatch !== null) {
      // Other limits: believe them only if the checksum says the bytes are intact.
      while (this.consumed < this.bodyEnd) yield Math.min(SKIP_BYTES, this.bodyEnd - this.consumed);
      yield* this.checksum();
      throw mismatch;
    }
    const state = emptyQueueState();
    const clocks = yield 16;
    state.lastApplied = this.u64(clocks, 0, "lastApplied");
    state.clockMs = this.u64(clocks, 8, "clockMs");
    yield* this.readQueues(state);
    yield* this.readSessions(state);
    if (this.consumed !== this.bodyEnd) this.fail("trailing bytes", { remaining: this.bodyEnd - this.consumed });
    yield* this.checksum();
    return state;
  }

  private *checksum(): Generator<number, void, Uint8Array> {
    this.readingChecksum = true;
    const current = this.pending[0];
    if (current !== undefined) this.hashConsumed(current, this.pendingStart + this.pendingAt);
    assert(this.checkedTo === this.bodyEnd, "the checksum covers the whole body");
    const expected = this.sum!.finish(this.crc);
    const stored = yield SNAPSHOT_CHECKSUM_BYTES;
    if (u32At(stored, 0) !== expected) this.fail("checksum mismatch");
  }

  private *readName(field: string, validate: (name: string) => RaftmqError | null): Generator<number, string, Uint8Array> {
    const length = yield 1;
    const name = this.utf8(yield length[0]!, field);
    const error = validate(name);
    if (error !== null) this.fail(`invalid ${field}`, { [field]: name }, error);
    return name;
  }

  private *readQueues(state: QueueState): Generator<number, void, Uint8Array> {
    const limits = this.limits;
    const queueCount = u32At(yield 4, 0);
    if (queueCount > limits.queuesMax) this.fail("too many queues", { queueCount });
    let previousName = "";
    for (let q = 0; q < queueCount; q++) {
      const name = yield* this.readName("queue", validateQueueName);
      if (!(name > previousName)) this.fail("queue names not strictly ascending", { queue: name });
      previousName = name;
      const counts = yield 12;
      const messageCount = u32At(counts, 0);
      if (messageCount < 1) this.fail("empty queue stored", { queue: name });
      if (state.messageCount + messageCount > limits.messagesMax) this.fail("too many messages");
      const valueBytesRecorded = this.u64(counts, 4, "queue valueBytes");
      const fifo = new Fifo();
      let previousIndex = 0;
      for (let m = 0; m < messageCount; m++) {
        const fields = yield 12;
        const index = this.u64(fields, 0, "message index");
        if (index <= previousIndex || index > state.lastApplied) this.fail("message index out of order", { index });
        previousIndex = index;
        const valueBytes = u32At(fields, 8);
        if (valueBytes > limits.valueBytesMax) this.fail("value over the limit", { valueBytes });
        const value = yield valueBytes;
        // The fifo keeps the bytes as they are; isUtf8 checks them without building a string
        // (decoding each value to validate it was a third of a 1M-message restore).
        if (!isUtf8(value)) this.fail("value is not valid UTF-8", { field: "value" });
        fifo.pushUtf8(value, index);
      }
      if (fifo.valueBytes !== valueBytesRecorded) this.fail("queue byte count mismatch", { queue: name });
      state.queues.set(name, fifo);
      state.messageCount += messageCount;
      state.valueBytesTotal += fifo.valueBytes;
      if (state.valueBytesTotal > limits.valueBytesTotalMax) this.fail("too many value bytes");
    }
  }

  private *readResult(state: QueueState): Generator<number, [ApplyResult, number], Uint8Array> {
    const tag = (yield 1)[0]!;
    if (tag === TAG_ERROR) {
      const error = CACHED_ERRORS[(yield 1)[0]!];
      if (error === undefined) this.fail("unknown cached error");
      return [{ ok: false, error }, 0];
    }
    if (tag !== TAG_ENQUEUE && tag !== TAG_DEQUEUE) this.fail("unknown result tag", { tag });
    const index = this.u64(yield 8, 0, "result index");
    if (index < 1 || index > state.lastApplied) this.fail("result index out of range", { index });
    if (tag === TAG_ENQUEUE) return [{ ok: true, op: "enqueue", index }, 0];
    const valueBytes = u32At(yield 4, 0);
    if (valueBytes > this.limits.valueBytesMax) this.fail("cached value over the limit", { valueBytes });
    return [{ ok: true, op: "dequeue", index, value: this.utf8(yield valueBytes, "result value") }, valueBytes];
  }

  private *readSessions(state: QueueState): Generator<number, void, Uint8Array> {
    const limits = this.limits;
    const sessionCount = u32At(yield 4, 0);
    if (sessionCount > limits.sessionsMax) this.fail("too many sessions", { sessionCount });
    let previousActiveMs = 0;
    for (let s = 0; s < sessionCount; s++) {
      const clientId = yield* this.readName("clientId", validateClientId);
      if (state.sessions.get(clientId) !== undefined) this.fail("duplicate session", { clientId });
      const fields = yield 16;
      const lastSeq = this.u64(fields, 0, "lastSeq");
      if (lastSeq < 1) this.fail("lastSeq must be >= 1", { clientId });
      const lastActiveMs = this.u64(fields, 8, "lastActiveMs");
      if (lastActiveMs < previousActiveMs) this.fail("sessions not in LRU order", { clientId });
      if (state.clockMs - lastActiveMs > limits.sessionTtlMs) this.fail("expired session stored", { clientId });
      if (lastActiveMs > state.clockMs) this.fail("session active in the future", { clientId });
      previousActiveMs = lastActiveMs;
      const [result, resultValueBytes] = yield* this.readResult(state);
      state.sessions.restore({ clientId, lastSeq, lastActiveMs, result, resultValueBytes });
    }
    if (state.sessions.cachedValueBytes > limits.sessionCacheBytesMax) this.fail("too many cached bytes");
  }
}
