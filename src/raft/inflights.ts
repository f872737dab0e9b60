/**
 * Inflights: the bounded window of AppendEntries a leader has sent to one follower in replicate
 * state and not yet seen acknowledged (etcd-io/raft tracker/inflights.go: flow control).
 *
 * Contract: add(lastIndex) records a message whose last entry is lastIndex; indexes added are
 * strictly increasing; freeTo(index) releases every message whose last entry <= index; full()
 * once `capacity` messages are outstanding. A ring buffer, so no allocation per message.
 */
import { assert } from "../util/assert";

export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  /** Invariant: 0 <= count <= capacity. */
  private countValue = 0;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, "inflights capacity must be a positive integer");
    this.buffer = new Array<number>(capacity).fill(0);
  }

  count(): number {
    return this.countValue;
  }

  full(): boolean {
    return this.countValue === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), "inflights: add when full");
    if (this.countValue > 0) assert(lastIndex > this.newest(), "inflights: indexes must increase");
    this.buffer[(this.start + this.countValue) % this.capacity] = lastIndex;
    this.countValue++;
  }

  freeTo(index: number): void {
    while (this.countValue > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.countValue--;
    }
  }

  reset(): void {
    this.start = 0;
    this.countValue = 0;
  }

  private newest(): number {
    return this.buffer[(this.start + this.countValue - 1) % this.capacity]!;
  }
}
