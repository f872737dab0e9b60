// The RaftStorage contract (contract.ts) against FileStorage and against the simulator's
// MemStorage: same calls, same assertions.
import t from "tap";
import { readdir, readFile, truncate, open } from "node:fs/promises";
import * as path from "node:path";
import { emptyState } from "../../src/raft/membership";
import type { RaftStorage } from "../../src/raft/types";
import { openFileStorage } from "../../src/storage/file-storage";
import type { FileStorageOptions } from "../../src/storage/options";
import { parseFrame } from "../../src/storage/record-codec";
import type { Rng } from "../../src/util/rng";
import { MemDisk } from "../sim/storage";
import { storageContract, type StorageCall, type StorageDisk } from "./contract";
import { RecordingLogger, tempDir } from "./helpers";

async function newestSegment(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".seg")).sort();
  return path.join(dir, names[names.length - 1]!);
}

/** Where a segment's records end: preallocated zeros may follow them (wal-writer.ts). */
async function recordsEnd(segment: string): Promise<number> {
  const bytes = await readFile(segment);
  let offset = 0;
  for (;;) {
    const parsed = parseFrame(bytes, offset, bytes.length);
    if (parsed.kind !== "frame") return offset;
    offset = parsed.next;
  }
}

/**
 * FileStorage's crash: the unsynced calls are written (each its own flush) but their sync is
 * taken not to have happened, so at the power cut the newest segment keeps a seeded number of
 * bytes past the last synced flush; the rest is cut off or, as sectors that never landed, zeros.
 * With `options.fsync` "always" the segment also holds preallocated zeros after its records.
 */
class DirDisk implements StorageDisk {
  constructor(
    private readonly dir: string,
    private readonly options: Pick<FileStorageOptions, "fsync" | "preallocateBytes" | "walWrites">,
  ) {}

  async open(): Promise<RaftStorage> {
    return openFileStorage(this.dir, { ...this.options, logger: new RecordingLogger() });
  }

  async crashDuring(storage: RaftStorage, unsynced: StorageCall[], rng: Rng): Promise<void> {
    const segment = await newestSegment(this.dir);
    const syncedBytes = await recordsEnd(segment);
    for (const call of unsynced) await call(storage);
    await storage.close();
    if ((await newestSegment(this.dir)) !== segment) throw new Error("the unsynced calls rotated the segment: the crash below would miss them");
    const writtenBytes = await recordsEnd(segment);
    const keptBytes = syncedBytes + rng.nextInt(writtenBytes - syncedBytes + 1);
    if (rng.chance(0.5)) {
      await truncate(segment, keptBytes);
      return;
    }
    const handle = await open(segment, "r+");
    try {
      await handle.write(Buffer.alloc(writtenBytes - keptBytes), 0, writtenBytes - keptBytes, keptBytes);
    } finally {
      await handle.close();
    }
  }
}

/** MemStorage's crash: the calls stay in the MemDisk's cache, then MemDisk.crash tears them. */
class MemoryDisk implements StorageDisk {
  private readonly disk = new MemDisk(emptyState(), "immediate");

  async open(): Promise<RaftStorage> {
    return this.disk.open();
  }

  async crashDuring(storage: RaftStorage, unsynced: StorageCall[], rng: Rng): Promise<void> {
    this.disk.syncMode = "manual";
    // Their promises never settle: they resolve at a sync, and the crash comes first.
    for (const call of unsynced) void call(storage);
    this.disk.crash(rng);
    this.disk.syncMode = "immediate";
  }
}

t.test("FileStorage", async (t) => {
  storageContract(t, async (t) => new DirDisk(await tempDir(t), { fsync: "never" }));
});

t.test("FileStorage with fsync and preallocated segments", async (t) => {
  storageContract(t, async (t) => new DirDisk(await tempDir(t), { fsync: "always", preallocateBytes: 4096 }));
});

// The default writes the WAL with fs.writeSync; the thread pool's writes must keep the contract too.
t.test("FileStorage writing through the thread pool", async (t) => {
  storageContract(t, async (t) => new DirDisk(await tempDir(t), { fsync: "always", preallocateBytes: 4096, walWrites: "pool" }));
});

t.test("MemStorage (the simulator's)", async (t) => {
  storageContract(t, async () => new MemoryDisk());
});
