/**
 * Sequence ids of one direction of a logical link (pure: no sockets, no timers).
 *
 * A sender numbers every data frame of a stream 1, 2, 3, ... for the life of its process
 * incarnation, across reconnects. SendStream holds frames not yet written (the send queue, bounded
 * in frames and bytes: the caller gets `false` when it is full) and the most recent frames written
 * but not known delivered (the retransmit buffer, bounded too: beyond its limits the oldest are
 * forgotten, so they may be lost). On reconnect the receiver says the highest seq it delivered and
 * the sender requeues, in order, only the frames above it.
 *
 * ReceiveWindow keeps the highest seq delivered from one (sender, incarnation, stream) and accepts
 * only higher ones. Within a connection frames arrive in order, and a new connection carries the
 * sender's frames in seq order again, so this yields: each seq is delivered at most once, and
 * delivered frames are in strictly increasing seq order. Frames may be lost (gaps are skipped):
 * retransmit-buffer eviction, a sender restart (new incarnation), or an expired RPC.
 */
import { assert } from "../util/assert";

export interface OutgoingFrame {
  seq: number;
  /** Non-zero for requests and responses; lets the owner skip requests whose call has ended. */
  requestId: number;
  bytes: Buffer;
}

export interface SendStreamLimits {
  queueFramesMax: number;
  queueBytesMax: number;
  retransmitFramesMax: number;
  retransmitBytesMax: number;
}

/** What a spent slot of a FrameFifo holds. */
const SPENT: OutgoingFrame = Object.freeze({ seq: 0, requestId: 0, bytes: Buffer.alloc(0) });

/** FIFO with O(1) amortised shift; compacts its backing array now and then. */
class FrameFifo {
  private items: OutgoingFrame[] = [];
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(frame: OutgoingFrame): void {
    this.items.push(frame);
    this.bytes += frame.bytes.length;
  }

  peek(): OutgoingFrame | null {
    return this.head < this.items.length ? this.items[this.head]! : null;
  }

  shift(): OutgoingFrame | null {
    if (this.head >= this.items.length) return null;
    const frame = this.items[this.head]!;
    // The slot lets go of the frame: a frame kept by a spent slot until the next compaction
    // outlived young-generation collections and was copied into the old generation.
    this.items[this.head] = SPENT;
    this.head++;
    this.bytes -= frame.bytes.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  takeAll(): OutgoingFrame[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return all;
  }
}

export class SendStream {
  private readonly limits: SendStreamLimits;
  /** Invariant: the next seq handed out; seqs handed out are 1 .. nextSeq - 1. */
  private nextSeq = 1;
  /** Invariant: seqs strictly increasing from head to tail. */
  private readonly queue = new FrameFifo();
  /** Invariant: seqs strictly increasing, and all below the queue's head seq. */
  private readonly retransmit = new FrameFifo();

  constructor(limits: SendStreamLimits) {
    for (const [name, value] of Object.entries(limits)) {
      assert(Number.isSafeInteger(value) && value > 0, `${name} is a positive integer`);
    }
    this.limits = limits;
  }

  get queuedFrames(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  get retransmitFrames(): number {
    return this.retransmit.length;
  }

  get retransmitBytes(): number {
    return this.retransmit.bytes;
  }

  /** Whether a frame of `frameBytes` fits in the send queue now. */
  hasRoom(frameBytes: number): boolean {
    return this.queue.length < this.limits.queueFramesMax && this.queue.bytes + frameBytes <= this.limits.queueBytesMax;
  }

  /** True while the queue is at or above half its limits (callers that got `false` wait below it). */
  aboveLowWater(): boolean {
    return this.queue.length * 2 >= this.limits.queueFramesMax || this.queue.bytes * 2 >= this.limits.queueBytesMax;
  }

  takeSeq(): number {
    const seq = this.nextSeq;
    this.nextSeq++;
    return seq;
  }

  /** Queues a frame whose seq came from takeSeq(); the caller checked hasRoom(). */
  enqueue(frame: OutgoingFrame): void {
    assert(frame.seq < this.nextSeq, "enqueued seq was handed out");
    this.queue.push(frame);
  }

  /** Next frame to write, moved to the retransmit buffer (the oldest there may be evicted). */
  shift(): OutgoingFrame | null {
    const frame = this.queue.shift();
    if (frame === null) return null;
    this.retransmit.push(frame);
    while (this.retransmit.length > this.limits.retransmitFramesMax || this.retransmit.bytes > this.limits.retransmitBytesMax) {
      this.retransmit.shift();
    }
    return frame;
  }

  /** The receiver delivered everything up to `seq`: forget those frames. */
  ackThrough(seq: number): void {
    for (let head = this.retransmit.peek(); head !== null && head.seq <= seq; head = this.retransmit.peek()) {
      this.retransmit.shift();
    }
  }

  /**
   * A new connection: the receiver has delivered up to `lastDeliveredSeq`. Frames above it that
   * are still wanted go back to the front of the queue, in seq order.
   */
  resume(lastDeliveredSeq: number, isWanted: (frame: OutgoingFrame) => boolean): void {
    this.ackThrough(lastDeliveredSeq);
    const resend = this.retransmit.takeAll().filter(isWanted);
    const queued = this.queue.takeAll();
    for (const frame of resend) this.queue.push(frame);
    for (const frame of queued) this.queue.push(frame);
  }

  /** Empties the queue and the retransmit buffer, returning what was never written. */
  clear(): OutgoingFrame[] {
    this.retransmit.takeAll();
    return this.queue.takeAll();
  }
}

export class ReceiveWindow {
  /** Invariant: never decreases. */
  lastDeliveredSeq = 0;

  /** True (and the frame counts as delivered) if `seq` is new; false for duplicates and replays. */
  accept(seq: number): boolean {
    if (seq <= this.lastDeliveredSeq) return false;
    this.lastDeliveredSeq = seq;
    return true;
  }
}
