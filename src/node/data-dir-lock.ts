/**
 * One raftd per data dir. Two processes appending to one WAL would corrupt it, so raftd takes
 * `LOCK` (its pid) at start and refuses a dir whose lock names a live process. A lock left by a
 * SIGKILLed process names a dead pid and is taken over. (A reused pid can make a stale lock look
 * live: the error names the pid and the file, so an operator can check and remove it.)
 */
import fs from "node:fs";
import path from "node:path";
import { RaftmqError } from "../util/errors";

export interface DataDirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else; ESRCH: no such process.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return {
        release: () => {
          try {
            if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.unlinkSync(file);
          } catch (error) {
            // Already gone (someone removed it by hand): nothing left to release.
            if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new RaftmqError("STORAGE_IO", `cannot create ${file}`, { cause: error });
      }
    }
    const owner = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new RaftmqError("CONFIG_INVALID", `data dir ${dataDir} is in use by process ${owner} (${file})`);
    }
    fs.unlinkSync(file); // stale: its owner is gone
  }
  throw new RaftmqError("CONFIG_INVALID", `could not lock data dir ${dataDir}: another process keeps taking ${file}`);
}
