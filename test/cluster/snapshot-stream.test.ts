/**
 * InstallSnapshot streaming on real raftd processes (issue 4): a follower that fell behind a
 * compacted log gets a snapshot of many small chunks (--snapshot-chunk-bytes 4096), and its
 * connection is cut in the middle of the transfer (its proxy partitions after a fixed number
 * of bytes, then every connection is reset). It still ends up with the snapshot installed and
 * the whole queue; neither the leader nor the follower ever held more than one chunk of it, as
 * their log lines report.
 */
import t from "tap";
import { TestCluster } from "../support/test-cluster";

const chunkBytes = 4096;

t.test("a snapshot of many chunks survives a connection cut mid-transfer", async (t) => {
  const cluster = new TestCluster({ nodes: 3, seed: 44, faults: {}, raftdArgs: ["--snapshot-entries", "20", "--snapshot-log-fraction", "0", "--snapshot-chunk-bytes", String(chunkBytes)] });
  t.teardown(() => cluster.cleanup());
  try {
    await cluster.start();
    const first = await cluster.status();
    const leaderIndex = cluster.indexOf(first.leader);
    const lagging = cluster.addresses.findIndex((a) => a !== first.leader);
    await cluster.kill(lagging);
    const writer = cluster.client(cluster.members.map((_, i) => i).filter((i) => i !== lagging));
    const values = Array.from({ length: 60 }, (_, i) => `${i}:${"v".repeat(8000)}`);
    for (const value of values) await writer.execute("enqueue", "default", value);

    const proxy = cluster.members[lagging]!.proxy!;
    const cut = proxy.partitionAfter(150_000); // the snapshot is ~480 KB: this lands inside it
    cluster.startNode(lagging, null);
    const lagProc = cluster.members[lagging]!.process!;
    const leaderProc = cluster.members[leaderIndex]!.process!;
    const installed = lagProc.waitForEvent("snapshot-installed", 90_000);
    const received = lagProc.waitForEvent("snapshot-received", 90_000);
    await cut;
    t.notOk(lagProc.lines.some((line) => line.includes('"event":"snapshot-received"')), "the cut came before the snapshot was complete");
    proxy.resetAll();
    proxy.heal();
    const receivedRecord = await received;
    await installed;
    t.pass("the follower installed the snapshot after the cut");
    t.ok((receivedRecord.bytes as number) > 100 * chunkBytes, `the snapshot spans many chunks (${String(receivedRecord.bytes)} bytes)`);
    t.ok((receivedRecord.bytesHeldMax as number) <= chunkBytes, `the follower held at most one chunk (${String(receivedRecord.bytesHeldMax)})`);
    const sent = leaderProc.lines.filter((line) => line.includes('"event":"snapshot-sent"')).map((line) => JSON.parse(line) as Record<string, number>);
    t.ok(sent.length >= 1, "the leader logged its transfers");
    t.ok(sent.every((record) => record.bytesHeldMax! <= chunkBytes), `the leader held at most one chunk (${sent.map((r) => r.bytesHeldMax).join(",")})`);

    // The caught-up node must hold the whole queue to lead.
    const ctl = (args: string[]) => cluster.processes.raftctl(["--cluster", cluster.addresses.join(","), ...args]);
    const leading = lagProc.waitFor((r) => r.event === "role" && r.role === "leader", 30_000, "becoming leader");
    t.equal((await ctl(["transfer-leader", cluster.addresses[lagging]!])).code, 0, "transfer-leader accepted");
    await leading;
    t.same((await ctl(["length"])).json, { ok: true, length: values.length }, "it sees every message");
    t.equal((await ctl(["dequeue"])).json?.value, values[0], "in FIFO order");
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});
