/** The data dir lock: a live owner refuses a second raftd, a dead owner's lock is taken over. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { lockDataDir } from "../../src/node/data-dir-lock";

t.test("lock, refuse while the owner lives, take over from a dead owner, release", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "raftmq-lock-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "LOCK");

  const lock = lockDataDir(dir);
  t.equal(fs.readFileSync(file, "utf8").trim(), String(process.pid), "the lock names this process");
  lock.release();
  t.notOk(fs.existsSync(file), "release removes it");

  fs.writeFileSync(file, `${process.ppid}\n`); // our parent is alive
  t.throws(() => lockDataDir(dir), { code: "CONFIG_INVALID" }, "a live owner keeps the dir");
  t.equal(fs.readFileSync(file, "utf8").trim(), String(process.ppid), "and its lock is left alone");

  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  fs.writeFileSync(file, `${dead.stdout}\n`);
  const taken = lockDataDir(dir);
  t.equal(fs.readFileSync(file, "utf8").trim(), String(process.pid), "a dead owner's lock is taken over");
  taken.release();
});
