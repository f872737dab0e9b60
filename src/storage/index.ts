/**
 * src/storage: durable RaftStorage on disk (write-ahead log with group commit, snapshot files,
 * crash recovery). See README.md in this directory for the on-disk format and recovery rules.
 */
export { openFileStorage, FileStorage } from "./file-storage";
export type { FileStorageOptions } from "./options";
export type { StorageLogger, StorageStats } from "./fs-util";
export { SnapshotReader, SnapshotWriter, type SnapshotFileInfo } from "./snapshot-files";
