/**
 * Chaos (issue 5): producers and consumers run concurrently against a 5-node cluster while
 * nodes are SIGKILLed and restarted at random (never more than two down, so a majority can
 * exist) and every node's proxy corrupts 5% of segments and now and then stalls; every node
 * snapshots every 40 entries, so snapshots are taken, cut by kills and installed. Then faults
 * stop, consumers drain the queue, and the recorded history is checked: every acknowledged
 * enqueue dequeued exactly once, nothing dequeued that was not enqueued, per-producer FIFO.
 *
 * Bounded: fixed seeded schedule of CHAOS_STEPS fault steps, per-operation client deadlines,
 * a drain bounded in operations; everything is torn down by cleanup().
 */
import t from "tap";
import type { ClusterClient } from "../../src/client/cluster-client";
import { isRaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";
import { checkHistory, formatViolations, type HistoryEvent } from "../support/history-checker";
import { TestCluster } from "../support/test-cluster";

const seed = Number(process.env.CHAOS_SEED ?? 7);
const chaosSteps = 10;
const producers = 3;
const consumers = 2;
const opTimeoutMs = 8_000;
const drainOpsMax = 5_000;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function record(history: HistoryEvent[], client: string, op: "enqueue" | "dequeue", run: () => Promise<string | null>, value?: string): Promise<void> {
  const invokeMs = Date.now();
  try {
    const got = await run();
    history.push({ client, op, invokeMs, completeMs: Date.now(), outcome: "ok", ...(op === "enqueue" ? { value } : { value: got ?? "" }) });
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    if (error.code === "EMPTY") history.push({ client, op, invokeMs, completeMs: Date.now(), outcome: "empty" });
    else history.push({ client, op, invokeMs, completeMs: Date.now(), outcome: "unknown", ...(op === "enqueue" ? { value } : {}) });
  }
}

t.test(`chaos: kills, restarts, corruption and stalls (seed ${seed})`, async (t) => {
  const rng = new SeededRng(seed);
  // Snapshots every 40 entries: nodes take them beside their loops while writes go on, are
  // killed in the middle of them, and catch up through InstallSnapshot after restarts.
  const cluster = new TestCluster({ nodes: 5, seed, faults: { delayMs: 1, jitterMs: 3, corruptRate: 0.05 }, raftdArgs: ["--snapshot-entries", "40", "--snapshot-log-fraction", "0"] });
  t.teardown(() => cluster.cleanup());
  const history: HistoryEvent[] = [];
  let running = true;
  try {
    await cluster.start();
    const clients: ClusterClient[] = [];
    for (let i = 0; i < producers + consumers; i++) clients.push(cluster.client(undefined, opTimeoutMs));
    const workers = clients.map(async (client, i) => {
      const name = i < producers ? `p${i}` : `c${i - producers}`;
      for (let n = 0; running; n++) {
        if (i < producers) {
          const value = `${name}-${n}`;
          await record(history, name, "enqueue", async () => (await client.execute("enqueue", "default", value), null), value);
        } else {
          await record(history, name, "dequeue", async () => (await client.execute("dequeue", "default")).value);
        }
      }
    });

    const down = new Set<number>();
    let kills = 0;
    let stalls = 0;
    for (let step = 0; step < chaosSteps; step++) {
      await pause(500 + rng.nextInt(1500));
      const victim = rng.nextInt(cluster.members.length);
      if (down.has(victim)) {
        cluster.startNode(victim, null);
        await cluster.members[victim]!.process!.waitForEvent("listening", 30_000);
        down.delete(victim);
      } else if (down.size < 2) {
        await cluster.kill(victim);
        down.add(victim);
        kills += 1;
      } else {
        const proxy = cluster.members[victim]!.proxy!;
        proxy.stall();
        stalls += 1;
        await pause(300 + rng.nextInt(700));
        proxy.resume();
      }
    }
    for (const i of down) {
      cluster.startNode(i, null);
      await cluster.members[i]!.process!.waitForEvent("listening", 30_000);
    }
    for (const member of cluster.members) member.proxy!.config.corruptRate = 0;
    running = false;
    await Promise.all(workers);

    // Drain: dequeue until EMPTY twice in a row, through a fresh client.
    const drainer = cluster.client(undefined, 30_000);
    let empties = 0;
    for (let n = 0; n < drainOpsMax && empties < 2; n++) {
      const before = history.length;
      await record(history, "drain", "dequeue", async () => (await drainer.execute("dequeue", "default")).value);
      empties = history[before]!.outcome === "empty" ? empties + 1 : 0;
    }
    t.equal(empties, 2, "the drain reached an empty queue");

    const acked = history.filter((e) => e.op === "enqueue" && e.outcome === "ok").length;
    const dequeued = history.filter((e) => e.op === "dequeue" && e.outcome === "ok").length;
    const unknown = history.filter((e) => e.outcome === "unknown").length;
    t.ok(kills > 0, `${kills} nodes SIGKILLed, ${stalls} stalls`);
    t.ok(acked > 0, `producers got ${acked} enqueues acknowledged under chaos (the check is not vacuous)`);
    t.comment(`history: ${history.length} ops, ${acked} enqueues acked, ${dequeued} dequeued, ${unknown} unknown outcomes`);
    const violations = checkHistory(history);
    t.same(violations.map((v) => v.kind), [], formatViolations(violations));
  } catch (error) {
    running = false;
    t.comment(cluster.dump());
    throw error;
  }
});
