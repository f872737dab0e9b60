/**
 * Real raftd processes on 127.0.0.1, driven through real raftctl processes: a 3-node cluster
 * forms by --join, serves enqueue/dequeue/peek/length/log/status with the --json shapes of
 * issue 5, redirects from followers, and answers bad input with clear error codes while it
 * keeps serving.
 */
import net from "node:net";
import t from "tap";
import { TestCluster } from "../support/test-cluster";
import { freePort } from "../wire/harness";
import { encodeFrame } from "../../src/wire/frame";

t.test("a 3-node cluster serves raftctl", async (t) => {
  const cluster = new TestCluster({ nodes: 3, seed: 11 });
  t.teardown(() => cluster.cleanup());
  try {
    await cluster.start();
    const status = await cluster.status();
    t.equal(status.members.length, 3, "three members");
    t.equal(status.members.filter((m) => m.voter).length, 3, "all voters after promotion");
    t.equal(status.members.filter((m) => m.role === "leader").length, 1, "one leader");
    const follower = cluster.addresses.find((address) => address !== status.leader) ?? "";
    const ctl = (args: string[]) => cluster.processes.raftctl(["--cluster", follower, ...args]);

    const first = await ctl(["enqueue", "héllo wörld ✓"]);
    t.equal(first.code, 0, "enqueue through a follower succeeds (redirected)");
    t.equal(first.json?.ok, true);
    t.type(first.json?.index, "number");
    const empty = await ctl(["enqueue", ""]);
    t.equal(empty.code, 0, "an empty string is a valid message");
    t.same((await ctl(["length"])).json, { ok: true, length: 2 });
    t.same((await ctl(["peek"])).json, { ok: true, value: "héllo wörld ✓" });
    const taken = await ctl(["dequeue"]);
    t.equal(taken.json?.value, "héllo wörld ✓", "FIFO: first in, first out");
    t.equal((await ctl(["dequeue"])).json?.value, "", "then the empty string");
    const none = await ctl(["dequeue"]);
    t.equal(none.code, 1, "EMPTY exits non-zero");
    t.equal(none.json?.ok, false);
    t.equal(none.json?.error, "EMPTY");

    const named = await ctl(["--queue", "jobs", "enqueue", "j1"]);
    t.equal(named.code, 0);
    t.same((await ctl(["--queue", "jobs", "length"])).json, { ok: true, length: 1 }, "named queues are separate");
    t.same((await ctl(["length"])).json, { ok: true, length: 0 });

    const log = await ctl(["log"]);
    t.equal(log.code, 0);
    t.equal(log.json?.leader, status.leader, "log comes from the leader");
    const entries = (log.json?.entries ?? []) as Array<Record<string, unknown>>;
    const commands = entries.filter((e) => e.kind === "normal").map((e) => `${String(e.op)}${e.op === "enqueue" ? `:${String(e.value)}` : ""}`);
    t.same(commands, ["enqueue:héllo wörld ✓", "enqueue:", "dequeue", "dequeue", "dequeue", "enqueue:j1"], "every command once, in order");
    for (const entry of entries) {
      t.type(entry.index, "number");
      t.type(entry.term, "number");
    }

    const statusJson = (await ctl(["status"])).json as Record<string, unknown>;
    t.equal(statusJson.leader, status.leader);
    t.type(statusJson.term, "number");
    t.type(statusJson.commitIndex, "number");
    const members = statusJson.members as Array<Record<string, unknown>>;
    t.same(members.map((m) => Object.keys(m).sort()), Array(3).fill(["id", "matchIndex", "reachable", "role", "voter"]));

    // The REPL: the same commands, one per line, quotes keep spaces; errors do not end it.
    const repl = await cluster.processes.raftctlRepl(
      ["--cluster", follower, "--json", "--queue", "repl"],
      ['enqueue "two words"', "bogus", "length", "dequeue", "dequeue", "quit", "length"],
    );
    t.equal(repl.code, 0, "the REPL exits 0 on quit");
    const answers = repl.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    t.same(
      answers.map((a) => a.ok === true ? (a.value ?? a.length ?? "ok") : a.error),
      ["ok", "BAD_REQUEST", 1, "two words", "EMPTY"],
      "enqueue, a bad command, length, dequeue, EMPTY; nothing after quit",
    );

    // Bad input: clear codes, and the node keeps serving.
    const huge = await ctl(["enqueue", "x".repeat(70 * 1024)]);
    t.equal(huge.code, 1);
    t.equal(huge.json?.error, "VALUE_TOO_LARGE");
    const badQueue = await ctl(["--queue", "no spaces allowed", "enqueue", "v"]);
    t.equal(badQueue.json?.error, "BAD_REQUEST");
    const unknown = await ctl(["frobnicate"]);
    t.equal(unknown.code, 2, "unknown command is a usage error");
    t.equal(unknown.json?.error, "BAD_REQUEST");
    const arity = await ctl(["enqueue", "a", "b"]);
    t.equal(arity.code, 2);
    const badFlag = await cluster.processes.raftctl(["--cluster", follower, "--bogus", "status"]);
    t.equal(badFlag.code, 2);
    // Nobody listens on a freshly freed port: raftctl gives up after --timeout-ms with exit 1.
    const nowhere = await cluster.processes.raftctl(["--cluster", `127.0.0.1:${await freePort()}`, "--timeout-ms", "1500", "enqueue", "x"]);
    t.equal(nowhere.code, 1, "an unreachable cluster: exit 1 after the deadline");
    t.equal(nowhere.json?.error, "RPC_TIMEOUT");

    // Garbage and an oversized frame header at a node's client port: dropped, node still serves.
    for (const garbage of [Buffer.from("GET / HTTP/1.1\r\n\r\n"), oversizedFrameHeader()]) {
      await sendAndClose(status.leader, garbage);
    }
    const after = await ctl(["enqueue", "still alive"]);
    t.equal(after.code, 0, "node keeps serving after garbage");

    // A node of another cluster cannot join this one's peers: the handshake refuses it.
    const other = new TestCluster({ nodes: 1, seed: 12 });
    t.teardown(() => other.cleanup());
    await other.start();
    const stranger = other.members[0]!;
    const refused = await cluster.processes.raftctl(["--cluster", stranger.address, "add-server", follower], 30_000);
    t.equal(refused.code, 0, "the stranger's own leader accepts the add");
    const strangerStatus = await other.status();
    t.equal(strangerStatus.members.length, 2);
    // The stranger now tries to replicate to `follower`, whose wire layer refuses its cluster.
    const followerProc = cluster.members[cluster.indexOf(follower)]!.process!;
    const mismatch = await followerProc.waitFor((r) => r.code === "WIRE_CLUSTER_MISMATCH" || /cluster/i.test(String(r.msg)) && r.level === 40, 20_000, "cluster mismatch");
    t.ok(mismatch, "the frame from another cluster was refused and logged");
    t.equal((await ctl(["enqueue", "after stranger"])).code, 0, "and the node keeps serving");
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});

function oversizedFrameHeader(): Buffer {
  const frame = Buffer.from(encodeFrame({ typeCode: 1, flags: 0, clusterTag: 0, seq: 1, requestId: 0 }, new Uint8Array(8)));
  frame.writeUInt32BE(0xfffffff0, 8); // a huge length; the header checksum no longer matches
  return frame;
}

function sendAndClose(address: string, bytes: Buffer): Promise<void> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host, () => {
      socket.end(bytes);
    });
    socket.on("error", () => resolve()); // the node may reset the connection: that is the point
    socket.on("close", () => resolve());
    socket.setTimeout(5000, () => socket.destroy());
  });
}
