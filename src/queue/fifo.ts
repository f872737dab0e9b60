/**
 * One FIFO of messages: an unrolled linked list of fixed-size chunks.
 *
 *   head chunk                      tail chunk
 *   [ . . x x x x ] -> [ x x x ] -> [ x x . . ]
 *       ^headSlot                         ^tailSlot
 *
 * Contract: push and shift are O(1) (no Array.shift, no copying); memory is the strings plus
 * 12 bytes a message in typed arrays plus 8 for the pointer. Chunks grow from 8 slots to
 * CHUNK_SLOTS_MAX so that the many small queues stay small and big ones pay one chunk header per
 * 1024 messages. Each message keeps its UTF-8 byte length (for the byte budget and snapshots) and
 * the log index that enqueued it.
 */
import { assert } from "../util/assert";

const CHUNK_SLOTS_MIN = 8;
const CHUNK_SLOTS_MAX = 1024;

class Chunk {
  readonly values: (string | undefined)[];
  readonly valueBytes: Uint32Array;
  readonly indexes: Float64Array;
  next: Chunk | null = null;

  constructor(readonly capacity: number) {
    this.values = new Array<string | undefined>(capacity).fill(undefined);
    this.valueBytes = new Uint32Array(capacity);
    this.indexes = new Float64Array(capacity);
  }
}

export class Fifo {
  private head: Chunk = new Chunk(CHUNK_SLOTS_MIN);
  private tail: Chunk = this.head;
  /** Invariant: next slot to read in `head`; equals tailSlot when head === tail and count === 0. */
  private headSlot = 0;
  /** Invariant: next slot to write in `tail`. */
  private tailSlot = 0;
  /** Invariant: number of messages between head/headSlot and tail/tailSlot. */
  private messageCount = 0;
  /** Invariant: sum of valueBytes over the messages held. */
  private valueBytesSum = 0;

  get count(): number {
    return this.messageCount;
  }

  get valueBytes(): number {
    return this.valueBytesSum;
  }

  push(value: string, valueBytes: number, index: number): void {
    if (this.tailSlot === this.tail.capacity) {
      const chunk = new Chunk(Math.min(this.tail.capacity * 2, CHUNK_SLOTS_MAX));
      this.tail.next = chunk;
      this.tail = chunk;
      this.tailSlot = 0;
    }
    const slot = this.tailSlot++;
    this.tail.values[slot] = value;
    this.tail.valueBytes[slot] = valueBytes;
    this.tail.indexes[slot] = index;
    this.messageCount += 1;
    this.valueBytesSum += valueBytes;
  }

  /** The oldest message; the FIFO must not be empty. */
  peekValue(): string {
    assert(this.messageCount > 0, "peek on an empty fifo");
    const value = this.head.values[this.headSlot];
    assert(value !== undefined, "fifo slot holds a value");
    return value;
  }

  peekIndex(): number {
    assert(this.messageCount > 0, "peekIndex on an empty fifo");
    return this.head.indexes[this.headSlot]!;
  }

  peekValueBytes(): number {
    assert(this.messageCount > 0, "peekValueBytes on an empty fifo");
    return this.head.valueBytes[this.headSlot]!;
  }

  /** Drops the oldest message (read it with the peek methods first). */
  drop(): void {
    assert(this.messageCount > 0, "drop on an empty fifo");
    this.valueBytesSum -= this.head.valueBytes[this.headSlot]!;
    this.head.values[this.headSlot] = undefined; // release the string
    this.headSlot += 1;
    this.messageCount -= 1;
    if (this.messageCount === 0) {
      // Empty: restart in the current tail chunk, dropping any chunk before it.
      this.head = this.tail;
      this.headSlot = 0;
      this.tailSlot = 0;
    } else if (this.headSlot === this.head.capacity) {
      const next = this.head.next;
      assert(next !== null, "a non-empty fifo has a chunk after an exhausted head");
      this.head.next = null;
      this.head = next;
      this.headSlot = 0;
    }
  }

  /** Visits messages oldest first. */
  forEach(visit: (value: string, valueBytes: number, index: number) => void): void {
    let chunk: Chunk | null = this.head;
    let slot = this.headSlot;
    let remaining = this.messageCount;
    while (remaining > 0) {
      assert(chunk !== null, "fifo chain long enough for its count");
      if (slot === chunk.capacity) {
        chunk = chunk.next;
        slot = 0;
        continue;
      }
      const value = chunk.values[slot];
      assert(value !== undefined, "occupied fifo slot holds a value");
      visit(value, chunk.valueBytes[slot]!, chunk.indexes[slot]!);
      slot += 1;
      remaining -= 1;
    }
    assert(chunk === this.tail || this.messageCount === 0, "walk ends in the tail chunk");
  }
}
