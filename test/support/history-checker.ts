/**
 * Checker for a recorded client history of the queue (for the chaos tests). Pure: give it the
 * events, get back the violations, each with a readable description.
 *
 * Fault model of the history: clients may time out, so an operation's outcome may be "unknown"
 * (it may or may not have taken effect, possibly long after the client gave up). Enqueued values
 * must be unique (the test generates them so); the history must end with a drain: consumers
 * dequeue until EMPTY after faults stop, so every value still queued shows up as dequeued.
 *
 * What it verifies (each a sound check: a correct queue never triggers it):
 *   lost        an acknowledged enqueue never dequeued, beyond what the dequeues with unknown
 *               outcome on that queue could have taken (each takes at most one message);
 *   phantom     a dequeued value that no enqueue (acknowledged or unknown) on that queue sent;
 *   duplicate   a value dequeued more than once;
 *   causality   a value whose dequeue completed before its enqueue was invoked;
 *   fifo        per producer and queue, for a producer whose enqueues are sequential: if its
 *               acknowledged enqueue A completed before its enqueue B was invoked, B's dequeue
 *               must not complete before A's dequeue is invoked;
 *   empty       a dequeue answered EMPTY while some value was certainly in the queue the whole
 *               time (its enqueue acknowledged before, its dequeue invoked after).
 * Malformed events and repeated enqueue values are reported too and left out of the checks.
 */

export type HistoryOp = "enqueue" | "dequeue";
export type HistoryOutcome = "ok" | "empty" | "unknown";

export interface HistoryEvent {
  client: string;
  op: HistoryOp;
  /** Defaults to "default". */
  queue?: string;
  /** enqueue: the value sent; dequeue with outcome "ok": the value received. */
  value?: string;
  invokeMs: number;
  /** When the answer arrived, or when the client gave up (outcome "unknown"). */
  completeMs: number;
  outcome: HistoryOutcome;
}

export type ViolationKind =
  | "malformed"
  | "repeated-enqueue-value"
  | "lost"
  | "phantom"
  | "duplicate"
  | "causality"
  | "fifo"
  | "empty";

export interface Violation {
  kind: ViolationKind;
  description: string;
  /** Indexes into the history of the events involved. */
  events: number[];
}

interface Op {
  at: number; // index in the history
  event: HistoryEvent;
  queue: string;
}

interface QueueView {
  enqueues: Map<string, Op>; // value -> enqueue
  dequeues: Map<string, Op[]>; // value -> ok dequeues, in history order
  empties: Op[];
  unknownDequeueCount: number;
}

function describe(op: Op): string {
  const e = op.event;
  const value = e.value === undefined ? "" : ` ${JSON.stringify(e.value)}`;
  return `#${op.at} ${e.client} ${e.op}${value} on ${op.queue} [${e.invokeMs}..${e.completeMs}] ${e.outcome}`;
}

function malformation(e: HistoryEvent): string | null {
  if (!Number.isFinite(e.invokeMs) || !Number.isFinite(e.completeMs)) return "times must be finite numbers";
  if (e.completeMs < e.invokeMs) return "completes before it is invoked";
  if (e.op === "enqueue") {
    if (typeof e.value !== "string") return "enqueue without a value";
    if (e.outcome === "empty") return "enqueue cannot be empty";
    return null;
  }
  if (e.op !== "dequeue") return `unknown op ${String(e.op)}`;
  if (e.outcome === "ok" && typeof e.value !== "string") return "successful dequeue without a value";
  if (e.outcome !== "ok" && e.value !== undefined) return "only a successful dequeue carries a value";
  return null;
}

function view(queues: Map<string, QueueView>, name: string): QueueView {
  let queue = queues.get(name);
  if (queue === undefined) {
    queue = { enqueues: new Map(), dequeues: new Map(), empties: [], unknownDequeueCount: 0 };
    queues.set(name, queue);
  }
  return queue;
}

function index(history: readonly HistoryEvent[], out: Violation[]): Map<string, QueueView> {
  const queues = new Map<string, QueueView>();
  const enqueuedAnywhere = new Map<string, Op>();
  history.forEach((event, at) => {
    const op: Op = { at, event, queue: event.queue ?? "default" };
    const problem = malformation(event);
    if (problem !== null) {
      out.push({ kind: "malformed", description: `${describe(op)}: ${problem}`, events: [at] });
      return;
    }
    const queue = view(queues, op.queue);
    const value = event.value!;
    if (event.op === "enqueue") {
      const earlier = enqueuedAnywhere.get(value);
      if (earlier !== undefined) {
        out.push({
          kind: "repeated-enqueue-value",
          description: `${describe(op)} repeats the value of ${describe(earlier)}; values must be unique`,
          events: [earlier.at, at],
        });
        return;
      }
      enqueuedAnywhere.set(value, op);
      queue.enqueues.set(value, op);
    } else if (event.outcome === "ok") {
      const list = queue.dequeues.get(value) ?? [];
      list.push(op);
      queue.dequeues.set(value, list);
    } else if (event.outcome === "empty") queue.empties.push(op);
    else queue.unknownDequeueCount += 1;
  });
  return queues;
}

function checkDequeues(queue: QueueView, out: Violation[]): void {
  for (const [value, dequeues] of queue.dequeues) {
    const enqueue = queue.enqueues.get(value);
    if (enqueue === undefined) {
      for (const d of dequeues) {
        out.push({ kind: "phantom", description: `${describe(d)}: no enqueue of this value on ${d.queue}`, events: [d.at] });
      }
      continue;
    }
    if (dequeues.length > 1) {
      out.push({
        kind: "duplicate",
        description: `${JSON.stringify(value)} dequeued ${dequeues.length} times: ${dequeues.map(describe).join("; ")}`,
        events: dequeues.map((d) => d.at),
      });
    }
    for (const d of dequeues) {
      if (d.event.completeMs < enqueue.event.invokeMs) {
        out.push({
          kind: "causality",
          description: `${describe(d)} completed before ${describe(enqueue)} was invoked`,
          events: [enqueue.at, d.at],
        });
      }
    }
  }
}

function checkLost(name: string, queue: QueueView, out: Violation[]): void {
  const missing: Op[] = [];
  for (const [value, enqueue] of queue.enqueues) {
    if (enqueue.event.outcome === "ok" && !queue.dequeues.has(value)) missing.push(enqueue);
  }
  if (missing.length <= queue.unknownDequeueCount) return;
  const shown = missing.slice(0, 10).map(describe).join("; ");
  out.push({
    kind: "lost",
    description:
      `${missing.length} acknowledged enqueues on ${name} were never dequeued, but only ` +
      `${queue.unknownDequeueCount} dequeues had an unknown outcome: ${shown}${missing.length > 10 ? "; ..." : ""}`,
    events: missing.map((m) => m.at),
  });
}

/** The first (by invocation) successful dequeue of a value, if any. */
function firstDequeue(queue: QueueView, value: string): Op | undefined {
  const list = queue.dequeues.get(value);
  if (list === undefined) return undefined;
  return list.reduce((a, b) => (b.event.invokeMs < a.event.invokeMs ? b : a));
}

function checkFifo(queue: QueueView, out: Violation[]): void {
  const byProducer = new Map<string, Op[]>();
  for (const enqueue of queue.enqueues.values()) {
    const list = byProducer.get(enqueue.event.client) ?? [];
    list.push(enqueue);
    byProducer.set(enqueue.event.client, list);
  }
  for (const enqueues of byProducer.values()) {
    enqueues.sort((a, b) => a.event.invokeMs - b.event.invokeMs || a.at - b.at);
    const sequential = enqueues.every((e, i) => i === 0 || e.event.invokeMs >= enqueues[i - 1]!.event.completeMs);
    if (!sequential) continue; // the rule needs a real-time order between the producer's enqueues
    // Among earlier acknowledged enqueues that were dequeued: the latest dequeue invocation.
    let latest: { enqueue: Op; dequeue: Op } | null = null;
    for (const enqueue of enqueues) {
      const dequeue = firstDequeue(queue, enqueue.event.value!);
      if (dequeue === undefined) continue;
      if (latest !== null && latest.dequeue.event.invokeMs > dequeue.event.completeMs) {
        out.push({
          kind: "fifo",
          description:
            `${describe(latest.enqueue)} precedes ${describe(enqueue)}, but ${describe(dequeue)} ` +
            `completed before ${describe(latest.dequeue)} was invoked`,
          events: [latest.enqueue.at, enqueue.at, dequeue.at, latest.dequeue.at],
        });
      }
      if (enqueue.event.outcome === "ok" && (latest === null || dequeue.event.invokeMs > latest.dequeue.event.invokeMs)) {
        latest = { enqueue, dequeue };
      }
    }
  }
}

function checkEmpty(queue: QueueView, out: Violation[]): void {
  // A value is certainly queued from its acknowledged enqueue's completion to its dequeue's invocation.
  const present: { from: number; until: number; enqueue: Op; dequeue: Op }[] = [];
  for (const [value, enqueue] of queue.enqueues) {
    const dequeue = firstDequeue(queue, value);
    if (enqueue.event.outcome !== "ok" || dequeue === undefined) continue;
    present.push({ from: enqueue.event.completeMs, until: dequeue.event.invokeMs, enqueue, dequeue });
  }
  present.sort((a, b) => a.from - b.from);
  const empties = [...queue.empties].sort((a, b) => a.event.invokeMs - b.event.invokeMs);
  let next = 0;
  let witness: (typeof present)[number] | null = null; // the added interval reaching furthest
  for (const empty of empties) {
    while (next < present.length && present[next]!.from < empty.event.invokeMs) {
      const candidate = present[next++]!;
      if (witness === null || candidate.until > witness.until) witness = candidate;
    }
    if (witness !== null && witness.until > empty.event.completeMs) {
      out.push({
        kind: "empty",
        description:
          `${describe(empty)} answered EMPTY although ${JSON.stringify(witness.enqueue.event.value)} was queued ` +
          `throughout (${describe(witness.enqueue)}; ${describe(witness.dequeue)})`,
        events: [empty.at, witness.enqueue.at, witness.dequeue.at],
      });
    }
  }
}

/** Every violation found in `history` (empty when the history is consistent). */
export function checkHistory(history: readonly HistoryEvent[]): Violation[] {
  const out: Violation[] = [];
  const queues = index(history, out);
  for (const [name, queue] of queues) {
    checkDequeues(queue, out);
    checkLost(name, queue, out);
    checkFifo(queue, out);
    checkEmpty(queue, out);
  }
  return out;
}

/** One line per violation, at most `limit` lines, for a test failure message. */
export function formatViolations(violations: readonly Violation[], limit = 20): string {
  const lines = violations.slice(0, limit).map((v) => `${v.kind}: ${v.description}`);
  if (violations.length > limit) lines.push(`... and ${violations.length - limit} more`);
  return lines.join("\n");
}
