/**
 * CPU of the queue's own per-command work, without a cluster (bench only; prints figures):
 * encode + apply N enqueues of 64 B values (what a leader does per command, besides raft and the
 * network), then encode the snapshot of the N queued messages in 1 MiB chunks, three times, and
 * restore it into a new state machine chunk by chunk, three times.
 *
 *   npx tsx bench/queue-codec.ts [N=1000000]
 */
import { encodeCommand } from "../src/queue/command-codec";
import { crc32 } from "node:zlib";
import { crc32c } from "../src/queue/crc32c";
import { makeQueueLimits } from "../src/queue/limits";
import { QueueStateMachine } from "../src/queue/state-machine";

const count = Number(process.argv[2] ?? 1_000_000);
if (!Number.isSafeInteger(count) || count < 1) throw new Error(`N must be a positive integer, not ${process.argv[2]}`);
const limits = makeQueueLimits({ messagesMax: count, valueBytesTotalMax: 1024 * 1024 * 1024 });
const machine = new QueueStateMachine(limits);
const padding = "x".repeat(64);
let started = performance.now();
for (let i = 1; i <= count; i++) {
  const id = String(i);
  const command = { op: "enqueue" as const, queue: "default", value: id + padding.slice(id.length), clientId: `producer-${(i - 1) % 16}`, seq: Math.floor((i - 1) / 16) + 1, proposedAtMs: 1_700_000_000_000 + i };
  machine.apply(i, encodeCommand(command));
}
const applyMs = performance.now() - started;
console.log(`encode + apply ${count} enqueues of 64 B: ${applyMs.toFixed(0)} ms (${((applyMs * 1000) / count).toFixed(2)} us each)`);
for (let round = 1; round <= 3; round++) {
  started = performance.now();
  let bytes = 0;
  for (const chunk of machine.snapshotChunks(1024 * 1024, { reuseChunks: true }).chunks) bytes += chunk.length;
  console.log(`snapshot encode ${round}: ${(bytes / 1048576).toFixed(1)} MiB in ${(performance.now() - started).toFixed(0)} ms`);
}
const chunks = [...machine.snapshotChunks(1024 * 1024).chunks];
for (let round = 1; round <= 3; round++) {
  started = performance.now();
  const restore = new QueueStateMachine(limits).beginRestore();
  for (const chunk of chunks) restore.push(chunk);
  restore.finish();
  console.log(`snapshot restore ${round}: ${(performance.now() - started).toFixed(0)} ms`);
}
const block = new Uint8Array(64 * 1024 * 1024);
started = performance.now();
crc32c(block);
console.log(`crc32c of 64 MiB (the checksum of snapshot format 1, still read): ${(performance.now() - started).toFixed(0)} ms`);
started = performance.now();
crc32(block);
console.log(`zlib crc32 of 64 MiB (the checksum of snapshot format 2): ${(performance.now() - started).toFixed(0)} ms`);
