// The fdatasync floors: one writer, and three at once (what three nodes on one disk ask of it).
// Each writer appends 64 B records to a file of its own; every counted fsync is a record on disk.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import t from "tap";
import { rawDatasync } from "../../bench/storage";

function recordsIn(dir: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const name of fs.readdirSync(dir)) sizes.set(name, fs.statSync(path.join(dir, name)).size);
  return sizes;
}

t.test("one writer: every counted fsync is a 64 B record in one file", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raftmq-raw-datasync-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const result = await rawDatasync(dir, 0.05);
  t.ok(result.count > 0, "at least one fsync");
  t.ok(result.fsyncsPerSecond > 0);
  t.same([...recordsIn(dir)], [["raw-fsync-0.bin", 64 * result.count]]);
});

t.test("three writers: three files, all of them written, records adding up to the count", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raftmq-raw-datasync-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const result = await rawDatasync(dir, 0.05, 3);
  const sizes = recordsIn(dir);
  t.same([...sizes.keys()].sort(), ["raw-fsync-0.bin", "raw-fsync-1.bin", "raw-fsync-2.bin"]);
  let bytes = 0;
  for (const [name, size] of sizes) {
    t.ok(size > 0 && size % 64 === 0, `${name} holds whole records (${size} B)`);
    bytes += size;
  }
  t.equal(bytes, 64 * result.count, "one record per counted fsync");
});

t.test("a writer count the pool cannot run at once is refused", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raftmq-raw-datasync-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const writers of [0, 5, 1.5]) await t.rejects(rawDatasync(dir, 0.01, writers), RangeError, `writers ${writers}`);
  t.same(fs.readdirSync(dir), [], "nothing written");
});
