/**
 * The bare replication floor (bench only): what three processes reach when all they do is
 * replicate batches over bare node:net and fdatasync them, with no Raft, codec or queue.
 *
 *   node dist/bench/lib/bare-replica.js follower DIR
 *       listens on 127.0.0.1:0, prints {"port":N}; for each connection appends every received
 *       batch to DIR/wal, fdatasyncs, and answers the cumulative count of entries persisted
 *       (batches that arrive during an fdatasync are written together: group commit).
 *   node dist/bench/lib/bare-replica.js leader DIR PORT1 PORT2 WINDOW SECONDS ENTRY_BYTES
 *       keeps WINDOW entries outstanding (like WINDOW clients with one command each); sends the
 *       pending ones (at most 256 a batch) to both followers and writes+fdatasyncs them locally;
 *       an entry commits once persisted locally and by one follower, and is replaced at once.
 *       Prints {"entriesPerSec":N,"fsyncs":N,"entries":N,"p50Ms":N,"p99Ms":N,"p999Ms":N} after
 *       SECONDS; the latencies are an entry's, from its "client" being free to its commit.
 *
 * Frames: u32 length (big-endian) + bytes; acks: 8-byte big-endian double (cumulative count).
 */
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { newHistogram } from "./histogram";

const batchEntriesMax = 256;

async function follower(dir: string): Promise<void> {
  const handle = await fs.open(path.join(dir, "wal"), "w");
  let position = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    let pendingEntries = 0;
    let pendingChunks: Buffer[] = [];
    let persisted = 0;
    let flushing = false;
    const flush = async (): Promise<void> => {
      flushing = true;
      while (pendingChunks.length > 0) {
        const data = Buffer.concat(pendingChunks);
        const entries = pendingEntries;
        pendingChunks = [];
        pendingEntries = 0;
        await handle.write(data, 0, data.length, position);
        position += data.length;
        await handle.datasync();
        persisted += entries;
        const ack = Buffer.alloc(8);
        ack.writeDoubleBE(persisted);
        socket.write(ack);
      }
      flushing = false;
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const length = buffered.readUInt32BE(0);
        if (buffered.length < 4 + length) break;
        const frame = buffered.subarray(4, 4 + length);
        pendingEntries += frame.readUInt32BE(0); // the batch's entry count, then its bytes
        pendingChunks.push(frame);
        buffered = buffered.subarray(4 + length);
      }
      if (!flushing) void flush();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => process.exit(0));
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`));
}

async function leader(dir: string, ports: number[], window: number, seconds: number, entryBytes: number): Promise<void> {
  const handle = await fs.open(path.join(dir, "wal"), "w");
  const acked = ports.map(() => 0);
  const sockets = await Promise.all(
    ports.map(
      (port, i) =>
        new Promise<net.Socket>((resolve) => {
          const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(socket));
          socket.setNoDelay(true);
          let buffered: Buffer = Buffer.alloc(0);
          socket.on("data", (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk]);
            while (buffered.length >= 8) {
              acked[i] = buffered.readDoubleBE(0);
              buffered = buffered.subarray(8);
            }
            onProgress();
          });
        }),
    ),
  );
  const entry = Buffer.alloc(entryBytes, 7);
  let proposed = 0; // entries handed to the followers and the local disk
  let pending = window; // outstanding "clients" waiting to propose
  let localPersisted = 0;
  let committed = 0;
  let fsyncs = 0;
  let flushing = false;
  // When each waiting "client" became free (pending) and when each in-flight entry did, oldest
  // first: entries commit in order, so the latency of the k-th commit is now - inFlight[k].
  const waitingSince: number[] = [];
  const inFlight: number[] = [];
  const latencyUs = newHistogram();
  const start = performance.now();
  for (let i = 0; i < window; i++) waitingSince.push(start);
  const end = start + seconds * 1000;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  function onProgress(): void {
    const best = Math.max(...acked);
    const newCommitted = Math.min(localPersisted, best);
    if (newCommitted > committed) {
      const now = performance.now();
      for (let k = committed; k < newCommitted; k++) {
        latencyUs.recordValue(Math.max(1, Math.round((now - inFlight.shift()!) * 1000)));
        waitingSince.push(now);
      }
      pending += newCommitted - committed;
      committed = newCommitted;
    }
    if (performance.now() >= end) finish();
    else if (!flushing && pending > 0) void flushBatch();
  }

  async function flushBatch(): Promise<void> {
    flushing = true;
    const count = Math.min(pending, batchEntriesMax);
    pending -= count;
    proposed += count;
    for (let k = 0; k < count; k++) inFlight.push(waitingSince.shift()!);
    const body = Buffer.concat([Buffer.alloc(4), ...Array.from({ length: count }, () => entry)]);
    body.writeUInt32BE(count, 0);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    for (const socket of sockets) socket.write(Buffer.concat([header, body]));
    await handle.write(body, 0, body.length, localPersisted * entryBytes + fsyncs * 4);
    await handle.datasync();
    fsyncs += 1;
    localPersisted = proposed;
    flushing = false;
    onProgress();
  }

  onProgress();
  await finished;
  const elapsedS = (performance.now() - start) / 1000;
  const ms = (percentile: number): number => latencyUs.getValueAtPercentile(percentile) / 1000;
  process.stdout.write(`${JSON.stringify({ entriesPerSec: committed / elapsedS, entries: committed, fsyncs, p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9) })}\n`);
  for (const socket of sockets) socket.destroy();
  await handle.close();
  process.exit(0);
}

const [mode, dir, ...rest] = process.argv.slice(2);
if (mode === "follower" && dir !== undefined) void follower(dir);
else if (mode === "leader" && dir !== undefined && rest.length === 5) {
  const [p1, p2, window, seconds, entryBytes] = rest.map(Number) as [number, number, number, number, number];
  void leader(dir, [p1, p2], window, seconds, entryBytes);
} else {
  process.stderr.write("usage: bare-replica follower DIR | leader DIR PORT1 PORT2 WINDOW SECONDS ENTRY_BYTES\n");
  process.exit(2);
}
