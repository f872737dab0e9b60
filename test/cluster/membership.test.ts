/**
 * Membership and lifecycle on real raftd processes (issue 5):
 *   - a follower that fell behind a compacted log catches up through a chunked InstallSnapshot
 *     (--snapshot-entries is tiny here), then leads and serves the whole queue;
 *   - transfer-leader and remove-server through raftctl;
 *   - a node restarted with an EMPTY data dir under a member's address is replaced (removed,
 *     then added back as a learner and promoted), and the cluster keeps every message;
 *   - SIGTERM on the leader hands leadership over and exits 0.
 */
import fs from "node:fs";
import t from "tap";
import { TestCluster } from "../support/test-cluster";

t.test("snapshot catch-up, transfer, removal, fresh replacement, graceful stop", async (t) => {
  const cluster = new TestCluster({ nodes: 3, seed: 31, raftdArgs: ["--snapshot-entries", "25", "--snapshot-log-fraction", "0"] });
  t.teardown(() => cluster.cleanup());
  try {
    await cluster.start();
    const first = await cluster.status();
    const lagging = cluster.addresses.findIndex((a) => a !== first.leader);
    await cluster.kill(lagging);
    const writer = cluster.client(cluster.members.map((_, i) => i).filter((i) => i !== lagging));
    const values = Array.from({ length: 120 }, (_, i) => `v${i}-${"x".repeat(i % 7)}`);
    for (const value of values) await writer.execute("enqueue", "default", value);

    cluster.startNode(lagging, null);
    const lagProc = cluster.members[lagging]!.process!;
    await lagProc.waitForEvent("snapshot-installed", 60_000);
    t.pass("the restarted follower received a snapshot");

    // Hand leadership to it: it must hold the whole queue to serve it.
    const ctl = (args: string[]) => cluster.processes.raftctl(["--cluster", cluster.addresses.join(","), ...args]);
    const leading = lagProc.waitFor((r) => r.event === "role" && r.role === "leader", 30_000, "becoming leader");
    const transfer = await ctl(["transfer-leader", cluster.addresses[lagging]!]);
    t.equal(transfer.code, 0, "transfer-leader accepted");
    await leading;
    const status = await cluster.status();
    t.equal(status.leader, cluster.addresses[lagging], "the caught-up node leads");
    t.same((await ctl(["length"])).json, { ok: true, length: values.length }, "and sees every message");
    t.equal((await ctl(["dequeue"])).json?.value, values[0], "in FIFO order");

    // Fresh data dir under a member's address: replaced, never voting on forgotten state.
    const fresh = cluster.addresses.findIndex((a) => a !== status.leader);
    await cluster.kill(fresh);
    fs.rmSync(cluster.members[fresh]!.dataDir, { recursive: true, force: true });
    cluster.startNode(fresh, status.leader);
    const freshProc = cluster.members[fresh]!.process!;
    await freshProc.waitForEvent("joined", 60_000);
    await cluster.waitForVoters(3, 60_000);
    const leaderProc = cluster.members[cluster.indexOf(status.leader)]!.process!;
    t.ok(leaderProc.lines.some((line) => line.includes('"event":"member-replace"')), "the leader replaced the old member");
    t.same((await ctl(["length"])).json, { ok: true, length: values.length - 1 }, "nothing lost");

    // remove-server, then the cluster goes on with two voters.
    const removed = cluster.addresses.findIndex((a, i) => a !== status.leader && i !== fresh);
    const removal = await ctl(["remove-server", cluster.addresses[removed]!]);
    t.equal(removal.code, 0, "remove-server accepted");
    t.notOk(((removal.json?.config as { voters: string[] }).voters).includes(cluster.addresses[removed]!), "no longer a voter");
    t.equal((await ctl(["enqueue", "after removal"])).code, 0, "two voters still commit");

    // Graceful stop of the leader: hands over, exits 0.
    const stopping = await leaderProc.kill("SIGTERM");
    t.equal(stopping.code, 0, "SIGTERM exits 0");
    t.ok(leaderProc.lines.some((line) => line.includes('"event":"transfer-on-stop"')), "leadership was handed over first");
    cluster.members[cluster.indexOf(status.leader)]!.process = null;
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});
