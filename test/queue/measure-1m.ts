/**
 * Measurement script (not a test; prints figures, asserts nothing about speed): heap and RSS of
 * the queue state machine holding N messages of 64 ASCII bytes, and the time and size of a
 * snapshot and a restore of that state.
 *
 *   node --expose-gc -r tsx/cjs test/queue/measure-1m.ts [messageCount=1000000] [valueBytes=64]
 *
 * Each enqueue goes through the real path: encodeCommand -> apply (decode, session, FIFO).
 * Without --expose-gc (e.g. when `tap test/queue/` picks it up) it prints a note and exits 0.
 */
import { encodeCommand } from "../../src/queue/command-codec";
import { makeQueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";

const messageCount = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 64);
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  gc();
  gc();
  return process.memoryUsage();
}

function report(label: string, usage: NodeJS.MemoryUsage, base: NodeJS.MemoryUsage): void {
  console.log(
    `${label}: heapUsed ${mib(usage.heapUsed)} MiB (+${mib(usage.heapUsed - base.heapUsed)}), heapTotal ${mib(usage.heapTotal)} MiB, ` +
      `rss ${mib(usage.rss)} MiB, arrayBuffers ${mib(usage.arrayBuffers)} MiB`,
  );
}

function main(): void {
  const limits = makeQueueLimits({ messagesMax: Math.max(messageCount, 1), valueBytesTotalMax: 1024 * 1024 * 1024 });
  const base = collect();
  report("baseline", base, base);
  let machine = new QueueStateMachine(limits);
  const padding = "x".repeat(valueBytes);
  const started = performance.now();
  for (let i = 1; i <= messageCount; i++) {
    const id = String(i);
    const value = id + padding.slice(id.length); // unique, exactly valueBytes ASCII bytes
    const data = encodeCommand({ op: "enqueue", queue: "default", value, clientId: `producer-${(i - 1) % 16}`, seq: Math.floor((i - 1) / 16) + 1, proposedAtMs: 1_700_000_000_000 + i });
    const result = machine.apply(i, data);
    if (!result.ok) throw new Error(`enqueue ${i} failed: ${result.error}`);
  }
  const enqueueMs = performance.now() - started;
  console.log(`enqueue ${messageCount} x ${valueBytes} B: ${enqueueMs.toFixed(0)} ms (${((messageCount / enqueueMs) * 1000).toFixed(0)}/s)`);
  report(`holding ${messageCount}`, collect(), base);

  let t0 = performance.now();
  const snapshot = machine.snapshot();
  console.log(`snapshot: ${mib(snapshot.length)} MiB (${snapshot.length} bytes) in ${(performance.now() - t0).toFixed(0)} ms`);
  machine = new QueueStateMachine(limits); // drop the original
  t0 = performance.now();
  machine.restore(snapshot);
  console.log(`restore (incl. checkInvariants): ${(performance.now() - t0).toFixed(0)} ms`);
  report(`restored ${messageCount} (snapshot bytes still referenced)`, collect(), base);

  t0 = performance.now();
  const drain = encodeCommand({ op: "dequeue", queue: "default", clientId: "drain", seq: 1, proposedAtMs: 1_800_000_000_000 });
  let taken = 0;
  for (let i = 0; i < messageCount; i++) {
    // A new seq each time: reuse the bytes and patch the seq field (offset 2, u64 big-endian).
    new DataView(drain.buffer).setUint32(6, i + 1);
    const result = machine.apply(messageCount + 1 + i, drain);
    if (result.ok) taken += 1;
  }
  console.log(`dequeue ${taken}: ${(performance.now() - t0).toFixed(0)} ms`);
  console.log(`final stats ${JSON.stringify(machine.stats())}`);
}

if ((globalThis as { gc?: () => void }).gc === undefined) {
  console.log("measure-1m: skipped, run with node --expose-gc -r tsx/cjs test/queue/measure-1m.ts");
} else {
  main();
}
