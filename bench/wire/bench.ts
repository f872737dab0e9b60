/**
 * Wire benchmark (not a test: it prints figures and never fails on them).
 *
 *   1. codec:     frames/s of encodeBody+encodeFrame and FrameDecoder.push+decodeBody, in process;
 *                 for raft messages also from and to the core's RaftMessage (raft-convert.ts), as
 *                 raftd sends and receives them;
 *   2. rpc:       request/response round trips/s over one loopback connection, one at a time,
 *                 through two ConnectionManagers, beside a bare node:net echo of the same bytes;
 *   3. pipelined: one-way frames/s over one loopback connection, beside bare node:net writes of
 *                 the same number of bytes.
 * Each networked figure is printed with its ratio to the bare-net floor.
 *
 * Run: npx tsx bench/wire/bench.ts [--json out.json] [--quick]
 * or after `npm run build`: node dist/bench/wire/bench.js
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { SeededRng } from "../../src/util/rng";
import { decodeBody, encodeBody, isKnownTypeCode, typeCodeOf, type WireMessage } from "../../src/wire/codec";
import { clusterTagOf, encodeFrame, FrameDecoder, frameBytesMaxDefault } from "../../src/wire/frame";
import { ConnectionManager } from "../../src/wire/manager";
import { raftFromWire, raftToWire, type RaftWireMessage } from "../../src/wire/raft-convert";
import type { RaftMessage } from "../../src/raft/types";

export interface WireBenchResult {
  codec: Array<{ message: string; frameBytes: number; encodeFramesPerSec: number; decodeFramesPerSec: number }>;
  rpc: { roundTrips: number; managerRoundTripsPerSec: number; bareRoundTripsPerSec: number; ratio: number };
  pipelined: { frames: number; frameBytes: number; managerFramesPerSec: number; bareFramesPerSec: number; ratio: number };
}

const clusterId = "bench";
const silentLogger = { info: () => undefined, warn: () => undefined };

function sampleMessages(): Array<{ name: string; message: WireMessage }> {
  const entries = Array.from({ length: 64 }, (_, i) => ({ index: 1000 + i, term: 7, kind: 0 as const, data: Buffer.alloc(128, i) }));
  return [
    { name: "RequestVote", message: { type: "RequestVote", body: { from: "127.0.0.1:7001", to: "127.0.0.1:7002", term: 7, lastLogIndex: 1000, lastLogTerm: 6, preVote: false, transfer: false } } },
    { name: "ExecuteRequest 100 B", message: { type: "ExecuteRequest", body: { op: 1, queue: "jobs", value: "v".repeat(100), clientId: "0123456789abcdef", seq: 42 } } },
    { name: "AppendEntries 64x128 B", message: { type: "AppendEntries", body: { from: "127.0.0.1:7001", to: "127.0.0.1:7002", term: 7, prevLogIndex: 999, prevLogTerm: 7, entries, leaderCommit: 998, readContext: 0 } } },
  ];
}

/** Raft messages as the core hands them to raftd's transport (entries carry 128 B of data). */
function sampleRaftMessages(): Array<{ name: string; message: RaftMessage }> {
  const entries = Array.from({ length: 64 }, (_, i) => ({ index: 1000 + i, term: 7, kind: "normal" as const, data: new Uint8Array(128).fill(i) }));
  return [
    { name: "AppendEntriesResponse (raft)", message: { type: "AppendEntriesResponse", from: "127.0.0.1:7002", to: "127.0.0.1:7001", term: 7, success: true, matchIndex: 1063, conflictIndex: 0, conflictTerm: 0, readContext: 0 } },
    { name: "AppendEntries 64x128 B (raft)", message: { type: "AppendEntries", from: "127.0.0.1:7001", to: "127.0.0.1:7002", term: 7, prevLogIndex: 999, prevLogTerm: 7, entries, leaderCommit: 998, readContext: 0 } },
  ];
}

function benchCodec(iterations: number): WireBenchResult["codec"] {
  const clusterTag = clusterTagOf(clusterId);
  const results: WireBenchResult["codec"] = [];
  const samples: Array<{ name: string; message: WireMessage; raft?: RaftMessage }> = [
    ...sampleMessages(),
    ...sampleRaftMessages().map(({ name, message }) => ({ name, message: raftToWire(message), raft: message })),
  ];
  for (const { name, message, raft } of samples) {
    const typeCode = typeCodeOf(message.type);
    const toWire = (): WireMessage => (raft === undefined ? message : raftToWire(raft));
    let frame: Buffer = Buffer.alloc(0);
    const encodeStart = performance.now();
    for (let i = 0; i < iterations; i++) frame = encodeFrame({ typeCode, flags: 0, clusterTag, seq: i + 1, requestId: 0 }, encodeBody(toWire()));
    const encodeMs = performance.now() - encodeStart;
    const stream = Buffer.concat(Array.from({ length: 256 }, () => frame));
    const decoder = new FrameDecoder({ frameBytesMax: frameBytesMaxDefault, clusterTag, isKnownType: isKnownTypeCode });
    let decoded = 0;
    const decodeStart = performance.now();
    while (decoded < iterations) {
      for (const f of decoder.push(stream).frames) {
        const body = decodeBody(f.typeCode, f.payload);
        if (raft !== undefined) raftFromWire(body as RaftWireMessage);
        decoded++;
      }
    }
    const decodeMs = performance.now() - decodeStart;
    results.push({ message: name, frameBytes: frame.length, encodeFramesPerSec: (iterations * 1000) / encodeMs, decodeFramesPerSec: (decoded * 1000) / decodeMs });
  }
  return results;
}

async function managers(): Promise<{ server: ConnectionManager; client: ConnectionManager; serverId: string; received: { count: number; waiter: (() => void) | null; target: number } }> {
  const received = { count: 0, waiter: null as (() => void) | null, target: 0 };
  const probe = net.createServer();
  const port = await new Promise<number>((resolve) => probe.listen(0, "127.0.0.1", () => resolve((probe.address() as net.AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const serverId = `127.0.0.1:${port}`;
  const server = new ConnectionManager({ clusterId, nodeId: serverId, role: "peer", listen: { host: "127.0.0.1", port }, rng: new SeededRng(1), logger: silentLogger }, (inbound) => {
    if (inbound.reply !== null) {
      inbound.reply(inbound.message);
      return;
    }
    received.count++;
    if (received.waiter !== null && received.count >= received.target) received.waiter();
  });
  await server.listen();
  const client = new ConnectionManager({ clusterId, nodeId: "bench-client", role: "client", rng: new SeededRng(2), logger: silentLogger, sendQueueFramesMax: 1 << 20 }, () => undefined);
  return { server, client, serverId, received };
}

/** A bare echo server and client: the floor any framing layer sits on. */
async function bareEcho(): Promise<{ socket: net.Socket; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("error", () => undefined); // the bench tears the pair down on purpose
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    close: async () => {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Round trips/s of a bare node:net echo, one at a time (also bench/run.ts's RTT floor). */
export async function bareRoundTrips(count: number, bytes: Buffer): Promise<number> {
  const { socket, close } = await bareEcho();
  let pendingBytes = 0;
  let resolveOne: (() => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    pendingBytes -= chunk.length;
    if (pendingBytes <= 0 && resolveOne !== null) resolveOne();
  });
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    pendingBytes = bytes.length;
    await new Promise<void>((resolve) => {
      resolveOne = resolve;
      socket.write(bytes);
    });
  }
  const ms = performance.now() - start;
  await close();
  return (count * 1000) / ms;
}

/** One-way writes/s of `bytes` over bare node:net (also bench/run.ts's pipelined floor). */
export async function barePipelined(count: number, bytes: Buffer): Promise<number> {
  const server = net.createServer();
  let receivedBytes = 0;
  const totalBytes = count * bytes.length;
  const done = new Promise<void>((resolve) => {
    server.on("connection", (socket) => {
      socket.on("data", (chunk: Buffer) => {
        receivedBytes += chunk.length;
        if (receivedBytes >= totalBytes) resolve();
      });
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (!socket.write(bytes)) await new Promise<void>((resolve) => socket.once("drain", () => resolve()));
  }
  await done;
  const ms = performance.now() - start;
  socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return (count * 1000) / ms;
}

export async function runWireBench(options: { quick: boolean }): Promise<WireBenchResult> {
  const scale = options.quick ? 0.1 : 1;
  const codec = benchCodec(Math.round(200_000 * scale));
  const message: WireMessage = sampleMessages()[1]!.message;
  const frameBytes = encodeFrame({ typeCode: typeCodeOf(message.type), flags: 0, clusterTag: 1, seq: 1, requestId: 1 }, encodeBody(message));

  const roundTrips = Math.round(20_000 * scale);
  const rig = await managers();
  await rig.client.call(rig.serverId, message); // connect and warm up
  let start = performance.now();
  for (let i = 0; i < roundTrips; i++) await rig.client.call(rig.serverId, message);
  const managerRoundTripsPerSec = (roundTrips * 1000) / (performance.now() - start);
  const bareRoundTripsPerSec = await bareRoundTrips(roundTrips, frameBytes);

  const frames = Math.round(300_000 * scale);
  rig.received.target = frames;
  const delivered = new Promise<void>((resolve) => (rig.received.waiter = resolve));
  start = performance.now();
  for (let sent = 0; sent < frames; ) {
    if (rig.client.send(rig.serverId, message)) sent++;
    else await new Promise<void>((resolve) => rig.client.once("drain", () => resolve()));
    if (sent % 1024 === 0) await new Promise<void>((resolve) => setImmediate(resolve)); // let pumps run
  }
  await delivered;
  const managerFramesPerSec = (frames * 1000) / (performance.now() - start);
  await rig.client.close();
  await rig.server.close();
  const bareFramesPerSec = await barePipelined(frames, frameBytes);

  return {
    codec,
    rpc: { roundTrips, managerRoundTripsPerSec, bareRoundTripsPerSec, ratio: managerRoundTripsPerSec / bareRoundTripsPerSec },
    pipelined: { frames, frameBytes: frameBytes.length, managerFramesPerSec, bareFramesPerSec, ratio: managerFramesPerSec / bareFramesPerSec },
  };
}

function format(result: WireBenchResult): string {
  const k = (n: number): string => `${Math.round(n).toLocaleString("en-US")}`;
  const lines = ["wire bench", "  codec (in process)"];
  for (const c of result.codec) lines.push(`    ${c.message.padEnd(24)} ${String(c.frameBytes).padStart(6)} B/frame  encode ${k(c.encodeFramesPerSec).padStart(10)} frames/s  decode ${k(c.decodeFramesPerSec).padStart(10)} frames/s`);
  lines.push(`  rpc round trips, 1 outstanding (${result.rpc.roundTrips}):  manager ${k(result.rpc.managerRoundTripsPerSec)}/s  bare net echo ${k(result.rpc.bareRoundTripsPerSec)}/s  ratio ${result.rpc.ratio.toFixed(2)}`);
  lines.push(`  pipelined one-way frames (${result.pipelined.frames} x ${result.pipelined.frameBytes} B):  manager ${k(result.pipelined.managerFramesPerSec)}/s  bare net ${k(result.pipelined.bareFramesPerSec)}/s  ratio ${result.pipelined.ratio.toFixed(2)}`);
  return lines.join("\n");
}

async function main(argv: string[]): Promise<void> {
  const jsonIndex = argv.indexOf("--json");
  const result = await runWireBench({ quick: argv.includes("--quick") });
  process.stdout.write(`${format(result)}\n`);
  if (jsonIndex >= 0 && argv[jsonIndex + 1] !== undefined) fs.writeFileSync(argv[jsonIndex + 1]!, `${JSON.stringify(result, null, 2)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 1;
  });
}
