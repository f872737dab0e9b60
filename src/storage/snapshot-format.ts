/**
 * Snapshot file layout (pure: no fs). A snapshot file is a fixed header, the metadata as JSON,
 * then the application's data:
 *
 *   offset size field
 *        0    8 magic       "RMQSNAP1"
 *        8    4 headerCrc   zlib.crc32 of bytes [12, 40 + metaBytes): header rest + metadata
 *       12    4 version     1
 *       16    4 metaBytes   <= SNAPSHOT_META_BYTES_MAX
 *       20    8 dataBytes   u64 (lo, hi)
 *       28    4 dataCrc     zlib.crc32 of the data
 *       32    8 reserved    zero
 *       40    m meta        JSON {index, term, config}
 *   40 + m    n data
 *
 * The data checksum is computed incrementally (crc32(chunk, previous)) so both sides of a
 * chunked transfer can check it with bounded memory.
 */
import { crc32 } from "node:zlib";
import type { SnapshotMeta } from "../raft/types";
import { assert } from "../util/assert";

export const SNAPSHOT_MAGIC = Buffer.from("RMQSNAP1", "ascii");
export const SNAPSHOT_HEADER_BYTES = 40;
export const SNAPSHOT_META_BYTES_MAX = 1024 * 1024;
const VERSION = 1;

export interface SnapshotHeader {
  metaBytes: number;
  dataBytes: number;
  dataCrc: number;
}

export function encodeSnapshotMeta(meta: SnapshotMeta): Buffer {
  const json = Buffer.from(JSON.stringify({ index: meta.index, term: meta.term, config: meta.config }), "utf8");
  assert(json.length <= SNAPSHOT_META_BYTES_MAX, "snapshot meta within SNAPSHOT_META_BYTES_MAX");
  return json;
}

/** Header + metadata, ready to be written at offset 0. */
export function encodeSnapshotHead(metaJson: Buffer, dataBytes: number, dataCrc: number): Buffer {
  assert(Number.isSafeInteger(dataBytes), "dataBytes is a safe integer");
  const head = Buffer.alloc(SNAPSHOT_HEADER_BYTES + metaJson.length);
  SNAPSHOT_MAGIC.copy(head, 0);
  head.writeUInt32LE(VERSION, 12);
  head.writeUInt32LE(metaJson.length, 16);
  head.writeUInt32LE(dataBytes % 0x100000000, 20);
  head.writeUInt32LE(Math.floor(dataBytes / 0x100000000), 24);
  head.writeUInt32LE(dataCrc >>> 0, 28);
  metaJson.copy(head, SNAPSHOT_HEADER_BYTES);
  head.writeUInt32LE(crc32(head.subarray(12)), 8);
  return head;
}

/** Checks the fixed header; returns the header or a reason it is unusable. */
export function decodeSnapshotHeader(fixed: Buffer): SnapshotHeader | string {
  if (fixed.length < SNAPSHOT_HEADER_BYTES) return "file shorter than the snapshot header";
  if (!fixed.subarray(0, 8).equals(SNAPSHOT_MAGIC)) return "bad magic";
  if (fixed.readUInt32LE(12) !== VERSION) return `unknown version ${fixed.readUInt32LE(12)}`;
  const metaBytes = fixed.readUInt32LE(16);
  if (metaBytes > SNAPSHOT_META_BYTES_MAX) return `metadata length ${metaBytes} too large`;
  const dataBytes = fixed.readUInt32LE(24) * 0x100000000 + fixed.readUInt32LE(20);
  if (!Number.isSafeInteger(dataBytes)) return "data length out of range";
  return { metaBytes, dataBytes, dataCrc: fixed.readUInt32LE(28) };
}

/** Checks the header checksum over `head` = fixed header + metadata, and parses the metadata. */
export function decodeSnapshotMeta(head: Buffer, header: SnapshotHeader): SnapshotMeta | string {
  assert(head.length === SNAPSHOT_HEADER_BYTES + header.metaBytes, "head holds the header and metadata");
  if (crc32(head.subarray(12)) !== head.readUInt32LE(8)) return "header checksum mismatch";
  let parsed: unknown;
  try {
    parsed = JSON.parse(head.toString("utf8", SNAPSHOT_HEADER_BYTES));
  } catch (error) {
    // Converted to a reason string: the caller reports the file as corrupt.
    return `metadata is not JSON: ${(error as Error).message}`;
  }
  return validateMeta(parsed) ?? "metadata has the wrong shape";
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function validateMeta(value: unknown): SnapshotMeta | null {
  if (typeof value !== "object" || value === null) return null;
  const record = value as Record<string, unknown>;
  const config = record["config"] as Record<string, unknown> | undefined;
  if (!Number.isSafeInteger(record["index"]) || !Number.isSafeInteger(record["term"])) return null;
  if (typeof config !== "object" || config === null) return null;
  if (!isStringArray(config["voters"]) || !isStringArray(config["learners"])) return null;
  return {
    index: record["index"] as number,
    term: record["term"] as number,
    config: { voters: config["voters"], learners: config["learners"] },
  };
}
