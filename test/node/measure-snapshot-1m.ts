/**
 * Measurement script (not a test; prints figures): peak RSS of a process that holds N queued
 * messages of 64 ASCII bytes and writes their snapshot to a snapshot file in 1 MiB chunks
 * (FileSnapshotHost.save, as raftd does), then restores a fresh state machine from the file
 * (FileSnapshotHost.restore) with the original dropped.
 *
 *   node --expose-gc -r tsx/cjs test/node/measure-snapshot-1m.ts [messageCount=1000000] [valueBytes=64]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileSnapshotHost } from "../../src/node/snapshot-host";
import { encodeCommand } from "../../src/queue/command-codec";
import { makeQueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { openFileStorage } from "../../src/storage/file-storage";

const messageCount = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 64);
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect !== undefined) {
    collect();
    collect();
  }
}

function line(label: string): void {
  gc();
  const usage = process.memoryUsage();
  console.log(`${label}: rss ${mib(usage.rss)} MiB, peak rss ${mib(peakRss())} MiB, heapUsed ${mib(usage.heapUsed)} MiB, arrayBuffers ${mib(usage.arrayBuffers)} MiB`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raftmq-measure-"));
  try {
    const storage = await openFileStorage(dir, { fsync: "always", logger: { info() {}, warn() {}, error() {} } });
    await storage.load();
    const limits = makeQueueLimits({ messagesMax: Math.max(messageCount, 1), valueBytesTotalMax: 1024 * 1024 * 1024 });
    line("baseline");
    let machine = new QueueStateMachine(limits);
    const padding = "x".repeat(valueBytes);
    const entries = [];
    for (let i = 1; i <= messageCount; i++) {
      const id = String(i);
      const data = encodeCommand({ op: "enqueue", queue: "default", value: id + padding.slice(id.length), clientId: `producer-${(i - 1) % 16}`, seq: Math.floor((i - 1) / 16) + 1, proposedAtMs: 1_700_000_000_000 + i });
      machine.apply(i, data);
      if (i <= 1) entries.push({ index: i, term: 1, kind: "normal" as const, data });
    }
    line(`holding ${messageCount}`);
    let t0 = performance.now();
    const data = await new FileSnapshotHost(storage, machine, 1024 * 1024).save({ index: messageCount, term: 1, config: { voters: ["a:1"], learners: [] } });
    console.log(`snapshot file: ${mib(data.byteLength)} MiB in ${(performance.now() - t0).toFixed(0)} ms (1 MiB chunks, fsynced)`);
    line("after save");
    machine = new QueueStateMachine(limits); // drop the original
    line("original dropped");
    t0 = performance.now();
    await new FileSnapshotHost(storage, machine, 1024 * 1024).restore(data);
    console.log(`restore from the file (incl. checkInvariants): ${(performance.now() - t0).toFixed(0)} ms, ${machine.stats().messageCount} messages`);
    line("restored");
    await storage.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
