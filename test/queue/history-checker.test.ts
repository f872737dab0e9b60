// The chaos-test history checker (test/support/history-checker.ts): hand-made good histories
// pass, every hand-made bad one is caught with the right kind, and histories generated from a
// simulated linearizable queue (concurrent clients, timeouts, late effects) pass while their
// mutations (a lost message, a duplicate delivery, swapped order) are caught.
import t from "tap";
import { checkHistory, formatViolations, HistoryEvent, ViolationKind } from "../support/history-checker";
import { SeededRng } from "../../src/util/rng";

function enq(client: string, value: string, invokeMs: number, completeMs: number, outcome: "ok" | "unknown" = "ok", queue?: string): HistoryEvent {
  return { client, op: "enqueue", value, invokeMs, completeMs, outcome, ...(queue === undefined ? {} : { queue }) };
}

function deq(client: string, value: string | null, invokeMs: number, completeMs: number, outcome?: "ok" | "empty" | "unknown", queue?: string): HistoryEvent {
  const resolved = outcome ?? (value === null ? "empty" : "ok");
  return {
    client,
    op: "dequeue",
    invokeMs,
    completeMs,
    outcome: resolved,
    ...(value === null ? {} : { value }),
    ...(queue === undefined ? {} : { queue }),
  };
}

function kinds(history: HistoryEvent[]): ViolationKind[] {
  return checkHistory(history).map((v) => v.kind);
}

t.test("good histories have no violations", async (t) => {
  const cases: [string, HistoryEvent[]][] = [
    ["sequential producer and consumer, then drain", [
      enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c", "a", 4, 5), deq("c", "b", 6, 7), deq("c", null, 8, 9),
    ]],
    ["overlapping dequeues may return in either order", [
      enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c1", "b", 4, 10), deq("c2", "a", 5, 11),
    ]],
    ["unknown enqueue: dequeued or not, both fine", [
      enq("p", "a", 0, 1, "unknown"), enq("p", "b", 2, 3, "unknown"), deq("c", "b", 4, 5), deq("c", null, 6, 7),
    ]],
    ["a missing acknowledged value may have gone to a dequeue with unknown outcome", [
      enq("p", "a", 0, 1), deq("c", null, 2, 9, "unknown"), deq("c", null, 10, 11),
    ]],
    ["EMPTY concurrent with the enqueue is fine", [
      enq("p", "a", 0, 10), deq("c", null, 5, 6), deq("c", "a", 11, 12),
    ]],
    ["EMPTY after the value's dequeue was invoked is fine", [
      enq("p", "a", 0, 1), deq("c1", "a", 2, 20), deq("c2", null, 3, 4),
    ]],
    ["queues are independent", [
      enq("p", "a", 0, 1, "ok", "q1"), enq("p", "b", 2, 3, "ok", "q2"), deq("c", "b", 4, 5, "ok", "q2"),
      deq("c", null, 6, 7, "empty", "q2"), deq("c", "a", 8, 9, "ok", "q1"),
    ]],
    ["unknown earlier enqueue may land after a later one", [
      enq("p", "a", 0, 1, "unknown"), enq("p", "b", 2, 3), deq("c", "b", 4, 5), deq("c", "a", 6, 7),
    ]],
    ["empty values are values", [enq("p", "", 0, 1), deq("c", "", 2, 3)]],
  ];
  for (const [what, history] of cases) t.same(checkHistory(history), [], what);
});

t.test("every bad history is caught, with the right kind", async (t) => {
  const cases: [string, ViolationKind, HistoryEvent[]][] = [
    ["acknowledged enqueue never dequeued", "lost", [enq("p", "a", 0, 1), deq("c", null, 2, 3)]],
    ["two missing, one unknown dequeue", "lost", [enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c", null, 4, 9, "unknown")]],
    ["dequeued a value nobody enqueued", "phantom", [enq("p", "a", 0, 1), deq("c", "a", 2, 3), deq("c", "zzz", 4, 5)]],
    ["dequeued from the wrong queue", "phantom", [enq("p", "a", 0, 1, "ok", "q1"), deq("c", "a", 2, 3, "ok", "q2")]],
    ["value dequeued twice", "duplicate", [enq("p", "a", 0, 1), deq("c1", "a", 2, 3), deq("c2", "a", 4, 5)]],
    ["dequeued before enqueued", "causality", [deq("c", "a", 0, 1), enq("p", "a", 2, 3)]],
    ["producer order reversed", "fifo", [enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c", "b", 4, 5), deq("c", "a", 6, 7)]],
    ["order reversed across consumers", "fifo", [enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c1", "b", 4, 5), deq("c2", "a", 6, 7)]],
    ["order reversed, with an unknown later enqueue", "fifo", [
      enq("p", "a", 0, 1), enq("p", "b", 2, 3, "unknown"), deq("c", "b", 4, 5), deq("c", "a", 6, 7),
    ]],
    ["EMPTY while a value was certainly queued", "empty", [enq("p", "a", 0, 1), deq("c1", null, 2, 3), deq("c2", "a", 4, 5)]],
    ["enqueue without a value", "malformed", [{ client: "p", op: "enqueue", invokeMs: 0, completeMs: 1, outcome: "ok" }]],
    ["completes before invoked", "malformed", [enq("p", "a", 5, 1)]],
    ["same value enqueued twice", "repeated-enqueue-value", [enq("p", "a", 0, 1), enq("q", "a", 2, 3), deq("c", "a", 4, 5)]],
  ];
  for (const [what, kind, history] of cases) {
    const found = kinds(history);
    t.ok(found.includes(kind), `${what}: expected ${kind}, got ${JSON.stringify(found)}`);
  }
  const described = checkHistory([enq("p", "a", 0, 1), enq("p", "b", 2, 3), deq("c", "b", 4, 5), deq("c", "a", 6, 7)]);
  t.match(formatViolations(described), /fifo: .*"a".*precedes.*"b"/, "descriptions name the values");
});

interface SimOp {
  event: HistoryEvent;
  effectMs: number | null; // when it takes effect; null: never
}

/** A history of a correct (linearizable) queue with concurrent clients and timeouts. */
function simulate(seed: number, timeoutChance = 0.15): HistoryEvent[] {
  const rng = new SeededRng(seed);
  const ops: SimOp[] = [];
  let nextValue = 0;
  for (let c = 0; c < 6; c++) {
    const producer = c < 3;
    let nowMs = rng.nextInt(10);
    for (let i = 0; i < 40; i++) {
      const invokeMs = nowMs + rng.nextInt(5);
      const effectMs = invokeMs + 1 + rng.nextInt(20);
      let completeMs = effectMs + 1 + rng.nextInt(10);
      let outcome: "ok" | "unknown" = "ok";
      let effect: number | null = effectMs;
      if (rng.chance(timeoutChance)) {
        // Timed out: the client gives up early; the operation lands late, or never.
        outcome = "unknown";
        completeMs = invokeMs + 1 + rng.nextInt(5);
        effect = rng.chance(0.5) ? null : completeMs + rng.nextInt(50);
      }
      const event: HistoryEvent = producer
        ? { client: `p${c}`, op: "enqueue", value: `v${nextValue++}`, invokeMs, completeMs, outcome }
        : { client: `c${c}`, op: "dequeue", invokeMs, completeMs, outcome };
      ops.push({ event, effectMs: effect });
      nowMs = completeMs;
    }
  }
  // Apply effects in time order to a real FIFO, filling in what the dequeues got.
  const queue: string[] = [];
  const effective = ops.filter((o) => o.effectMs !== null).sort((a, b) => a.effectMs! - b.effectMs!);
  for (const op of effective) {
    if (op.event.op === "enqueue") queue.push(op.event.value!);
    else if (op.event.outcome === "ok") {
      const value = queue.shift();
      if (value === undefined) op.event.outcome = "empty";
      else op.event.value = value;
    } else queue.shift(); // unknown outcome: took one (or found nothing), nobody saw it
  }
  const history = ops.map((o) => o.event);
  let drainMs = 10_000;
  for (const value of queue) history.push(deq("drain", value, drainMs++, drainMs++));
  history.push(deq("drain", null, drainMs++, drainMs++));
  return history;
}

t.test("simulated correct histories pass; their mutations are caught", async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const history = simulate(seed);
    const violations = checkHistory(history);
    t.same(violations, [], `seed ${seed}: correct history\n${formatViolations(violations)}`);
    const okDequeues = history.map((e, i) => [e, i] as const).filter(([e]) => e.op === "dequeue" && e.outcome === "ok");
    t.ok(okDequeues.length > 20, `seed ${seed}: ${okDequeues.length} successful dequeues`);

    const ackedValues = new Set(history.filter((e) => e.op === "enqueue" && e.outcome === "ok").map((e) => e.value));
    const candidates = okDequeues.filter(([e]) => ackedValues.has(e.value));
    const [victim, victimAt] = candidates[seed % candidates.length]!;
    // Losing an acknowledged message: drop its dequeue, and the unknown-outcome dequeues that
    // could otherwise explain its absence.
    const lost = history.filter((e, i) => i !== victimAt && !(e.op === "dequeue" && e.outcome === "unknown"));
    const lostEvents = checkHistory(lost).filter((v) => v.kind === "lost").flatMap((v) => v.events);
    t.ok(lostEvents.some((i) => lost[i]!.value === victim.value), `seed ${seed}: lost ${victim.value} caught`);
    // Delivering it twice.
    const twice = [...history, { ...victim, client: "again", invokeMs: 20_000, completeMs: 20_001 }];
    t.ok(kinds(twice).includes("duplicate"), `seed ${seed}: duplicate caught`);
    // Delivering something never sent.
    const phantom = [...history, deq("ghost", "never-sent", 20_000, 20_001)];
    t.ok(kinds(phantom).includes("phantom"), `seed ${seed}: phantom caught`);
  }
});

t.test("lost is caught in simulated histories without timeouts", async (t) => {
  const history = simulate(11, 0);
  t.same(checkHistory(history), [], "correct history");
  // Drop whichever dequeue returned an acknowledged value, leaving it undelivered.
  const at = history.findIndex((e) => e.op === "dequeue" && e.outcome === "ok");
  const lost = history.filter((_, i) => i !== at);
  t.ok(kinds(lost).includes("lost"));
});
