/**
 * The admin endpoint over real HTTP, on a 3-node cluster of real raftd processes with
 * --admin 127.0.0.1:0: /status shape (leader's and a follower's view), /log paging, bounds and
 * 400s, /metrics content (role, progress, client requests, latency histograms, queue depth,
 * elections after the leader is killed), CORS, methods, static files, and `raftctl dashboard`.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { TestCluster } from "../support/test-cluster";
import { adminUrl, getJson, getText, metric } from "./helpers";

const version = (JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as { version: string }).version;

t.test("admin endpoint on a 3-node cluster", async (t) => {
  const cluster = new TestCluster({ nodes: 3, seed: 71, raftdArgs: ["--admin", "127.0.0.1:0"] });
  t.teardown(() => cluster.cleanup());
  try {
    await cluster.start();
    const urls = await Promise.all(cluster.members.map((m) => adminUrl(m.process)));
    const leaderId = (await cluster.status()).leader;
    const leaderIndex = cluster.indexOf(leaderId);
    const followerIndex = (leaderIndex + 1) % 3;
    const leaderUrl = urls[leaderIndex] ?? "";
    const followerUrl = urls[followerIndex] ?? "";

    const client = cluster.client();
    for (let i = 0; i < 5; i++) await client.execute("enqueue", "jobs", `job-${i}`);
    await client.execute("enqueue", "big", "x".repeat(1000));
    await client.execute("dequeue", "jobs", "");

    await t.test("GET /status on the leader", async (t) => {
      const { status, body, headers } = await getJson(`${leaderUrl}/status`);
      t.equal(status, 200);
      t.equal(headers.get("access-control-allow-origin"), "*", "CORS header");
      t.match(headers.get("content-type"), /application\/json/);
      t.equal(body.id, leaderId);
      t.equal(body.role, "leader");
      t.equal(body.leader, leaderId);
      t.equal(body.version, version, "package.json version");
      t.equal(body.adminUrl, leaderUrl, "its own admin URL");
      t.equal(body.adminPortOffset, null, "explicit --admin: no port convention");
      for (const key of ["term", "commitIndex", "appliedIndex", "lastIndex", "firstIndex", "snapshotIndex", "uptimeMs", "clientRequests", "heartbeatMs"]) {
        t.type(body[key], "number", `${key} is a number`);
      }
      t.ok((body.commitIndex as number) >= 8, "the 7 commands (and config/noop entries) committed");
      t.ok((body.appliedIndex as number) <= (body.commitIndex as number), "applied <= commit");
      t.same(body.queues, [{ queue: "jobs", length: 4 }, { queue: "big", length: 1 }], "queue lengths");
      const members = body.members as Array<Record<string, unknown>>;
      t.equal(members.length, 3);
      t.same(members.map((m) => m.id).sort(), [...cluster.addresses].sort());
      for (const member of members) {
        t.type(member.matchIndex, "number", "the leader knows every match index");
        t.type(member.lag, "number");
        t.ok((member.lag as number) >= 0, "lag >= 0");
        t.type(member.lastContactMs, "number", "the leader heard from every member");
        t.equal(member.voter, true);
        t.equal(member.adminUrl, member.id === leaderId ? leaderUrl : null, "only its own admin URL is known without --admin auto");
      }
      t.equal(members.filter((m) => m.role === "leader").length, 1);
    });

    await t.test("GET /status on a follower", async (t) => {
      const { body } = await getJson(`${followerUrl}/status`);
      t.equal(body.role, "follower");
      t.equal(body.leader, leaderId, "knows the leader");
      const members = body.members as Array<Record<string, unknown>>;
      const others = members.filter((m) => m.id !== body.id);
      t.ok(others.every((m) => m.matchIndex === null && m.lag === null && m.reachable === null), "a follower has no progress to report");
      const leader = members.find((m) => m.id === leaderId);
      t.type(leader?.lastContactMs, "number", "time since the leader's last message");
    });

    await t.test("GET /log pages and bounds", async (t) => {
      const latest = await getJson(`${leaderUrl}/log?limit=3`);
      t.equal(latest.status, 200);
      const entries = latest.body.entries as Array<Record<string, unknown>>;
      t.equal(entries.length, 3, "limit respected");
      t.equal(entries[2]?.index, latest.body.lastIndex, "no from: the latest page");
      t.equal(entries[2]?.op, "dequeue");
      t.equal(entries[1]?.op, "enqueue");
      t.equal(entries[1]?.valueTruncated, true, "long values are cut");
      t.equal((entries[1]?.value as string).length, 200);
      const all = await getJson(`${leaderUrl}/log?from=0&limit=1000`);
      const allEntries = all.body.entries as Array<Record<string, unknown>>;
      t.equal(allEntries[0]?.index, all.body.firstIndex, "from below the first index starts at the first entry");
      t.equal(allEntries[0]?.kind, "config");
      const values = allEntries.filter((e) => e.op === "enqueue" && e.queue === "jobs").map((e) => e.value);
      t.same(values, ["job-0", "job-1", "job-2", "job-3", "job-4"], "enqueued values in log order");
      for (const e of allEntries) {
        t.same(Object.keys(e).sort(), ["clientId", "index", "kind", "op", "queue", "seq", "term", "value", "valueTruncated"]);
      }
      const past = await getJson(`${leaderUrl}/log?from=${(all.body.lastIndex as number) + 1}`);
      t.same(past.body.entries, [], "from past the end: empty page");
      for (const bad of ["limit=0", "limit=1001", "limit=abc", "from=-1", "from=1.5", "bogus=1"]) {
        const answer = await getJson(`${leaderUrl}/log?${bad}`);
        t.equal(answer.status, 400, `${bad}: 400`);
        t.equal(answer.body.ok, false);
        t.equal(answer.body.error, "BAD_REQUEST");
        t.type(answer.body.message, "string");
      }
    });

    await t.test("GET /metrics", async (t) => {
      const { status, text, headers } = await getText(`${leaderUrl}/metrics`);
      t.equal(status, 200);
      t.match(headers.get("content-type"), /text\/plain/);
      t.equal(metric(text, "raftmq_role", { role: "leader", node: leaderId }), 1);
      t.equal(metric(text, "raftmq_role", { role: "follower" }), 0);
      t.ok((metric(text, "raftmq_term") ?? 0) >= 1);
      t.ok((metric(text, "raftmq_commit_index") ?? 0) >= 8);
      for (const peer of cluster.addresses.filter((a) => a !== leaderId)) {
        t.type(metric(text, "raftmq_peer_match_index", { peer }), "number", `match index of ${peer}`);
        t.type(metric(text, "raftmq_peer_replication_lag_entries", { peer }), "number");
      }
      t.ok((metric(text, "raftmq_client_requests_total", { op: "enqueue", result: "ok" }) ?? 0) >= 6, "enqueues counted");
      t.ok((metric(text, "raftmq_client_requests_total", { op: "dequeue", result: "ok" }) ?? 0) >= 1, "dequeue counted");
      t.ok((metric(text, "raftmq_client_request_seconds_count", { op: "enqueue" }) ?? 0) >= 6, "latency histogram per op");
      t.type(metric(text, "raftmq_client_request_seconds_bucket", { op: "enqueue", le: "+Inf" }), "number");
      t.ok((metric(text, "raftmq_storage_persist_seconds_count") ?? 0) >= 1, "persist latency observed");
      t.ok((metric(text, "raftmq_raft_rpc_seconds_count", { kind: "append" }) ?? 0) >= 1, "append round trips measured");
      t.ok((metric(text, "raftmq_raft_rpc_seconds_count", { kind: "heartbeat" }) ?? 0) >= 1, "heartbeat round trips measured");
      t.type(metric(text, "raftmq_raft_rpc_unpaired_total"), "number");
      t.equal(metric(text, "raftmq_queue_depth", { queue: "jobs" }), 4);
      t.equal(metric(text, "raftmq_queue_depth", { queue: "big" }), 1);
      t.type(metric(text, "raftmq_frames_duplicate_total"), "number");
      t.match(text, /# TYPE raftmq_frames_rejected_total counter/);
      t.match(text, /# TYPE raftmq_elections_won_total counter/);
      const follower = await getText(`${followerUrl}/metrics`);
      t.equal(metric(follower.text, "raftmq_role", { role: "follower" }), 1);
      t.equal(metric(follower.text, "raftmq_peer_match_index"), null, "no progress series on a follower");
    });

    await t.test("methods, CORS preflight, static files, 404", async (t) => {
      t.equal((await getText(`${leaderUrl}/status`, { method: "POST" })).status, 405);
      const preflight = await getText(`${leaderUrl}/status`, { method: "OPTIONS" });
      t.equal(preflight.status, 204);
      t.equal(preflight.headers.get("access-control-allow-origin"), "*");
      const page = await getText(`${leaderUrl}/`);
      t.equal(page.status, 200);
      t.match(page.headers.get("content-type"), /text\/html/);
      t.match(page.text, /<script src="dashboard.js">/);
      const script = await getText(`${leaderUrl}/dashboard.js`);
      t.match(script.headers.get("content-type"), /javascript/);
      t.match(script.text, /function render/);
      const missing = await getText(`${leaderUrl}/nope`);
      t.equal(missing.status, 404);
    });

    await t.test("raftctl dashboard", async (t) => {
      const explicit = await cluster.processes.raftctl(["--cluster", cluster.addresses.join(","), "--admin", followerUrl.replace("http://", ""), "dashboard"]);
      t.equal(explicit.code, 0, explicit.stderr);
      t.equal(explicit.json?.url, `${followerUrl}/`);
      t.equal(explicit.json?.node, cluster.addresses[followerIndex]);
      const guessed = await cluster.processes.raftctl(["--cluster", cluster.addresses.join(","), "dashboard"]);
      t.equal(guessed.code, 1, "no --admin auto here: the raft port + 1000 guess finds nothing");
      t.equal(guessed.json?.error, "ADMIN_UNAVAILABLE");
    });

    await t.test("elections are counted", async (t) => {
      await cluster.kill(leaderIndex);
      const next = await cluster.status();
      t.not(next.leader, leaderId, "a new leader");
      const nextUrl = urls[cluster.indexOf(next.leader)] ?? "";
      const { text } = await getText(`${nextUrl}/metrics`);
      t.equal(metric(text, "raftmq_elections_won_total"), 1, "the new leader won one election");
      t.ok((metric(text, "raftmq_elections_started_total") ?? 0) >= 1, "after starting at least one");
      const { body } = await getJson(`${nextUrl}/status`);
      const dead = (body.members as Array<Record<string, unknown>>).find((m) => m.id === leaderId);
      t.type(dead?.lastContactMs, "number", "the dead leader is still a member, last heard from some time ago");
    });
  } catch (error) {
    t.comment(cluster.dump());
    throw error;
  }
});
