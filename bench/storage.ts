/**
 * Storage benchmark: prints figures, optionally writes them as JSON (--json FILE).
 *
 *   npx tsx bench/storage.ts [--json FILE] [--seconds N] [--entries N] [--dir DIR]
 *
 * 1. Raw fdatasync rate of the disk under --dir (default os.tmpdir()): append 64 B + datasync.
 * 2. persist() throughput with fsync "always" for 1, 16 and 256 concurrent proposers, each
 *    persisting one entry per call and awaiting it (64 B and 1 KiB entries): entries/s,
 *    fsyncs/s and entries per fsync (group commit).
 * 3. Restart: load() time for a log of --entries (default 1,000,000) 64 B entries, without and
 *    with a snapshot near the end (the setup writes with fsync "never" to save time).
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import minimist from "minimist";
import { openFileStorage } from "../src/storage/file-storage";
import type { LogEntry } from "../src/raft/types";

const silent = { info() {}, warn() {}, error() {} };

function entryOf(index: number, bytes: number): LogEntry {
  const data = new Uint8Array(bytes);
  data.fill(index & 0xff);
  return { index, term: 1, kind: "normal", data };
}

/**
 * `writers` chains at once, each appending 64 B to a file of its own and fdatasyncing it, for
 * `seconds`: fsyncs per second in all (bench/lib/floors.ts uses both as floors). One writer is
 * the disk's fdatasync floor; three are what three nodes on one disk ask of it (the flushes
 * queue behind one another on this machine's disk, so each writer waits longer than one alone).
 */
export async function rawDatasync(dir: string, seconds: number, writers = 1): Promise<{ fsyncsPerSecond: number; count: number }> {
  // Each chain holds one of libuv's 4 pool threads while it waits, so more than 4 would not run at once.
  if (!Number.isSafeInteger(writers) || writers < 1 || writers > 4) throw new RangeError(`rawDatasync: writers must be 1..4, got ${writers}`);
  const chunk = Buffer.alloc(64, 1);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let count = 0;
  const chain = async (writer: number): Promise<void> => {
    const handle = await open(path.join(dir, `raw-fsync-${writer}.bin`), "w");
    let position = 0;
    try {
      while (process.hrtime.bigint() < deadline && count < 1_000_000) {
        await handle.write(chunk, 0, chunk.length, position);
        position += chunk.length;
        await handle.datasync();
        count += 1;
      }
    } finally {
      await handle.close();
    }
  };
  const chains: Promise<void>[] = [];
  for (let w = 0; w < writers; w++) chains.push(chain(w));
  await Promise.all(chains);
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  return { fsyncsPerSecond: count / elapsedS, count };
}

interface ThroughputResult {
  concurrency: number;
  entryBytes: number;
  entriesPerSecond: number;
  fsyncsPerSecond: number;
  entriesPerFsync: number;
}

async function throughput(root: string, concurrency: number, entryBytes: number, seconds: number): Promise<ThroughputResult> {
  const dir = await mkdtemp(path.join(root, "tp-"));
  const storage = await openFileStorage(dir, { fsync: "always", logger: silent });
  await storage.load();
  let next = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      next += 1;
      await storage.persist(null, [entryOf(next, entryBytes)], null);
    }
  };
  const before = storage.stats();
  const start = process.hrtime.bigint();
  const workers = Array.from({ length: concurrency }, () => worker());
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stop = true;
  await Promise.all(workers);
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const after = storage.stats();
  await storage.close();
  await rm(dir, { recursive: true, force: true });
  const entries = after.entriesAppended - before.entriesAppended;
  const fsyncs = after.fsyncs - before.fsyncs;
  return { concurrency, entryBytes, entriesPerSecond: entries / elapsedS, fsyncsPerSecond: fsyncs / elapsedS, entriesPerFsync: entries / Math.max(1, fsyncs) };
}

async function timedLoad(dir: string, segmentBytes: number): Promise<{ loadMs: number; entries: number; snapshotIndex: number }> {
  const storage = await openFileStorage(dir, { fsync: "never", logger: silent, segmentBytes, snapshotsKept: 1 });
  const start = process.hrtime.bigint();
  const state = await storage.load();
  const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
  await storage.close();
  return { loadMs, entries: state.entries.length, snapshotIndex: state.snapshot?.meta.index ?? 0 };
}

async function restart(root: string, total: number) {
  const dir = await mkdtemp(path.join(root, "restart-"));
  const segmentBytes = 8 * 1024 * 1024;
  const storage = await openFileStorage(dir, { fsync: "never", logger: silent, segmentBytes, snapshotsKept: 1 });
  await storage.load();
  const batch = 1000;
  for (let from = 1; from <= total; from += batch) {
    const list: LogEntry[] = [];
    for (let i = from; i < from + batch && i <= total; i++) list.push(entryOf(i, 64));
    await storage.persist({ term: 1, votedFor: null, commitIndex: from - 1 }, list, null);
  }
  await storage.close();
  const withoutSnapshot = await timedLoad(dir, segmentBytes);
  const reopened = await openFileStorage(dir, { fsync: "never", logger: silent, segmentBytes, snapshotsKept: 1 });
  await reopened.load();
  const snapshotIndex = total - 1000;
  await reopened.compact({ meta: { index: snapshotIndex, term: 1, config: { voters: ["a"], learners: [] } }, data: new Uint8Array(1024 * 1024) });
  await reopened.close();
  const withSnapshot = await timedLoad(dir, segmentBytes);
  await rm(dir, { recursive: true, force: true });
  return { totalEntries: total, segmentBytes, withoutSnapshot, withSnapshot, snapshotBytes: 1024 * 1024 };
}

async function main(): Promise<void> {
  const args = minimist(process.argv.slice(2), { string: ["json", "dir"], default: { seconds: 3, entries: 1_000_000 } });
  const seconds = Number(args["seconds"]);
  const root = await mkdtemp(path.join(args["dir"] ?? os.tmpdir(), "raftmq-bench-storage-"));
  try {
    const raw = await rawDatasync(root, seconds);
    console.log(`raw fdatasync (64 B appends): ${raw.fsyncsPerSecond.toFixed(0)} fsyncs/s (${raw.count} in ${seconds} s)`);
    const three = await rawDatasync(root, seconds, 3);
    console.log(`raw fdatasync, 3 writers at once: ${three.fsyncsPerSecond.toFixed(0)} fsyncs/s in all (${three.count} in ${seconds} s)`);
    const runs: ThroughputResult[] = [];
    for (const entryBytes of [64, 1024]) {
      for (const concurrency of [1, 16, 256]) {
        const r = await throughput(root, concurrency, entryBytes, seconds);
        runs.push(r);
        console.log(
          `persist ${String(entryBytes).padStart(4)} B x ${String(concurrency).padStart(3)} concurrent: ` +
            `${r.entriesPerSecond.toFixed(0).padStart(7)} entries/s, ${r.fsyncsPerSecond.toFixed(0).padStart(5)} fsyncs/s, ` +
            `${r.entriesPerFsync.toFixed(1)} entries/fsync`,
        );
      }
    }
    const restarted = await restart(root, Number(args["entries"]));
    console.log(`restart, ${restarted.totalEntries} entries of 64 B, no snapshot: load ${restarted.withoutSnapshot.loadMs.toFixed(0)} ms (${restarted.withoutSnapshot.entries} entries)`);
    console.log(
      `restart, snapshot at ${restarted.withSnapshot.snapshotIndex} (1 MiB): load ${restarted.withSnapshot.loadMs.toFixed(0)} ms (${restarted.withSnapshot.entries} entries after it)`,
    );
    const result = { node: process.version, platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, dir: root, seconds, raw, runs, restart: restarted };
    if (typeof args["json"] === "string") writeFileSync(args["json"], `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
