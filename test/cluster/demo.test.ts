/**
 * The course demo as an automated test (issue 5), every byte through a fault proxy that delays
 * and corrupts 5% of the segments of every connection:
 *   6 nodes; enqueue 1 2 3 s i s sent to a node that is not the leader; kill the leader and one
 *   more node; a new leader is elected among the 4; dequeue three times (1 2 3); enqueue t e r;
 *   restart the two killed nodes on the same addresses, joining the new leader; enqueue U w U
 *   sent to one of the restarted nodes; the leader's log lists every command exactly once, in
 *   order; dequeuing the rest yields s i s t e r U w U.
 *
 * DEMO_SLOW=1 runs it with every chunk delayed by about one second each way and the slow-link
 * flags of the README (not in CI: it takes minutes).
 */
import t from "tap";
import type { ClusterClient } from "../../src/client/cluster-client";
import { TestCluster } from "../support/test-cluster";

async function enqueueAll(client: ClusterClient, values: string[]): Promise<void> {
  for (const value of values) await client.execute("enqueue", "default", value);
}

async function dequeueN(client: ClusterClient, count: number): Promise<string[]> {
  const values: string[] = [];
  for (let i = 0; i < count; i++) values.push((await client.execute("dequeue", "default")).value);
  return values;
}

const slow = process.env.DEMO_SLOW === "1";
const faults = slow ? { delayMs: 950, jitterMs: 100, corruptRate: 0.05 } : { delayMs: 2, jitterMs: 4, corruptRate: 0.05 };
const raftdArgs = slow ? ["--heartbeat-ms", "1000", "--election-timeout-ms", "10000"] : [];
const clientTimeoutMs = slow ? 120_000 : 30_000;

t.test(`course demo through 5% corruption${slow ? " and 1 s delays" : ""}`, async (t) => {
  const cluster = new TestCluster({ nodes: 6, seed: 2024, faults, raftdArgs, waitMs: slow ? 300_000 : 60_000 });
  t.teardown(() => cluster.cleanup());
  try {
    await cluster.start();
    const first = await cluster.status();
    const oldLeader = cluster.indexOf(first.leader);
    t.ok(oldLeader >= 0, "a leader among the six");
    const notLeader = cluster.addresses.findIndex((_, i) => i !== oldLeader);

    await enqueueAll(cluster.client([notLeader], clientTimeoutMs), ["1", "2", "3", "s", "i", "s"]);

    const victim = cluster.addresses.findIndex((_, i) => i !== oldLeader && i !== notLeader);
    await cluster.kill(oldLeader);
    await cluster.kill(victim);
    const survivors = cluster.members.map((_, i) => i).filter((i) => i !== oldLeader && i !== victim);
    const second = await cluster.status(clientTimeoutMs);
    const newLeader = cluster.indexOf(second.leader);
    t.ok(survivors.includes(newLeader), "a new leader among the four");
    t.ok(second.term > first.term, "in a later term");

    const leaderClient = cluster.client([newLeader], clientTimeoutMs);
    t.same(await dequeueN(leaderClient, 3), ["1", "2", "3"], "the first three, in order");
    await enqueueAll(leaderClient, ["t", "e", "r"]);

    for (const i of [oldLeader, victim]) cluster.startNode(i, second.leader);
    await Promise.all([oldLeader, victim].map((i) => cluster.members[i]!.process!.waitForEvent("listening", clientTimeoutMs)));
    await enqueueAll(cluster.client([victim], clientTimeoutMs), ["U", "w", "U"]);

    const final = await cluster.status(clientTimeoutMs);
    const log = await cluster.client([cluster.indexOf(final.leader)], clientTimeoutMs).call({ type: "LogRequest", body: { fromIndex: 0, limit: 0 } });
    if (log.type !== "LogReply") throw new Error(`unexpected ${log.type}`);
    t.equal(log.body.leader, final.leader, "the log comes from the leader");
    const commands = log.body.entries.filter((e) => e.kind === "normal").map((e) => (e.op === "enqueue" ? e.value : "-"));
    t.same(commands, ["1", "2", "3", "s", "i", "s", "-", "-", "-", "t", "e", "r", "U", "w", "U"], "every command exactly once, in order");

    t.same(await dequeueN(cluster.client(undefined, clientTimeoutMs), 9), ["s", "i", "s", "t", "e", "r", "U", "w", "U"], "the rest in FIFO order");
    await t.rejects(cluster.client(undefined, clientTimeoutMs).execute("dequeue", "default"), { code: "EMPTY" }, "and then nothing");
    const corrupted = cluster.members.reduce((sum, m) => sum + (m.proxy?.stats.chunksCorrupted ?? 0), 0);
    t.ok(corrupted > 0, `the proxies corrupted ${corrupted} segments along the way`);
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});
