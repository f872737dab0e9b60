/**
 * FileSnapshotHost on a real FileStorage: the queue's snapshot is written to a snapshot file in
 * small chunks and, after a restart, the newest snapshot file is loaded (as a file reference),
 * streamed into a fresh state machine, and the log after it replayed: the result equals the
 * state of a node that never restarted.
 */
import t from "tap";
import { FileSnapshotHost, SAVE_CHUNK_BYTES_MAX, type ChunkedStateMachine } from "../../src/node/snapshot-host";
import { encodeCommand } from "../../src/queue/command-codec";
import { makeQueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";
import type { LogEntry, SnapshotMeta } from "../../src/raft/types";
import { SnapshotFileData } from "../../src/storage/snapshot-files";
import { openStorage, tempDir } from "../storage/helpers";

const config = { voters: ["a:1"], learners: [] };

function commandEntries(from: number, to: number): LogEntry[] {
  const out: LogEntry[] = [];
  for (let index = from; index <= to; index++) {
    const data =
      index % 4 === 0
        ? encodeCommand({ op: "dequeue", queue: "default", clientId: "consumer", seq: index / 4, proposedAtMs: 1000 + index })
        : encodeCommand({ op: "enqueue", queue: index % 3 === 0 ? "other" : "default", value: `value ${index} ${"é".repeat(index % 5)}`, clientId: "producer", seq: index - Math.floor(index / 4), proposedAtMs: 1000 + index });
    out.push({ index, term: 1, kind: "normal", data });
  }
  return out;
}

t.test("restart loads the newest snapshot file and replays the log after it", async (t) => {
  const dir = await tempDir(t);
  const limits = makeQueueLimits({});
  const first = await openStorage(t, dir);
  await first.storage.load();
  const log = commandEntries(1, 80);
  await first.storage.persist({ term: 1, votedFor: "a:1", commitIndex: 80 }, log, null);
  const machine = new QueueStateMachine(limits);
  const host = new FileSnapshotHost(first.storage, machine, 32); // many chunks per snapshot
  for (const at of [30, 55]) {
    for (const entry of log.slice(machine.lastApplied, at)) machine.apply(entry.index, entry.data);
    const meta: SnapshotMeta = { index: at, term: 1, config };
    const data = await host.save(meta);
    t.ok(data instanceof SnapshotFileData, "the snapshot data is a file reference");
    t.ok(data.byteLength > 32 * 10, `snapshot at ${at} spans many chunks (${data.byteLength} bytes)`);
    await first.storage.compact({ meta, data });
  }
  for (const entry of log.slice(machine.lastApplied)) machine.apply(entry.index, entry.data);
  await first.storage.close();

  const second = await openStorage(t, dir);
  const state = await second.storage.load();
  t.equal(state.snapshot?.meta.index, 55, "the newest snapshot is chosen");
  t.ok(state.snapshot?.data instanceof SnapshotFileData, "loaded as a file reference, not bytes");
  t.same(state.entries.map((entry) => entry.index), Array.from({ length: 25 }, (_, k) => 56 + k), "the log after it");
  const restarted = new QueueStateMachine(limits);
  await new FileSnapshotHost(second.storage, restarted, 32).restore(state.snapshot!.data);
  t.equal(restarted.lastApplied, 55);
  for (const entry of state.entries) restarted.apply(entry.index, entry.data);
  restarted.checkInvariants();
  t.same(Buffer.from(restarted.snapshot()), Buffer.from(machine.snapshot()), "same state as never restarting");
  await second.storage.close();
});

// Regression: raftd died ("the state machine is at the snapshot's index") when a snapshot fell
// due right after a leader's no-op or a config entry, which the queue never sees.
t.test("a snapshot at an index whose last entries were no-ops holds the state and restores", async (t) => {
  const dir = await tempDir(t);
  const limits = makeQueueLimits({});
  const opened = await openStorage(t, dir);
  await opened.storage.load();
  const log: LogEntry[] = [...commandEntries(1, 10), { index: 11, term: 2, kind: "noop", data: new Uint8Array(0) }];
  await opened.storage.persist({ term: 2, votedFor: "a:1", commitIndex: 11 }, log, null);
  const machine = new QueueStateMachine(limits);
  for (const entry of log.slice(0, 10)) machine.apply(entry.index, entry.data);
  t.equal(machine.lastApplied, 10, "the queue saw the 10 commands, not the no-op");
  const meta: SnapshotMeta = { index: 11, term: 2, config };
  const data = await new FileSnapshotHost(opened.storage, machine, 32).save(meta);
  await opened.storage.compact({ meta, data });
  const restored = new QueueStateMachine(limits);
  await new FileSnapshotHost(opened.storage, restored, 32).restore(data);
  t.same(Buffer.from(restored.snapshot()), Buffer.from(machine.snapshot()), "the snapshot holds the queue's state");
  await opened.storage.close();
});

t.test("save() encodes at most SAVE_CHUNK_BYTES_MAX per chunk, whatever the transfer chunk size", async (t) => {
  const dir = await tempDir(t);
  const opened = await openStorage(t, dir);
  await opened.storage.load();
  const log = commandEntries(1, 40_000);
  await opened.storage.persist({ term: 1, votedFor: "a:1", commitIndex: 40_000 }, log, null);
  const machine = new QueueStateMachine(makeQueueLimits({}));
  for (const entry of log) machine.apply(entry.index, entry.data);
  const chunkSizes: number[] = [];
  const recording: ChunkedStateMachine = {
    get lastApplied() {
      return machine.lastApplied;
    },
    snapshotChunks(chunkBytes, options) {
      const { totalBytes, chunks } = machine.snapshotChunks(chunkBytes, options);
      return {
        totalBytes,
        chunks: (function* () {
          for (const chunk of chunks) {
            chunkSizes.push(chunk.length);
            yield chunk;
          }
        })(),
      };
    },
    beginRestore: () => machine.beginRestore(),
  };
  const meta: SnapshotMeta = { index: 40_000, term: 1, config };
  const data = await new FileSnapshotHost(opened.storage, recording, 16 * 1024 * 1024).save(meta);
  t.ok(data.byteLength > 2 * SAVE_CHUNK_BYTES_MAX, `the snapshot (${data.byteLength} bytes) spans several chunks`);
  t.ok(chunkSizes.length >= 3);
  t.ok(chunkSizes.every((size) => size <= SAVE_CHUNK_BYTES_MAX), `chunks of ${Math.max(...chunkSizes)} bytes at most`);
  const restored = new QueueStateMachine(makeQueueLimits({}));
  await new FileSnapshotHost(opened.storage, restored, 16 * 1024 * 1024).restore(data);
  t.same(Buffer.from(restored.snapshot()), Buffer.from(machine.snapshot()));
  await opened.storage.close();
});
