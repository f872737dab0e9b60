/**
 * PackedEntries: a contiguous run of log entries kept as bytes in blocks, not as objects.
 *
 * RaftLog moves entries here once they are applied and durable: from then on they are read only
 * to catch up a lagging follower or to find an old configuration, so an object and a Uint8Array
 * view per entry (about 160 bytes of heap, and work for every garbage collection while a
 * snapshot is far away) is wasted. Here an entry costs 13 bytes of typed arrays beside its data,
 * and the data is copied into its block's byte arena, which also lets go of the buffers it was
 * carved from (a proposal slab, a received frame).
 *
 *   blocks[0].first         first()                                   last()
 *        | dropped slots    |  entries: terms, kinds, ends, bytes ...  |
 *
 * Every block holds `blockEntries` slots except the last, which is being filled, so the block of
 * an index is found by division. Compaction drops whole blocks and moves first() inside the
 * first one. Data of BIG_ENTRY_BYTES or more is kept as a Uint8Array of its own instead (an
 * object per entry costs little beside a kilobyte), so a block's arena stays below
 * blockEntries * BIG_ENTRY_BYTES (4 MiB), which bounds what a partly compacted first block holds.
 *
 * Contract: push() continues at last() + 1; entry(i) returns a fresh LogEntry whose data is a
 * view that nothing overwrites (arenas are append-only; a grown arena is a new buffer, the old
 * one stays intact for views already handed out).
 */
import { assert } from "../util/assert";
import type { EntryKind, LogEntry } from "./types";

const KIND_CODES: Record<EntryKind, number> = { normal: 0, noop: 1, config: 2 };
const KINDS: readonly EntryKind[] = ["normal", "noop", "config"];

/** RaftConfig.logBlockEntries' default, and RaftLog's when built without a config. */
export const DEFAULT_BLOCK_ENTRIES = 4096;
export const BIG_ENTRY_BYTES = 1024;
const FIRST_ARENA_BYTES = 16 * 1024;
const EMPTY = new Uint8Array(0);

interface Block {
  /** Log index of slot 0. */
  readonly first: number;
  count: number;
  readonly terms: Float64Array;
  readonly kinds: Uint8Array;
  /** ends[k]: end of slot k's data in `arena` (its start is ends[k - 1], or 0). */
  readonly ends: Uint32Array;
  arena: Uint8Array;
  /** Data kept whole (>= BIG_ENTRY_BYTES), by slot. Null until one is. */
  big: Map<number, Uint8Array> | null;
}

export class PackedEntries {
  private blocks: Block[] = [];
  /** Invariant: first() <= last() + 1; entries first()..last() are held. */
  private firstIndex: number;
  private lastIndexValue: number;
  /** Arena bytes the last full block used: the next one starts that large. */
  private lastBlockBytes = 0;

  constructor(
    private readonly blockEntries: number,
    after: number,
  ) {
    assert(Number.isSafeInteger(blockEntries) && blockEntries > 0, "blockEntries must be a positive integer");
    this.firstIndex = after + 1;
    this.lastIndexValue = after;
  }

  first(): number {
    return this.firstIndex;
  }

  last(): number {
    return this.lastIndexValue;
  }

  size(): number {
    return this.lastIndexValue - this.firstIndex + 1;
  }

  /** Forget everything; the next push() is index after + 1. */
  reset(after: number): void {
    this.blocks = [];
    this.firstIndex = after + 1;
    this.lastIndexValue = after;
  }

  push(entry: LogEntry): void {
    assert(entry.index === this.lastIndexValue + 1, "packed entries are contiguous");
    let block = this.blocks.length === 0 ? undefined : this.blocks[this.blocks.length - 1]!;
    if (block === undefined || block.count === this.blockEntries) {
      if (block !== undefined) this.trim(block);
      block = {
        first: entry.index,
        count: 0,
        terms: new Float64Array(this.blockEntries),
        kinds: new Uint8Array(this.blockEntries),
        ends: new Uint32Array(this.blockEntries),
        arena: EMPTY,
        big: null,
      };
      this.blocks.push(block);
    }
    const slot = block.count;
    const start = slot === 0 ? 0 : block.ends[slot - 1]!;
    const data = entry.data;
    let end = start;
    if (data.length >= BIG_ENTRY_BYTES) {
      if (block.big === null) block.big = new Map();
      // A view into a larger buffer (a proposal slab, a received frame) would keep all of it.
      block.big.set(slot, data.byteLength === data.buffer.byteLength ? data : data.slice());
    } else {
      end = start + data.length;
      if (end > block.arena.length) this.grow(block, start, end);
      block.arena.set(data, start);
    }
    block.terms[slot] = entry.term;
    block.kinds[slot] = KIND_CODES[entry.kind];
    block.ends[slot] = end;
    block.count = slot + 1;
    this.lastIndexValue = entry.index;
  }

  term(index: number): number {
    const block = this.blockOf(index);
    return block.terms[index - block.first]!;
  }

  kind(index: number): EntryKind {
    const block = this.blockOf(index);
    return KINDS[block.kinds[index - block.first]!]!;
  }

  entry(index: number): LogEntry {
    const block = this.blockOf(index);
    const slot = index - block.first;
    const big = block.big?.get(slot);
    const data = big ?? block.arena.subarray(slot === 0 ? 0 : block.ends[slot - 1]!, block.ends[slot]!);
    return { index, term: block.terms[slot]!, kind: KINDS[block.kinds[slot]!]!, data };
  }

  /** Drop entries <= index (compaction). */
  dropThrough(index: number): void {
    if (index < this.firstIndex) return;
    if (index >= this.lastIndexValue) {
      this.reset(index);
      return;
    }
    const dropBlocks = Math.floor((index + 1 - this.blocks[0]!.first) / this.blockEntries);
    if (dropBlocks > 0) this.blocks.splice(0, dropBlocks);
    this.firstIndex = index + 1;
  }

  /** Bytes held by the blocks' typed arrays and arenas, not big entries' own buffers (for tests). */
  heldBytes(): number {
    let bytes = 0;
    for (const block of this.blocks) {
      bytes += block.terms.byteLength + block.kinds.byteLength + block.ends.byteLength + block.arena.byteLength;
    }
    return bytes;
  }

  checkInvariants(): void {
    assert(this.firstIndex <= this.lastIndexValue + 1, "packed: first <= last + 1");
    if (this.size() === 0) return;
    assert(this.blocks.length > 0, "packed: entries live in blocks");
    const head = this.blocks[0]!;
    assert(head.first <= this.firstIndex && this.firstIndex < head.first + head.count, "packed: first() is in the first block");
    for (let k = 0; k < this.blocks.length; k++) {
      const block = this.blocks[k]!;
      assert(block.first === head.first + k * this.blockEntries, "packed: blocks are evenly spaced");
      assert(k === this.blocks.length - 1 || block.count === this.blockEntries, "packed: only the last block is partial");
    }
    const tail = this.blocks[this.blocks.length - 1]!;
    assert(tail.first + tail.count - 1 === this.lastIndexValue, "packed: last() ends the last block");
  }

  private blockOf(index: number): Block {
    assert(index >= this.firstIndex && index <= this.lastIndexValue, "packed: index not held");
    return this.blocks[Math.floor((index - this.blocks[0]!.first) / this.blockEntries)]!;
  }

  private grow(block: Block, used: number, needed: number): void {
    // A new block starts at the size its predecessor ended with: one allocation, usually.
    let capacity = block.arena.length === 0 ? Math.max(FIRST_ARENA_BYTES, this.lastBlockBytes) : block.arena.length * 2;
    while (capacity < needed) capacity *= 2;
    const arena = new Uint8Array(capacity);
    arena.set(block.arena.subarray(0, used));
    block.arena = arena;
  }

  /** A full block gives back its arena's unused tail when that is more than a quarter. */
  private trim(block: Block): void {
    const used = block.count === 0 ? 0 : block.ends[block.count - 1]!;
    if (block.arena.length - used > block.arena.length / 4) block.arena = block.arena.slice(0, used);
    this.lastBlockBytes = used;
  }
}
