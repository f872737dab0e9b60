/**
 * A binary min-heap of simulator events ordered by (time, seq): equal times keep insertion
 * order, so a seed always replays the same event order.
 */
export interface Timed {
  time: number;
  seq: number;
}

export class EventHeap<T extends Timed> {
  private items: T[] = [];

  size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    let k = items.length;
    items.push(item);
    // Sift up by moving parents down into the hole (no temporary arrays: this is the hot path).
    while (k > 0) {
      const parent = (k - 1) >> 1;
      const p = items[parent]!;
      if (!before(item, p)) break;
      items[k] = p;
      k = parent;
    }
    items[k] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    const size = items.length;
    if (size > 0) {
      let k = 0;
      for (;;) {
        const left = 2 * k + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && before(items[right]!, items[left]!) ? right : left;
        if (!before(items[child]!, last)) break;
        items[k] = items[child]!;
        k = child;
      }
      items[k] = last;
    }
    return top;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
