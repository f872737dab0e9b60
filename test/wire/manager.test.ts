// ConnectionManager over real loopback sockets: calls and one-way sends, handshake refusals,
// per-RPC timeouts, reconnect after a peer restart, giving up on an unreachable peer, garbage from
// strangers, duplicate and replayed frames, oversize messages, option validation, clean close.
import t from "tap";
import * as net from "node:net";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { ConnectionManager, type InboundMessage } from "../../src/wire/manager";
import { decodeBody, encodeBody, isKnownTypeCode, typeCodeOf, type WireMessage } from "../../src/wire/codec";
import { clusterTagOf, encodeFrame, type Frame, FrameDecoder } from "../../src/wire/frame";
import { isRaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";
import { clusterId, enqueue, freePort, startClient, startNode, until, valueOf } from "./harness";

function rejectionCode(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => "resolved",
    (error: unknown) => (isRaftmqError(error) ? error.code : `untyped: ${String(error)}`),
  );
}

t.test("call, reply and one-way send between two peers", async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  const reply = await a.manager.call(b.id, enqueue("héllo ✓", 1));
  t.equal(valueOf(reply), "héllo ✓");
  t.ok(a.manager.send(b.id, { type: "TimeoutNow", body: { from: a.id, to: b.id, term: 9 } }));
  await until(() => b.inbound.length === 2, "one-way message");
  const oneWay = b.inbound[1]!;
  t.equal(oneWay.from, a.id);
  t.equal(oneWay.role, "peer");
  t.equal(oneWay.reply, null, "one-way messages cannot be answered");
  t.equal(oneWay.message.type === "TimeoutNow" && oneWay.message.body.term, 9);
  t.equal(a.manager.stats.connectsAttempted, 1, "one connection for both");
  const pong = await a.manager.call(b.id, { type: "Ping", body: { nonce: 77 } });
  t.same(pong.type === "Pong" && pong.body.nonce, 77, "the manager answers pings itself");
  t.equal(b.inbound.length, 2, "pings are not handed on");
});

t.test("flush() writes queued sends at once; without it they leave together at the end of the turn", async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  await a.manager.call(b.id, { type: "Ping", body: { nonce: 1 } }); // the link is open
  const timeoutNow = (term: number): WireMessage => ({ type: "TimeoutNow", body: { from: a.id, to: b.id, term } });
  const before = a.manager.stats.framesSent;
  t.ok(a.manager.send(b.id, timeoutNow(1)));
  t.ok(a.manager.send(b.id, timeoutNow(2)));
  t.equal(a.manager.stats.framesSent, before, "queued, not written yet");
  a.manager.flush();
  t.equal(a.manager.stats.framesSent, before + 2, "flush() wrote both before returning");
  t.ok(a.manager.send(b.id, timeoutNow(3)));
  await Promise.resolve(); // the pump scheduled by send() runs as a microtask
  t.equal(a.manager.stats.framesSent, before + 3, "without flush() the end of the turn writes it");
  a.manager.flush();
  t.equal(a.manager.stats.framesSent, before + 3, "nothing left to flush");
  await until(() => b.inbound.length === 3, "all three delivered");
  t.same(b.inbound.map((m) => m.message.type === "TimeoutNow" && m.message.body.term), [1, 2, 3], "in order, once each");
});

t.test("a client gets the node's ErrorReply with the leader's address", async (t) => {
  const node = await startNode(t, {}, (inbound) => {
    inbound.reply?.({ type: "ErrorReply", body: { code: "RAFT_NOT_LEADER", message: "not leader", leaderId: "n2", leaderAddress: "127.0.0.1:7002" } });
  });
  const client = startClient(t);
  const reply = await client.manager.call(node.id, enqueue("x", 1));
  t.equal(reply.type, "ErrorReply");
  t.equal(reply.type === "ErrorReply" && reply.body.leaderAddress, "127.0.0.1:7002");
  t.equal(node.inbound[0]!.role, "client");
});

t.test("another cluster is refused with WIRE_CLUSTER_MISMATCH, logged once", async (t) => {
  const node = await startNode(t);
  const stranger = startClient(t, { clusterId: "other-cluster", reconnectBackoffMsMin: 1, reconnectBackoffMsMax: 2 });
  t.equal(await rejectionCode(stranger.manager.call(node.id, enqueue("x", 1))), "WIRE_CLUSTER_MISMATCH");
  t.equal(node.inbound.length, 0, "nothing delivered");
  await until(() => node.logs.length > 0, "refusal logged");
  const badFrameLogs = node.logs.filter((l) => l.fields["event"] === "bad-frame");
  t.equal(badFrameLogs.length, 1);
  t.match(badFrameLogs[0]!.fields, { code: "WIRE_CLUSTER_MISMATCH", address: /^127\.0\.0\.1:\d+$/ });
  t.equal(node.manager.stats.badFrames["WIRE_CLUSTER_MISMATCH"], 1);
});

t.test("an unknown peer is refused with WIRE_HANDSHAKE", async (t) => {
  const node = await startNode(t, { acceptPeer: (id) => id === "127.0.0.1:1" });
  const other = await startNode(t);
  t.equal(await rejectionCode(other.manager.call(node.id, enqueue("x", 1))), "WIRE_HANDSHAKE");
  t.equal(node.manager.stats.handshakesRefused, 1);
  const client = startClient(t);
  t.equal((await client.manager.call(node.id, enqueue("x", 2))).type, "ExecuteRequest", "clients are still let in");
});

t.test("per-RPC timeout fails the call cleanly; a late reply is dropped", async (t) => {
  const held: InboundMessage[] = [];
  const node = await startNode(t, {}, (inbound) => held.push(inbound));
  const client = startClient(t, { rpcTimeoutMsByType: { StatusRequest: 40 } });
  t.equal(await rejectionCode(client.manager.call(node.id, enqueue("x", 1), { timeoutMs: 30 })), "RPC_TIMEOUT", "per call");
  t.equal(await rejectionCode(client.manager.call(node.id, { type: "StatusRequest", body: {} })), "RPC_TIMEOUT", "per kind");
  t.equal(client.manager.stats.callsTimedOut, 2);
  t.equal(client.manager.pendingCalls, 0);
  held[0]!.reply!(held[0]!.message);
  await until(() => client.manager.stats.responsesLate === 1, "late reply counted");
});

t.test("reconnects after the peer restarts on the same port", async (t) => {
  const a = await startNode(t);
  const b = await startNode(t);
  t.equal((await a.manager.call(b.id, enqueue("before", 1))).type, "ExecuteRequest");
  await b.manager.close();
  const b2 = await startNode(t, {}, undefined, b.port);
  const reply = await a.manager.call(b.id, enqueue("after", 2), { timeoutMs: 10000 });
  t.equal(valueOf(reply), "after");
  t.equal(b2.inbound.length, 1, "the restarted peer got exactly the new call");
  t.ok(a.manager.stats.connectsAttempted >= 2);
});

t.test("an unreachable peer fails calls with CONNECTION_CLOSED after the attempts run out", async (t) => {
  const port = await freePort();
  const client = startClient(t, { reconnectAttemptsMax: 3, reconnectBackoffMsMin: 1, reconnectBackoffMsMax: 4 });
  t.equal(await rejectionCode(client.manager.call(`127.0.0.1:${port}`, enqueue("x", 1), { timeoutMs: 60000 })), "CONNECTION_CLOSED");
  t.equal(client.manager.stats.connectsAttempted, 4, "first try plus three reconnects");
  t.equal(client.logs.filter((l) => l.fields["event"] === "peer-unreachable").length, 1);
});

t.test("garbage from a stranger closes its connection, is counted and logged once", async (t) => {
  const node = await startNode(t);
  const raw = net.connect({ host: "127.0.0.1", port: node.port });
  t.teardown(() => raw.destroy());
  const rng = new SeededRng(7);
  const garbage = Buffer.alloc(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = rng.nextInt(256);
  raw.on("error", () => undefined); // the node may reset us; 'close' is what we wait for
  await new Promise<void>((resolve) => {
    raw.on("close", () => resolve());
    raw.write(garbage);
    raw.write(garbage);
  });
  t.equal(node.manager.stats.badFrames["WIRE_BAD_MAGIC"], 1);
  t.equal(node.logs.filter((l) => l.fields["event"] === "bad-frame").length, 1);
  const client = startClient(t);
  t.equal((await client.manager.call(node.id, enqueue("still serving", 1))).type, "ExecuteRequest");
});

/** A hand-driven connection that speaks the protocol frame by frame. */
class RawPeer {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder({ frameBytesMax: 1 << 20, clusterTag: clusterTagOf(clusterId), isKnownType: isKnownTypeCode });
  private readonly frames: Frame[] = [];

  constructor(port: number) {
    this.socket = net.connect({ host: "127.0.0.1", port });
    this.socket.on("data", (chunk: Buffer) => this.frames.push(...this.decoder.push(chunk).frames));
  }

  send(message: WireMessage, seq: number): void {
    this.socket.write(encodeFrame({ typeCode: typeCodeOf(message.type), flags: 0, clusterTag: clusterTagOf(clusterId), seq, requestId: 0 }, encodeBody(message)));
  }

  async hello(nodeId: string, incarnation: number): Promise<WireMessage> {
    this.send({ type: "Hello", body: { clusterId, nodeId, incarnation, role: 1, protocolVersion: 1, lastDeliveredSeq: 0, acceptorIncarnation: 0 } }, 0);
    await until(() => this.frames.length > 0, "HelloReply");
    const frame = this.frames.shift()!;
    return decodeBody(frame.typeCode, frame.payload);
  }

  close(): Promise<void> {
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.destroy();
    });
  }
}

t.test("duplicate and replayed frames are dropped; a new incarnation starts afresh", async (t) => {
  const node = await startNode(t);
  const vote = (term: number): WireMessage => ({ type: "TimeoutNow", body: { from: "raw", to: node.id, term } });
  const terms = (): number[] => node.inbound.map((m) => (m.message.type === "TimeoutNow" ? m.message.body.term : -1));

  const first = new RawPeer(node.port);
  t.teardown(() => first.close());
  const reply1 = await first.hello("raw", 77);
  t.equal(reply1.type === "HelloReply" && reply1.body.accepted, true);
  t.equal(reply1.type === "HelloReply" && reply1.body.lastDeliveredSeq, 0);
  for (const seq of [1, 1, 2, 1]) first.send(vote(seq), seq);
  await until(() => node.manager.stats.framesReceived === 4, "four frames");
  t.same(terms(), [1, 2]);
  t.equal(node.manager.stats.framesDuplicate, 2);
  await first.close();

  const again = new RawPeer(node.port);
  t.teardown(() => again.close());
  const reply2 = await again.hello("raw", 77);
  t.equal(reply2.type === "HelloReply" && reply2.body.lastDeliveredSeq, 2, "the node says how far it got");
  again.send(vote(2), 2); // a replay after reconnect
  again.send(vote(3), 3);
  await until(() => node.manager.stats.framesReceived === 6, "six frames");
  t.same(terms(), [1, 2, 3], "the replay was not delivered twice");
  await again.close();

  const restarted = new RawPeer(node.port);
  t.teardown(() => restarted.close());
  const reply3 = await restarted.hello("raw", 78);
  t.equal(reply3.type === "HelloReply" && reply3.body.lastDeliveredSeq, 0, "new incarnation, new sequence space");
  restarted.send(vote(1), 1);
  await until(() => node.inbound.length === 4, "new incarnation delivered");
  t.same(terms(), [1, 2, 3, 1]);
});

t.test("oversize messages are refused with WIRE_FRAME_TOO_LARGE before sending", async (t) => {
  const node = await startNode(t);
  const client = startClient(t, { frameBytesMax: 64 * 1024 });
  t.equal(await rejectionCode(client.manager.call(node.id, enqueue("x".repeat(64 * 1024), 1))), "WIRE_FRAME_TOO_LARGE");
  t.throws(() => client.manager.send(node.id, enqueue("x".repeat(64 * 1024), 2)), { code: "WIRE_FRAME_TOO_LARGE" });
  t.equal(client.manager.stats.connectsAttempted, 0, "nothing was sent");
});

t.test("options are validated when the manager is built", async (t) => {
  const base = { clusterId, nodeId: "n", role: "client" as const, rng: new SeededRng(1) };
  const bad: Array<Record<string, unknown>> = [
    { frameBytesMaxx: 1 },
    { reconnectBackoffMsMin: 100, reconnectBackoffMsMax: 10 },
    { frameBytesMax: 10 },
    { sendQueueBytesMax: 1024 },
    { rpcTimeoutMsDefault: -1 },
    { rpcTimeoutMsByType: { ExecuteRequest: 0 } },
    { clusterId: "", role: "peer" },
  ];
  for (const extra of bad) {
    t.throws(() => new ConnectionManager({ ...base, ...extra } as never, () => undefined), { code: "CONFIG_INVALID" }, JSON.stringify(extra));
  }
  const client = new ConnectionManager(base, () => undefined);
  t.throws(() => client.send("no-port", enqueue("x", 1)), { code: "CONFIG_INVALID" });
  await client.close();
});

t.test("close fails pending calls, refuses new ones and lets the process exit", async (t) => {
  const node = await startNode(t, {}, () => undefined);
  const client = startClient(t);
  const pending = rejectionCode(client.manager.call(node.id, enqueue("x", 1), { timeoutMs: 60000 }));
  await until(() => node.inbound.length === 1, "request arrived");
  await client.manager.close();
  t.equal(await pending, "MANAGER_CLOSED");
  t.equal(await rejectionCode(client.manager.call(node.id, enqueue("x", 2))), "MANAGER_CLOSED");
  t.throws(() => client.manager.send(node.id, enqueue("x", 3)), { code: "MANAGER_CLOSED" });
  await node.manager.close();
  await node.manager.close(); // idempotent
});

t.test("a client that does not know the cluster id is let in; a peer must name it", async (t) => {
  const node = await startNode(t);
  const anonymous = startClient(t, { clusterId: "" });
  t.equal(valueOf(await anonymous.manager.call(node.id, enqueue("anon", 1))), "anon");
  t.equal(node.inbound[0]!.role, "client");
  t.throws(() => new ConnectionManager({ clusterId: "", nodeId: "127.0.0.1:1", role: "peer", rng: new SeededRng(1) }, () => undefined), { code: "CONFIG_INVALID" });
});

t.test("after close() the process exits by itself", async (t) => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "fixtures", "exit-after-close.ts")], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  t.teardown(() => {
    clearTimeout(killer);
    child.kill("SIGKILL");
  });
  const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
  t.equal(signal, null, "not killed: it exited on its own");
  t.equal(code, 0);
  t.equal(output.trim(), "closed", "the pending call failed at close");
});
