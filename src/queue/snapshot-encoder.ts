/**
 * The queue snapshot (format in snapshot-format.ts) encoded in chunks of at most chunkBytes, so
 * that a host can write a snapshot of any size while holding O(chunkBytes) of it.
 *
 * Contract: encodeSnapshotChunks(state, ...) yields the same bytes encodeSnapshot() gives, split
 * into chunks of exactly chunkBytes (the last one shorter). Given the live state, it must not
 * change until the generator is done; QueueStateMachine.snapshotChunks gives it a frozen view
 * (freezeQueueState) instead, so applying may go on meanwhile. Memory: the current chunk, plus one cached session value's UTF-8 when it
 * straddles two chunks (queued values are copied from the fifo's UTF-8 arena as they are).
 */
import { assert } from "../util/assert";
import { crc32 } from "../util/crc32";
import { TWO_POW_32 } from "./bytes";
import type { QueueLimits } from "./limits";
import type { FifoCursor } from "./fifo";
import type { SnapshotView } from "./queue-state";
import type { Session } from "./sessions";
import {
  CACHED_ERRORS,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_MAGIC,
  TAG_DEQUEUE,
  TAG_ENQUEUE,
  TAG_ERROR,
  snapshotByteCount,
  snapshotLimitValues,
} from "./snapshot-format";

const utf8Encoder = new TextEncoder();

/** Writes fields into fixed-size chunks; completed chunks wait in `completed` until taken. */
class ChunkWriter {
  private chunk: Uint8Array;
  /** A view of `chunk`, for the fields written in place (see advance()). */
  private chunkView: DataView;
  private at = 0;
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private crc = 0;
  /** Bytes of the current chunk already fed to the checksum. */
  private crcAt = 0;
  private crcClosed = false;
  private written = 0;
  readonly completed: Uint8Array[] = [];
  /** Chunks the consumer is done with (reuse mode): new chunks are taken from here first. */
  private readonly free: Uint8Array[] = [];

  constructor(
    private readonly chunkBytes: number,
    private readonly reuse: boolean,
  ) {
    this.chunk = new Uint8Array(chunkBytes);
    this.chunkView = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
  }

  /**
   * One queued message: u64 index, u32 value length, the value's UTF-8 copied from the cursor's
   * arena in place when it fits the chunk (no view of it), else through bytes() (snapshot-format.ts).
   */
  message(cursor: FifoCursor): void {
    const valueBytes = cursor.valueBytes;
    this.u64(cursor.index);
    this.u32(valueBytes);
    if (this.chunkBytes - this.at < valueBytes) {
      this.bytes(cursor.utf8());
      return;
    }
    cursor.copyUtf8To(this.chunk, this.at);
    this.advance(valueBytes);
  }

  /** The consumer asked for the chunk after `chunk`, so it is done with it. */
  release(chunk: Uint8Array): void {
    if (this.reuse && chunk.length === this.chunkBytes) this.free.push(chunk);
  }

  get position(): number {
    return this.written;
  }

  u8(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, "u8 out of range");
    if (this.at < this.chunkBytes) {
      this.chunk[this.at] = value;
      this.advance(1);
      return;
    }
    this.scratch[0] = value;
    this.put(this.scratch, 1);
  }

  u16(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff, "u16 out of range");
    if (this.chunkBytes - this.at >= 2) {
      this.chunkView.setUint16(this.at, value);
      this.advance(2);
      return;
    }
    this.scratchView.setUint16(0, value);
    this.put(this.scratch, 2);
  }

  u32(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value < TWO_POW_32, "u32 out of range");
    if (this.chunkBytes - this.at >= 4) {
      this.chunkView.setUint32(this.at, value);
      this.advance(4);
      return;
    }
    this.scratchView.setUint32(0, value);
    this.put(this.scratch, 4);
  }

  u64(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, "u64 must be a non-negative safe integer");
    if (this.chunkBytes - this.at >= 8) {
      this.chunkView.setUint32(this.at, Math.floor(value / TWO_POW_32));
      this.chunkView.setUint32(this.at + 4, value >>> 0);
      this.advance(8);
      return;
    }
    this.scratchView.setUint32(0, Math.floor(value / TWO_POW_32));
    this.scratchView.setUint32(4, value >>> 0);
    this.put(this.scratch, 8);
  }

  /** Writes `text` whose UTF-8 length the caller computed as `byteLength`. */
  utf8(text: string, byteLength: number): void {
    if (this.chunkBytes - this.at >= byteLength) {
      const { read, written } = utf8Encoder.encodeInto(text, this.chunk.subarray(this.at, this.at + byteLength));
      assert(written === byteLength, "utf8: precomputed byte length matches the encoding");
      assert(read === text.length, "utf8: whole string encoded");
      this.advance(byteLength);
      return;
    }
    const encoded = utf8Encoder.encode(text); // straddles chunks: one value's bytes, then copied
    assert(encoded.length === byteLength, "utf8: precomputed byte length matches the encoding");
    this.put(encoded, byteLength);
  }

  /** Raw bytes (a value already in UTF-8). */
  bytes(bytes: Uint8Array): void {
    if (this.chunkBytes - this.at >= bytes.length) {
      this.chunk.set(bytes, this.at);
      this.advance(bytes.length);
      return;
    }
    this.put(bytes, bytes.length);
  }

  /** The checksum of everything written so far; nothing written after it is checksummed. */
  checksum(): number {
    assert(!this.crcClosed, "checksum taken once");
    this.crc = crc32(this.chunk, this.crcAt, this.at, this.crc);
    this.crcAt = this.at;
    this.crcClosed = true;
    return this.crc;
  }

  /** The last, partial chunk (after every field was written). */
  finish(): void {
    if (this.at > 0) this.completed.push(this.chunk.subarray(0, this.at));
    this.at = 0;
  }

  private put(bytes: Uint8Array, byteCount: number): void {
    let from = 0;
    while (from < byteCount) {
      const take = Math.min(byteCount - from, this.chunkBytes - this.at);
      this.chunk.set(bytes.subarray(from, from + take), this.at);
      from += take;
      this.advance(take);
    }
  }

  /**
   * `byteCount` bytes were written in place at `at`. Fields that fit the chunk (most of them: the
   * index and length of every queued message) are written there directly; through the scratch
   * buffer and put() every time, they took most of the encoder's time per 64 B message, and a
   * snapshot stops the node's loop while a chunk is encoded (bench/README.md, session 9).
   */
  private advance(byteCount: number): void {
    this.at += byteCount;
    this.written += byteCount;
    this.flushIfFull();
  }

  private flushIfFull(): void {
    if (this.at < this.chunkBytes) return;
    if (!this.crcClosed) this.crc = crc32(this.chunk, this.crcAt, this.chunkBytes, this.crc);
    this.crcAt = 0;
    this.completed.push(this.chunk);
    this.chunk = this.free.pop() ?? new Uint8Array(this.chunkBytes);
    this.chunkView = new DataView(this.chunk.buffer, this.chunk.byteOffset, this.chunk.byteLength);
    this.at = 0;
  }
}

function writeResult(writer: ChunkWriter, session: Session): void {
  const result = session.result;
  if (!result.ok) {
    const code = CACHED_ERRORS.indexOf(result.error);
    assert(code >= 0, "sessions cache only errors of executed commands");
    writer.u8(TAG_ERROR);
    writer.u8(code);
  } else if (result.op === "enqueue") {
    writer.u8(TAG_ENQUEUE);
    writer.u64(result.index);
  } else {
    writer.u8(TAG_DEQUEUE);
    writer.u64(result.index);
    writer.u32(session.resultValueBytes);
    writer.utf8(result.value, session.resultValueBytes);
  }
}

/** Size of the snapshot encodeSnapshotChunks(state, limits) yields. */
export function snapshotTotalBytes(state: SnapshotView): number {
  return snapshotByteCount(state, sortedNames(state));
}

function sortedNames(state: SnapshotView): string[] {
  // Queue names are ASCII: code-unit order is byte order, the same on every node.
  return [...state.queues.keys()].sort();
}

function* drain(writer: ChunkWriter): Generator<Uint8Array> {
  while (writer.completed.length > 0) {
    const chunk = writer.completed.shift()!;
    yield chunk;
    writer.release(chunk);
  }
}

/**
 * With reuseChunks, a chunk's buffer is filled again once the next chunk is asked for: the
 * consumer must be done with each chunk by then (a host that writes each chunk before taking
 * the next). The encoder then holds about two chunks instead of garbage-collecting one per chunk.
 */
export function* encodeSnapshotChunks(state: SnapshotView, limits: QueueLimits, chunkBytes: number, reuseChunks = false): Generator<Uint8Array, void, undefined> {
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, "chunkBytes is a positive integer");
  const names = sortedNames(state);
  const totalBytes = snapshotByteCount(state, names);
  const writer = new ChunkWriter(chunkBytes, reuseChunks);
  writer.u32(SNAPSHOT_MAGIC);
  writer.u16(SNAPSHOT_FORMAT_VERSION);
  writer.u16(0);
  writer.u32(totalBytes);
  for (const value of snapshotLimitValues(limits)) writer.u64(value);
  writer.u64(state.lastApplied);
  writer.u64(state.clockMs);
  writer.u32(names.length);
  yield* drain(writer);
  for (const name of names) {
    const fifo = state.queues.get(name)!;
    writer.u8(name.length);
    writer.utf8(name, name.length);
    writer.u32(fifo.count);
    writer.u64(fifo.valueBytes);
    const cursor = fifo.cursor();
    while (cursor.next()) {
      writer.message(cursor); // the fifo keeps values as UTF-8 already
      if (writer.completed.length > 0) yield* drain(writer);
    }
  }
  writer.u32(state.sessions.size);
  for (const session of state.sessions.values()) {
    writer.u8(session.clientId.length);
    writer.utf8(session.clientId, session.clientId.length);
    writer.u64(session.lastSeq);
    writer.u64(session.lastActiveMs);
    writeResult(writer, session);
    if (writer.completed.length > 0) yield* drain(writer);
  }
  writer.u32(writer.checksum());
  assert(writer.position === totalBytes, "size arithmetic matches bytes written");
  writer.finish();
  yield* drain(writer);
}
