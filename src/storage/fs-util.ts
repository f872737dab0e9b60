/**
 * Small fs helpers and the shared shapes of the storage shell: the logger it needs (a subset of
 * bunyan's Logger, so a bunyan child logger fits) and its counters.
 */
import { write as fsWrite } from "node:fs";
import { open } from "node:fs/promises";

export interface StorageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Counters for the bench and, later, metrics. Monotonic except bytesSinceSnapshot. */
export interface StorageStats {
  persistCalls: number;
  /** Entry records written (including ones later superseded by a truncation). */
  entriesAppended: number;
  recordsWritten: number;
  bytesWritten: number;
  /** Group-commit flushes: one write pass + at most one datasync each. */
  flushes: number;
  /** datasync/fsync calls on segments, snapshots and the directory. */
  fsyncs: number;
  snapshotsWritten: number;
  /** WAL bytes written since the newest snapshot (reported by /metrics). */
  bytesSinceSnapshot: number;
  /** Zeros written ahead of the WAL's records (preallocation, wal-writer.ts); not in bytesWritten. */
  bytesPreallocated: number;
}

export function newStorageStats(): StorageStats {
  return {
    persistCalls: 0,
    entriesAppended: 0,
    recordsWritten: 0,
    bytesWritten: 0,
    flushes: 0,
    fsyncs: 0,
    snapshotsWritten: 0,
    bytesSinceSnapshot: 0,
    bytesPreallocated: 0,
  };
}

/** Makes a directory's entries (created, renamed, unlinked files) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * One positional write through the callback API (lighter than FileHandle.write's promise path);
 * resolves with the bytes written, which may be fewer than `length`.
 */
export function writeAt(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fsWrite(fd, buffer, offset, length, position, (error, written) => (error === null ? resolve(written) : reject(error))));
}
