// RaftNode takes snapshots beside its loop: while a snapshot is being written, entries go on
// being committed, applied and answered; once it is written the core and storage drop the log
// before it. A single-voter node on the simulator's in-memory disk (synced at once), a state
// machine that records what it applied, and a snapshot host whose save() the test completes.
import bunyan from "bunyan";
import t, { type Test } from "tap";
import { NodeLogger } from "../../src/node/node-logger";
import { RaftNode } from "../../src/node/raft-node";
import type { SnapshotHost } from "../../src/node/snapshot-host";
import type { SnapshotPolicy } from "../../src/node/snapshot-policy";
import { RaftCore } from "../../src/raft/core";
import { nullCoreLogger } from "../../src/raft/logger";
import type { SnapshotData, SnapshotMeta } from "../../src/raft/types";
import { SeededRng } from "../../src/util/rng";
import { MemDisk } from "../sim/storage";
import { leading } from "../support/leading";

interface PendingSave {
  meta: SnapshotMeta;
  /** What the state machine had applied when save() was called (the state being saved). */
  appliedAtCall: number;
  finish: () => void;
}

function setup(snapshotEntries: number, policy: Partial<SnapshotPolicy> = {}, snapshotBytes = 3) {
  const initial = RaftCore.bootstrap(["n1"]);
  const disk = new MemDisk(initial, "immediate");
  const storage = disk.open();
  const core = new RaftCore({ id: "n1", electionTicks: 10, heartbeatTicks: 1 }, storage.loadNow(), new SeededRng(7), nullCoreLogger);
  const applied: number[] = [];
  const saves: PendingSave[] = [];
  const snapshots: SnapshotHost = {
    save(meta: SnapshotMeta): Promise<SnapshotData> {
      const appliedAtCall = applied.length === 0 ? 0 : applied[applied.length - 1]!;
      return new Promise((resolve) => {
        saves.push({ meta, appliedAtCall, finish: () => resolve(new Uint8Array(snapshotBytes)) });
      });
    },
    restore: () => Promise.reject(new Error("not used")),
  };
  const logger = new NodeLogger(bunyan.createLogger({ name: "test", level: "fatal" }), "n1");
  const node = new RaftNode<number>({
    core,
    storage,
    stateMachine: {
      apply(index: number): number {
        applied.push(index);
        return index;
      },
    },
    snapshots,
    transport: { send: () => undefined },
    logger,
    timers: { setInterval: () => null, clearInterval: () => undefined },
    tickMs: 100,
    snapshotPolicy: { entries: snapshotEntries, logFraction: 0, maxLogBytes: 1 << 30, ...policy },
    waitersMax: 1000,
    summaryMs: 0,
  });
  return { node, core, disk, applied, saves };
}

async function proposeMany(node: RaftNode<number>, count: number): Promise<number[]> {
  const results = await Promise.all(Array.from({ length: count }, (_, k) => node.propose(new Uint8Array([k]))));
  return results.map((r) => r.index);
}

// The timeout only turns a regression (the loop waiting for the save: a hang) into a failure.
t.test("entries are applied and answered while a snapshot is written; then the log is compacted", { timeout: 30_000 }, async (t) => {
  const { node, core, disk, applied, saves } = setup(5);
  node.start();
  await leading(node, core); // the only voter, once its term is durable
  await proposeMany(node, 6);
  t.equal(saves.length, 1, "a snapshot started after snapshotEntries applied entries");
  const save = saves[0]!;
  t.equal(save.appliedAtCall, save.meta.index, "the saved state is the state at the snapshot's index");

  const later = await proposeMany(node, 20); // would hang if the loop waited for the save
  t.equal(later.length, 20, "proposals made during the save were answered");
  t.ok(node.lastApplied >= later[later.length - 1]!, "and applied");
  t.equal(core.status().snapshotIndex, 0, "nothing compacted before the save completes");
  t.equal(saves.length, 1, "one snapshot at a time");

  save.finish();
  await node.snapshotIdle();
  t.equal(core.status().snapshotIndex, save.meta.index, "the core compacted at the saved index");
  t.equal(disk.durableLog().snapshotIndex(), save.meta.index, "storage holds the snapshot at that index");
  t.equal(node.stats.snapshots, 1);

  await proposeMany(node, 1); // the next Ready starts the next snapshot: enough applied since
  t.equal(saves.length, 2, "the next snapshot starts once the first is done");
  t.ok(saves[1]!.meta.index > save.meta.index);
  saves[1]!.finish();
  await node.snapshotIdle();
  t.equal(new Set(applied).size, applied.length, "every entry applied once");
  await node.stop();
});

t.test("a snapshot that finishes after the node stopped changes nothing", async (t) => {
  const { node, core, saves } = setup(3);
  node.start();
  await leading(node, core);
  await proposeMany(node, 4);
  t.equal(saves.length, 1);
  await node.stop();
  saves[0]!.finish();
  await node.snapshotIdle();
  t.equal(core.status().snapshotIndex, 0, "no compaction after stop");
  t.equal(node.failed, null, "and no failure");
});

/**
 * With snapshot 1 finished, proposes `gap - 1` entries of 1 byte (no new snapshot may start),
 * then one more (the next one must start, `gap` entries after the first); then finishes it.
 */
async function expectNextSnapshotAfter(t: Test, setupResult: ReturnType<typeof setup>, gap: number, why: string): Promise<void> {
  const { node, saves } = setupResult;
  saves[0]!.finish();
  await node.snapshotIdle();
  await proposeMany(node, gap - 1);
  t.equal(saves.length, 1, `${gap - 1} entries of 1 byte since the first snapshot: not due yet`);
  await proposeMany(node, 1);
  t.equal(saves.length, 2, `${gap} entries: due (${why})`);
  t.equal(saves[1]!.meta.index - saves[0]!.meta.index, gap);
  saves[1]!.finish();
  await node.snapshotIdle();
  await node.stop();
}

t.test("after a large snapshot, the next waits for log data of logFraction of its size", async (t) => {
  // Snapshots of 40 bytes; entries carry 1 byte of data each. logFraction 0.5: the next snapshot
  // needs 5 entries AND 20 bytes of log since the last one.
  const rig = setup(5, { logFraction: 0.5 }, 40);
  rig.node.start();
  await leading(rig.node, rig.core);
  await proposeMany(rig.node, 5); // the bootstrap config entry and the leader's no-op carry data too
  t.equal(rig.saves.length, 1, "the first snapshot: 0.5 x no snapshot yet asks for nothing");
  await expectNextSnapshotAfter(t, rig, 20, "20 bytes of log after a 40-byte snapshot");
});

t.test("maxLogBytes forces a snapshot before the entry count is reached", async (t) => {
  const rig = setup(1000, { maxLogBytes: 64 });
  rig.node.start();
  await leading(rig.node, rig.core);
  for (let k = 0; k < 100 && rig.saves.length === 0; k++) await proposeMany(rig.node, 1);
  t.equal(rig.saves.length, 1, "a first snapshot once 64 bytes of log were applied");
  await expectNextSnapshotAfter(t, rig, 64, "64 bytes of log, despite snapshotEntries 1000");
});

t.test("a RaftNode refuses an invalid snapshot policy", async (t) => {
  t.throws(() => setup(5, { logFraction: -1 }), { code: "CONFIG_INVALID" });
  t.throws(() => setup(0), { code: "CONFIG_INVALID" });
});
