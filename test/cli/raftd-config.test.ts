// raftd's snapshot and WAL flags: defaults, parsing, refusals with the flag's name.
import t from "tap";
import { parseRaftdArgs } from "../../src/cli/raftd-config";
import { DEFAULT_SNAPSHOT_POLICY } from "../../src/node/snapshot-policy";

const base = ["--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x"];

t.test("--snapshot-log-fraction", async (t) => {
  t.equal(parseRaftdArgs(base).snapshotLogFraction, DEFAULT_SNAPSHOT_POLICY.logFraction);
  t.equal(parseRaftdArgs(base).snapshotEntries, DEFAULT_SNAPSHOT_POLICY.entries);
  for (const [text, value] of [["0", 0], ["0.5", 0.5], [".25", 0.25], ["2", 2], ["100", 100]] as const) {
    t.equal(parseRaftdArgs([...base, "--snapshot-log-fraction", text]).snapshotLogFraction, value, text);
  }
  for (const text of ["abc", "1e3", "", "101", "0x1", "1/4", "0.5.1"]) {
    t.throws(() => parseRaftdArgs([...base, "--snapshot-log-fraction", text]), { code: "CONFIG_INVALID", message: /--snapshot-log-fraction/ }, JSON.stringify(text));
  }
});

t.test("--wal-writes", async (t) => {
  t.equal(parseRaftdArgs(base).walWrites, "blocking", "default");
  t.equal(parseRaftdArgs([...base, "--wal-writes", "pool"]).walWrites, "pool");
  t.equal(parseRaftdArgs([...base, "--wal-writes", "blocking"]).walWrites, "blocking");
  for (const text of ["", "async", "sync", "Pool"]) {
    t.throws(() => parseRaftdArgs([...base, "--wal-writes", text]), { code: "CONFIG_INVALID", message: /--wal-writes/ }, JSON.stringify(text));
  }
});
