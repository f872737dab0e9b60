/**
 * Test helpers for src/storage: temp directories removed in teardown, a logger that records
 * what it was told (so tests can assert a warning named the file and offset), and entries.
 */
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { LogEntry, Snapshot } from "../../src/raft/types";
import type { StorageLogger } from "../../src/storage/fs-util";
import { openFileStorage, type FileStorage } from "../../src/storage/file-storage";
import type { FileStorageOptions } from "../../src/storage/options";

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "raftmq-storage-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface LogLine {
  level: "info" | "warn" | "error";
  fields: Record<string, unknown>;
  message: string;
}

export class RecordingLogger implements StorageLogger {
  readonly lines: LogLine[] = [];
  info(fields: object, message: string): void {
    this.lines.push({ level: "info", fields: fields as Record<string, unknown>, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: "warn", fields: fields as Record<string, unknown>, message });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: "error", fields: fields as Record<string, unknown>, message });
  }
  at(level: LogLine["level"]): LogLine[] {
    return this.lines.filter((line) => line.level === level);
  }
}

export function entry(index: number, term: number, bytes = 8): LogEntry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, kind: "normal", data };
}

export function entries(from: number, to: number, term: number, bytes = 8): LogEntry[] {
  const out: LogEntry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term, bytes));
  return out;
}

export function snapshotAt(index: number, term: number, bytes = 100): Snapshot & { data: Uint8Array } {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index + i * 13) & 0xff;
  return { meta: { index, term, config: { voters: ["a:1", "b:1", "c:1"], learners: [] } }, data };
}

export async function openStorage(
  t: Teardown,
  dir: string,
  options: Partial<FileStorageOptions> = {},
): Promise<{ storage: FileStorage; logger: RecordingLogger }> {
  const logger = new RecordingLogger();
  const storage = await openFileStorage(dir, { fsync: "never", logger, ...options });
  t.teardown(() => storage.close());
  return { storage, logger };
}

/** Plain objects for t.same: entries with their data as arrays. */
export function plain(list: LogEntry[]): Array<{ index: number; term: number; kind: string; data: number[] }> {
  return list.map((e) => ({ index: e.index, term: e.term, kind: e.kind, data: Array.from(e.data) }));
}
