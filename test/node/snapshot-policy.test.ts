// The snapshot policy: entries AND log data in proportion to the last snapshot, or a byte cap.
import t from "tap";
import { DEFAULT_SNAPSHOT_POLICY, snapshotDue, validateSnapshotPolicy } from "../../src/node/snapshot-policy";

t.test("due after `entries` entries, once the log is logFraction of the last snapshot", async (t) => {
  const policy = validateSnapshotPolicy({ entries: 100, logFraction: 0.25, maxLogBytes: 1_000_000 });
  const due = (entriesSince: number, logBytesSince: number, snapshotBytes: number) => snapshotDue({ entriesSince, logBytesSince, snapshotBytes }, policy);
  t.equal(due(99, 10_000, 0), false, "too few entries");
  t.equal(due(100, 10, 0), true, "no snapshot yet: the entry count decides");
  t.equal(due(100, 10, 40), true, "a small snapshot: the entry count decides");
  t.equal(due(100_000, 2_499, 10_000), false, "log below a quarter of the snapshot");
  t.equal(due(100_000, 2_500, 10_000), true, "a quarter reached");
  t.equal(due(5, 1_000_000, 1e12), true, "the byte cap overrides both");
  t.equal(due(0, 5_000_000, 0), false, "nothing applied since the last snapshot");
  const off = { ...policy, logFraction: 0 };
  t.equal(snapshotDue({ entriesSince: 100, logBytesSince: 0, snapshotBytes: 1e9 }, off), true, "logFraction 0 turns the rule off");
});

t.test("1M queued 64 B messages: a snapshot per 100,000 entries no longer", async (t) => {
  // The figures of bench --million: a 72.5 MiB snapshot, about 92 B of log data per enqueue.
  const snapshotBytes = 72.5 * 1024 * 1024;
  const entriesToWait = Math.ceil((snapshotBytes * DEFAULT_SNAPSHOT_POLICY.logFraction) / 92);
  t.equal(snapshotDue({ entriesSince: entriesToWait - 1, logBytesSince: (entriesToWait - 1) * 92, snapshotBytes }, DEFAULT_SNAPSHOT_POLICY), false);
  t.equal(snapshotDue({ entriesSince: entriesToWait, logBytesSince: entriesToWait * 92, snapshotBytes }, DEFAULT_SNAPSHOT_POLICY), true);
  t.ok(entriesToWait > 200_000, `waits ${entriesToWait} entries`);
});

t.test("bad policies are refused", async (t) => {
  const ok = DEFAULT_SNAPSHOT_POLICY;
  t.throws(() => validateSnapshotPolicy({ ...ok, entries: 0 }), { code: "CONFIG_INVALID" });
  t.throws(() => validateSnapshotPolicy({ ...ok, maxLogBytes: 0.5 }), { code: "CONFIG_INVALID" });
  t.throws(() => validateSnapshotPolicy({ ...ok, logFraction: -0.1 }), { code: "CONFIG_INVALID" });
  t.throws(() => validateSnapshotPolicy({ ...ok, logFraction: Number.NaN }), { code: "CONFIG_INVALID" });
  t.equal(validateSnapshotPolicy(ok), ok);
});
