/**
 * One FIFO of messages: an unrolled linked list of fixed-size chunks.
 *
 *   head chunk                      tail chunk
 *   [ . . x x x x ] -> [ x x x ] -> [ x x . . ]
 *       ^headSlot                         ^tail.slotsUsed
 *
 * Contract: push and shift are O(1) (no Array.shift, no copying of other messages). Values are
 * kept as UTF-8 bytes in one byte arena per chunk, not as JavaScript strings: a 64 B value costs
 * 64 + 8 bytes (where it ends in the arena, its log index relative to the chunk's first) instead
 * of a string object (~80 B for 64 ASCII chars, twice that for non-Latin-1 text) plus a pointer,
 * and the bytes live outside the garbage
 * collected heap, which then stays small (1M queued 64 B messages: bench/README.md). A value
 * arrives as UTF-8 (the command's bytes) and is decoded when it is read (peekValue, forEach).
 * Chunks grow from 8 slots to CHUNK_SLOTS_MAX so that the many small queues stay small and big
 * ones pay one chunk header per 1024 messages; a chunk's arena doubles as values arrive and is freed with the chunk
 * once every message in it is dropped.
 */
import { assert } from "../util/assert";

const CHUNK_SLOTS_MIN = 8;
const CHUNK_SLOTS_MAX = 1024;
/** Arena bytes a new chunk starts with, per slot (values are often small). */
const ARENA_BYTES_PER_SLOT = 64;
/** A chunk holding values takes no more once its arena would pass this (one value may). */
const ARENA_BYTES_MAX = 1024 * 1024;

// ignoreBOM: a value that starts with U+FEFF keeps it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Values up to this size are copied byte by byte: cheaper than a view plus set() for small ones. */
const SMALL_COPY_BYTES = 64;

/** Largest log index distance a chunk stores from its first message's (a Uint32Array element). */
const INDEX_DELTA_MAX = 0xffff_ffff;

class Chunk {
  /**
   * Where each slot's value ends in `arena`; it starts where the previous slot's ends (values are
   * appended in slot order), so a slot costs 4 bytes of offsets instead of 8 (start, length).
   */
  readonly ends: Uint32Array;
  /** Each slot's log index minus `baseIndex` (the first slot's): 4 bytes instead of a float64. */
  readonly indexDeltas: Uint32Array;
  baseIndex = 0;
  arena: Uint8Array;
  /** Invariant: bytes of `arena` in use (values of slots written so far). */
  arenaUsed = 0;
  /** Slots written; < capacity when the arena filled first. Only the tail chunk takes more. */
  slotsUsed = 0;
  next: Chunk | null = null;

  constructor(readonly capacity: number) {
    this.ends = new Uint32Array(capacity);
    this.indexDeltas = new Uint32Array(capacity);
    this.arena = new Uint8Array(capacity * ARENA_BYTES_PER_SLOT);
  }

  /** Whether a message with log index `index` may take this chunk's next slot. */
  takes(index: number): boolean {
    if (this.slotsUsed === this.capacity) return false;
    if (this.slotsUsed === 0) return true;
    const delta = index - this.baseIndex;
    return delta >= 0 && delta <= INDEX_DELTA_MAX;
  }

  /** Writes the next slot: `valueBytes` more arena bytes (growing it); returns their offset. */
  add(valueBytes: number, index: number): number {
    const slot = this.slotsUsed++;
    if (slot === 0) this.baseIndex = index;
    const start = this.arenaUsed;
    const end = start + valueBytes;
    if (end > this.arena.length) {
      const grown = new Uint8Array(Math.max(Math.min(this.arena.length * 2, ARENA_BYTES_MAX), end));
      grown.set(this.arena.subarray(0, start));
      this.arena = grown;
    }
    this.arenaUsed = end;
    this.ends[slot] = end;
    this.indexDeltas[slot] = index - this.baseIndex;
    return start;
  }

  start(slot: number): number {
    return slot === 0 ? 0 : this.ends[slot - 1]!;
  }

  valueBytes(slot: number): number {
    return this.ends[slot]! - this.start(slot);
  }

  index(slot: number): number {
    return this.baseIndex + this.indexDeltas[slot]!;
  }

  value(slot: number): string {
    return decoder.decode(this.arena.subarray(this.start(slot), this.ends[slot]!));
  }
}

export class Fifo {
  private head: Chunk = new Chunk(CHUNK_SLOTS_MIN);
  private tail: Chunk = this.head;
  /** Invariant: next slot to read in `head`; equals tail.slotsUsed when head === tail and count === 0. */
  private headSlot = 0;
  /** Invariant: number of messages between head/headSlot and tail/tail.slotsUsed (the next slot to write). */
  private messageCount = 0;
  /** Invariant: sum of valueBytes over the messages held. */
  private valueBytesSum = 0;

  get count(): number {
    return this.messageCount;
  }

  get valueBytes(): number {
    return this.valueBytesSum;
  }

  /**
   * Appends a message whose value is already UTF-8 (an applied command's bytes, a snapshot being
   * restored); the bytes are copied into the tail chunk's arena.
   */
  pushUtf8(value: Uint8Array, index: number): void {
    this.append(value.length, index).set(value);
  }

  /** Takes a slot for a message of `valueBytes` and returns the arena bytes its value goes in. */
  private append(valueBytes: number, index: number): Uint8Array {
    let tail = this.tail;
    if (!tail.takes(index) || (tail.slotsUsed > 0 && tail.arenaUsed + valueBytes > ARENA_BYTES_MAX)) {
      tail = new Chunk(Math.min(tail.capacity * 2, CHUNK_SLOTS_MAX));
      this.tail.next = tail;
      this.tail = tail;
    }
    const start = tail.add(valueBytes, index);
    this.messageCount += 1;
    this.valueBytesSum += valueBytes;
    return tail.arena.subarray(start, start + valueBytes);
  }

  /** The oldest message; the FIFO must not be empty. */
  peekValue(): string {
    assert(this.messageCount > 0, "peek on an empty fifo");
    return this.head.value(this.headSlot);
  }

  peekIndex(): number {
    assert(this.messageCount > 0, "peekIndex on an empty fifo");
    return this.head.index(this.headSlot);
  }

  peekValueBytes(): number {
    assert(this.messageCount > 0, "peekValueBytes on an empty fifo");
    return this.head.valueBytes(this.headSlot);
  }

  /** Drops the oldest message (read it with the peek methods first). */
  drop(): void {
    assert(this.messageCount > 0, "drop on an empty fifo");
    this.valueBytesSum -= this.head.valueBytes(this.headSlot);
    this.headSlot += 1;
    this.messageCount -= 1;
    if (this.messageCount === 0) {
      // Empty: start over in a fresh chunk. Slots and arena bytes once written are never
      // written again, which is what lets a frozen view (freeze()) read them later.
      this.head = new Chunk(CHUNK_SLOTS_MIN);
      this.tail = this.head;
      this.headSlot = 0;
    } else if (this.headSlot === this.head.slotsUsed) {
      const next = this.head.next;
      assert(next !== null, "a non-empty fifo has a chunk after an exhausted head");
      this.head = next; // the old head keeps its `next`: a frozen view may still walk through it
      this.headSlot = 0;
    }
  }

  /** A cursor over the messages, oldest first; the fifo must not change while it is used. */
  cursor(): FifoCursor {
    return new FifoCursor(this.head, this.headSlot, this.messageCount);
  }

  /**
   * The messages held now, readable later however the fifo changes meanwhile (O(1): a slot or
   * arena byte is never overwritten once written, chunks are only appended, and the frozen head
   * keeps the chain it walks alive). For snapshots taken while entries go on being applied.
   */
  freeze(): FrozenFifo {
    const head = this.head;
    const headSlot = this.headSlot;
    const count = this.messageCount;
    return { count, valueBytes: this.valueBytesSum, cursor: () => new FifoCursor(head, headSlot, count) };
  }

  /** Visits messages oldest first. */
  forEach(visit: (value: string, valueBytes: number, index: number) => void): void {
    const cursor = this.cursor();
    while (cursor.next()) visit(decoder.decode(cursor.utf8()), cursor.valueBytes, cursor.index);
    assert(cursor.at === this.tail || this.messageCount === 0, "walk ends in the tail chunk");
  }
}

/** What a snapshot reads of one queue (a Fifo, or a frozen view of one). */
export interface FrozenFifo {
  readonly count: number;
  readonly valueBytes: number;
  cursor(): FifoCursor;
}

/**
 * Walks a fifo without callbacks, so a generator can stop between messages (the chunked
 * snapshot encoder). next() moves to the next message; then valueBytes and index describe it
 * and utf8() is a view of its value's bytes in the chunk's arena (no decoding, no copy).
 */

export class FifoCursor {
  valueBytes = 0;
  index = 0;
  private current: Chunk | null = null;
  private currentSlot = 0;

  constructor(
    private chunk: Chunk | null,
    private slot: number,
    private remaining: number,
  ) {}

  next(): boolean {
    if (this.remaining === 0) return false;
    let chunk = this.chunk;
    assert(chunk !== null, "fifo chain long enough for its count");
    while (this.slot === chunk.slotsUsed) {
      chunk = chunk.next;
      assert(chunk !== null, "fifo chain long enough for its count");
      this.chunk = chunk;
      this.slot = 0;
    }
    this.current = chunk;
    this.currentSlot = this.slot;
    this.valueBytes = chunk.valueBytes(this.slot);
    this.index = chunk.index(this.slot);
    this.slot += 1;
    this.remaining -= 1;
    return true;
  }

  /** The chunk of the current message (null before the first next()). */
  get at(): Chunk | null {
    return this.current;
  }

  /**
   * Copies the current value's UTF-8 bytes into `target` at `at` (room checked by the caller),
   * without the view utf8() makes: the snapshot encoder's per-message path.
   */
  copyUtf8To(target: Uint8Array, at: number): void {
    const chunk = this.current;
    assert(chunk !== null, "copyUtf8To() after next()");
    const start = chunk.start(this.currentSlot);
    const length = this.valueBytes;
    const arena = chunk.arena;
    if (length <= SMALL_COPY_BYTES) {
      for (let k = 0; k < length; k++) target[at + k] = arena[start + k]!;
    } else {
      target.set(arena.subarray(start, start + length), at);
    }
  }

  /** The current value's UTF-8 bytes (a view; stays valid, see Fifo.freeze). */
  utf8(): Uint8Array {
    const chunk = this.current;
    assert(chunk !== null, "utf8() after next()");
    const start = chunk.start(this.currentSlot);
    return chunk.arena.subarray(start, start + this.valueBytes);
  }
}
