// The connection manager through a fault-injecting proxy (fault-proxy.ts): with 5% of segments
// corrupted past TCP's checksum and jittered delay, every call completes and every message that
// arrives is intact; resets and partitions neither lose calls nor deliver a frame twice; a peer
// that stops reading gets bounded memory and a 'drain' once it reads again.
import t from "tap";
import type { Test } from "tap";
import { parseAddress } from "../../src/wire/options";
import type { InboundMessage } from "../../src/wire/manager";
import { SeededRng } from "../../src/util/rng";
import { FaultProxy, type FaultConfig } from "./fault-proxy";
import { enqueue, type Node, startNode, until, valueOf } from "./harness";

const alphabet = "abcdefghijklmnopqrstuvwxyzé✓日🚀";

function randomValue(rng: SeededRng, lengthMax: number): string {
  const chars = Array.from(alphabet);
  let value = "";
  const length = rng.nextInt(lengthMax);
  for (let i = 0; i < length; i++) value += chars[rng.nextInt(chars.length)];
  return value;
}

/** Bounds a wait that should end by itself; the error names what never happened. */
function within<T>(promise: Promise<T>, what: string, limitMs = 60000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${limitMs} ms`)), limitMs);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

interface Rig {
  a: Node;
  b: Node;
  proxy: FaultProxy;
  /** One-way ExecuteRequests b received, in arrival order. */
  oneWay: InboundMessage[];
  arrivals(count: number): Promise<void>;
}

async function rig(t: Test, seed: number, faults: Partial<FaultConfig>, overrides: Record<string, number> = {}): Promise<Rig> {
  const oneWay: InboundMessage[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const b = await startNode(t, {}, (inbound) => {
    if (inbound.reply !== null) {
      inbound.reply(inbound.message);
      return;
    }
    oneWay.push(inbound);
    for (const waiter of waiters) if (oneWay.length >= waiter.count) waiter.resolve();
  });
  const proxy = new FaultProxy(b.port, seed, faults);
  t.teardown(() => proxy.close());
  await proxy.listen();
  const a = await startNode(t, {
    addressOf: (id) => (id === b.id ? { host: "127.0.0.1", port: proxy.port } : parseAddress(id)),
    reconnectBackoffMsMin: 2,
    reconnectBackoffMsMax: 40,
    reconnectAttemptsMax: 1000,
    ...overrides,
  });
  const arrivals = (count: number): Promise<void> =>
    oneWay.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
  return { a, b, proxy, oneWay, arrivals };
}

/** Checks the one-way stream: strictly increasing seq (no duplicates), each value as sent. */
function checkStream(t: Test, oneWay: InboundMessage[], expected: string[]): void {
  let previous = 0;
  let bad = 0;
  for (const inbound of oneWay) {
    const message = inbound.message;
    if (message.type !== "ExecuteRequest") {
      bad++;
      continue;
    }
    if (message.body.seq <= previous) bad++;
    previous = message.body.seq;
    if (message.body.value !== expected[message.body.seq - 1]) bad++;
  }
  t.equal(bad, 0, "one-way messages in order, once each, intact");
}

async function callMany(rig: Rig, rng: SeededRng, count: number, concurrency: number, lengthMax: number, onProgress?: (done: number) => void): Promise<number> {
  let next = 0;
  let done = 0;
  let mismatches = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const seq = ++next;
      const value = randomValue(rng, lengthMax);
      const reply = await rig.a.manager.call(rig.b.id, enqueue(value, seq), { timeoutMs: 120000 });
      if (valueOf(reply) !== value) mismatches++;
      done++;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return mismatches;
}

t.test("5% corrupted segments and jittered delay: every call completes intact", async (t) => {
  const r = await rig(t, 11, { delayMs: 1, jitterMs: 6, corruptRate: 0.05 });
  const rng = new SeededRng(12);
  const mismatches = await within(callMany(r, rng, 400, 16, 2000), "400 calls");
  t.equal(mismatches, 0, "every reply equals its request");

  const expected = Array.from({ length: 300 }, () => randomValue(rng, 1500));
  let refused = 0;
  expected.forEach((value, i) => {
    if (!r.a.manager.send(r.b.id, enqueue(value, i + 1))) refused++;
  });
  t.equal(refused, 0, "the queue had room");
  await within(r.arrivals(300), "300 one-way messages");
  checkStream(t, r.oneWay, expected);

  const badFrames = Object.values(r.a.manager.stats.badFrames).concat(Object.values(r.b.manager.stats.badFrames)).reduce((x, y) => x + y, 0);
  t.ok(r.proxy.stats.chunksCorrupted > 0, `corrupted ${r.proxy.stats.chunksCorrupted} of ${r.proxy.stats.chunks} segments`);
  t.ok(badFrames > 0, `${badFrames} bad frames caught, each closing its connection`);
  t.ok(r.proxy.stats.connections > 1, `${r.proxy.stats.connections} connections: the link reconnected`);
});

t.test("resets and a partition: calls complete, nothing is delivered twice", async (t) => {
  const r = await rig(t, 21, { delayMs: 0, jitterMs: 3, corruptRate: 0.01 });
  const rng = new SeededRng(22);
  const expected = Array.from({ length: 600 }, () => randomValue(rng, 400));
  let sent = 0;
  const sendSome = (n: number): void => {
    for (let i = 0; i < n && sent < expected.length; i++, sent++) r.a.manager.send(r.b.id, enqueue(expected[sent]!, sent + 1));
  };
  const calls = callMany(r, rng, 300, 8, 2000, (done) => {
    sendSome(2);
    if (done % 40 === 0) r.proxy.resetAll();
    if (done === 150) r.proxy.partition();
  });
  await until(() => r.proxy.stats.chunks > 0 && r.a.manager.pendingCalls > 0, "calls in flight");
  // Heal once the partition has held calls back.
  const healed = (async () => {
    await until(() => r.a.manager.pendingCalls === 8 && sent >= 300, "partition holding calls", 10_000_000);
    r.proxy.heal();
  })();
  t.equal(await within(calls, "300 calls"), 0, "every reply equals its request");
  await within(healed, "heal");
  sendSome(expected.length);
  const oneWayRefused = r.a.manager.stats.sendsRefused;
  t.equal(oneWayRefused, 0);
  await within(r.arrivals(expected.length), "600 one-way messages");
  checkStream(t, r.oneWay, expected);
  t.ok(r.a.manager.stats.framesResent > 0 || r.b.manager.stats.framesResent > 0, "frames were resent after reconnects");
  t.ok(r.proxy.stats.connections > 5, `${r.proxy.stats.connections} connections`);
});

t.test("a peer that stops reading: bounded memory, then drain and delivery", async (t) => {
  const sendQueueBytesMax = 1024 * 1024;
  const r = await rig(t, 31, {}, { sendQueueBytesMax, frameBytesMax: 64 * 1024 });
  t.equal(valueOf(await r.a.manager.call(r.b.id, enqueue("warm-up", 1))), "warm-up", "link open");
  r.proxy.stall();
  const value = "x".repeat(32 * 1024);
  let accepted = 0;
  let stuck = false;
  for (let round = 0; round < 10_000 && !stuck; round++) {
    while (accepted < 100_000 && r.a.manager.send(r.b.id, enqueue(value, accepted + 1))) accepted++;
    const drained = new Promise<"drain">((resolve) => r.a.manager.once("drain", () => resolve("drain")));
    const blocked = until(() => {
      const usage = r.a.manager.linkUsage(r.b.id)!;
      return usage.socketBufferedBytes > 0 && usage.queuedBytes * 2 >= sendQueueBytesMax;
    }, "socket pushes back").then(() => "blocked" as const);
    stuck = (await within(Promise.race([drained, blocked]), "drain or push-back")) === "blocked";
  }
  t.ok(stuck, `the socket pushed back after ${accepted} frames`);
  while (accepted < 100_000 && r.a.manager.send(r.b.id, enqueue(value, accepted + 1))) accepted++;
  t.ok(accepted < 100_000, `send refused after ${accepted} frames`);
  const usage = r.a.manager.linkUsage(r.b.id)!;
  t.ok(usage.queuedBytes <= sendQueueBytesMax, `queued ${usage.queuedBytes} bytes <= ${sendQueueBytesMax}`);
  t.ok(usage.socketBufferedBytes <= 16 * 1024 + 64 * 1024, `socket holds ${usage.socketBufferedBytes} bytes`);
  t.ok(usage.retransmitBytes <= 4 * 1024 * 1024, "retransmit buffer within its limit");
  t.ok(usage.queuedBytes + 32 * 1024 + 64 > sendQueueBytesMax, "the queue is full");
  t.ok(r.a.manager.stats.sendsRefused > 0);

  const drained = new Promise<void>((resolve) => r.a.manager.once("drain", () => resolve()));
  r.proxy.resume();
  await within(drained, "drain after resume");
  await within(r.arrivals(accepted), `${accepted} frames delivered`);
  t.equal(r.oneWay.length, accepted, "every accepted frame arrived");
  checkStream(t, r.oneWay, Array.from({ length: accepted }, () => value));
});

t.test("a reply held back over a reset still arrives: the caller reconnects for it", async (t) => {
  const held: InboundMessage[] = [];
  const b = await startNode(t, {}, (inbound) => {
    if (valueOf(inbound.message) === "hold") held.push(inbound);
    else inbound.reply?.(inbound.message);
  });
  const proxy = new FaultProxy(b.port, 41, {});
  t.teardown(() => proxy.close());
  await proxy.listen();
  const a = await startNode(t, { addressOf: () => ({ host: "127.0.0.1", port: proxy.port }), reconnectBackoffMsMin: 1, reconnectBackoffMsMax: 5 });
  const first = a.manager.call(b.id, enqueue("hold", 1), { timeoutMs: 60000 });
  await until(() => held.length === 1, "first request held");
  // The second reply acknowledges both requests, so nothing is left to resend on a's side.
  t.equal(valueOf(await a.manager.call(b.id, enqueue("now", 2))), "now");
  t.equal(a.manager.linkUsage(b.id)!.retransmitFrames, 0, "nothing left to resend");
  const connectionsBefore = proxy.stats.connections;
  proxy.resetAll();
  await until(() => !a.manager.linkUsage(b.id)!.open || proxy.stats.connections > connectionsBefore, "link noticed the reset");
  t.ok(held[0]!.reply!(held[0]!.message), "reply queued while a is away");
  t.equal(valueOf(await within(first, "held reply")), "hold");
  t.ok(proxy.stats.connections > connectionsBefore, "over a new connection");
});
