/**
 * FileStorage options: defaults, bounds and validation (pure). Unknown options and impossible
 * combinations are refused with CONFIG_INVALID when the storage is opened (STYLE.md §6).
 */
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { FRAME_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX } from "./record-codec";
import type { StorageLogger } from "./fs-util";

export interface FileStorageOptions {
  /** "never" skips every fsync: for benchmarks and tests only (logged at warn on open). */
  fsync: "always" | "never";
  logger: StorageLogger;
  /** Rotate to a new segment once the current one holds this many bytes. */
  segmentBytes?: number;
  /** Largest record payload (an entry's data + 17 bytes); larger entries are refused. */
  recordBytesMax?: number;
  /** Recovery read buffer; must hold the largest frame. */
  readBufferBytes?: number;
  /** A group-commit flush takes queued persist calls up to this many bytes (at least one call). */
  flushBytesMax?: number;
  /** Size of the buffers a flush is encoded into and written from. */
  writeChunkBytes?: number;
  /** persist() calls waiting for the disk before new ones are refused with STORAGE_BUSY. */
  queuedBatchesMax?: number;
  /** Largest snapshot file load() accepts and beginSnapshot() creates (read in chunks, never whole). */
  snapshotBytesMax?: number;
  /** Snapshots kept on disk (>= 1); log segments are kept back to the oldest of them. */
  snapshotsKept?: number;
  /**
   * With fsync "always": zeros kept written ahead of the WAL's records, so that its O_DSYNC writes
   * overwrite blocks instead of growing the file (wal-writer.ts says why); 0 turns it off.
   */
  preallocateBytes?: number;
  /** Truncate at mid-log corruption instead of refusing to start (loses the records after it). */
  repair?: boolean;
  /**
   * How a WAL flush reaches the disk. "blocking": fs.writeSync on the caller's thread, so
   * persist() returns once the write is done (durable, with fsync "always") and no thread-pool
   * hand-off or wake-up is paid; the event loop waits for the disk meanwhile. "pool": through
   * libuv's thread pool, so the process runs on while the disk works. wal-writer.ts says which
   * to pick and why.
   */
  walWrites?: "blocking" | "pool";
}

export type ResolvedOptions = Required<FileStorageOptions>;

const MiB = 1024 * 1024;

export const DEFAULT_OPTIONS: Omit<ResolvedOptions, "fsync" | "logger"> = {
  segmentBytes: 64 * MiB,
  recordBytesMax: 4 * MiB,
  readBufferBytes: 8 * MiB,
  flushBytesMax: 16 * MiB,
  writeChunkBytes: 1 * MiB,
  queuedBatchesMax: 65536,
  snapshotBytesMax: 1024 * MiB,
  snapshotsKept: 2,
  preallocateBytes: 4 * MiB,
  repair: false,
  walWrites: "blocking",
};

// Relations between the defaults, checked at module load (STYLE.md §4).
assert(DEFAULT_OPTIONS.recordBytesMax <= RECORD_PAYLOAD_BYTES_MAX, "default recordBytesMax within the frame format");
assert(DEFAULT_OPTIONS.readBufferBytes >= FRAME_HEADER_BYTES + DEFAULT_OPTIONS.recordBytesMax, "default read buffer holds the largest frame");
assert(DEFAULT_OPTIONS.flushBytesMax >= DEFAULT_OPTIONS.writeChunkBytes, "a flush spans at least one write chunk");

function invalid(message: string, details: Record<string, unknown>): RaftmqError {
  return new RaftmqError("CONFIG_INVALID", message, { details });
}

export function resolveOptions(options: FileStorageOptions): ResolvedOptions {
  const known = new Set(["fsync", "logger", ...Object.keys(DEFAULT_OPTIONS)]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw invalid(`unknown storage option ${key}`, { key });
  }
  if (options.fsync !== "always" && options.fsync !== "never") throw invalid("fsync must be \"always\" or \"never\"", { fsync: options.fsync });
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, ...options } as ResolvedOptions;
  for (const key of Object.keys(DEFAULT_OPTIONS) as Array<keyof typeof DEFAULT_OPTIONS>) {
    if (key === "repair") continue;
    if (key === "walWrites") {
      if (resolved.walWrites !== "blocking" && resolved.walWrites !== "pool") throw invalid('storage option walWrites must be "blocking" or "pool"', { walWrites: resolved.walWrites });
      continue;
    }
    const value = resolved[key];
    if (key === "preallocateBytes") {
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalid("storage option preallocateBytes must be a non-negative integer", { preallocateBytes: value });
      continue;
    }
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw invalid(`storage option ${key} must be a positive integer`, { [key]: value });
  }
  if (typeof resolved.repair !== "boolean") throw invalid("repair must be a boolean", { repair: resolved.repair });
  if (resolved.recordBytesMax > RECORD_PAYLOAD_BYTES_MAX) {
    throw invalid(`recordBytesMax must be <= ${RECORD_PAYLOAD_BYTES_MAX}`, { recordBytesMax: resolved.recordBytesMax });
  }
  if (resolved.readBufferBytes < FRAME_HEADER_BYTES + resolved.recordBytesMax) {
    throw invalid("readBufferBytes must hold the largest frame (recordBytesMax + 24)", {
      readBufferBytes: resolved.readBufferBytes,
      recordBytesMax: resolved.recordBytesMax,
    });
  }
  return resolved;
}
