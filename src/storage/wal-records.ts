/**
 * Payload codecs for the WAL's record types (pure: no fs). Indexes and terms are JS safe integers
 * stored as two little-endian u32 halves (lo, hi). Decoders throw WalDecodeError on any payload
 * that a valid frame should never carry; recovery reports that as corruption.
 *
 *   Entry          index u64, term u64, kind u8 (1 normal, 2 noop, 3 config), data
 *   HardState      term u64, commitIndex u64, votedFor: u16 byte length (0xffff = null) + utf8
 *   SnapshotMarker index u64, term u64
 *   SegmentStart   segmentSeq u64, floorIndex u64 (the log's last index when the segment began)
 */
import { assert } from "../util/assert";
import type { EntryKind, HardState, LogEntry } from "../raft/types";

export const ENTRY_PREFIX_BYTES = 17;
const VOTED_FOR_NULL = 0xffff;
const VOTED_FOR_BYTES_MAX = 1024;

export class WalDecodeError extends Error {
  override readonly name = "WalDecodeError";
}

const KIND_CODES: Record<EntryKind, number> = { normal: 1, noop: 2, config: 3 };
const KINDS: Array<EntryKind | undefined> = [undefined, "normal", "noop", "config"];

function writeU64(target: Buffer, offset: number, value: number): void {
  assert(Number.isSafeInteger(value), "u64 field is a safe integer");
  assert(value >= 0, "u64 field is non-negative");
  target.writeUInt32LE(value % 0x100000000, offset);
  target.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
}

function readU64(source: Buffer, offset: number): number {
  const value = source.readUInt32LE(offset + 4) * 0x100000000 + source.readUInt32LE(offset);
  if (!Number.isSafeInteger(value)) throw new WalDecodeError("u64 field beyond the safe integer range");
  return value;
}

function requireLength(payload: Buffer, bytes: number, what: string): void {
  if (payload.length < bytes) throw new WalDecodeError(`${what} payload too short (${payload.length} < ${bytes})`);
}

export function encodeEntry(entry: LogEntry): Buffer {
  const payload = Buffer.allocUnsafe(ENTRY_PREFIX_BYTES + entry.data.length);
  writeU64(payload, 0, entry.index);
  writeU64(payload, 8, entry.term);
  payload.writeUInt8(KIND_CODES[entry.kind], 16);
  payload.set(entry.data, ENTRY_PREFIX_BYTES);
  return payload;
}

/** Decodes an entry, copying its data out of `payload` (which may be a reused read buffer). */
export function decodeEntry(payload: Buffer): LogEntry {
  requireLength(payload, ENTRY_PREFIX_BYTES, "entry");
  const kind = KINDS[payload.readUInt8(16)];
  if (kind === undefined) throw new WalDecodeError(`unknown entry kind ${payload.readUInt8(16)}`);
  const data = new Uint8Array(payload.length - ENTRY_PREFIX_BYTES);
  data.set(payload.subarray(ENTRY_PREFIX_BYTES));
  return { index: readU64(payload, 0), term: readU64(payload, 8), kind, data };
}

export function encodeHardState(hardState: HardState): Buffer {
  const voted = hardState.votedFor === null ? null : Buffer.from(hardState.votedFor, "utf8");
  assert(voted === null || voted.length <= VOTED_FOR_BYTES_MAX, "votedFor within VOTED_FOR_BYTES_MAX");
  const payload = Buffer.allocUnsafe(18 + (voted?.length ?? 0));
  writeU64(payload, 0, hardState.term);
  writeU64(payload, 8, hardState.commitIndex);
  payload.writeUInt16LE(voted === null ? VOTED_FOR_NULL : voted.length, 16);
  if (voted !== null) payload.set(voted, 18);
  return payload;
}

export function decodeHardState(payload: Buffer): HardState {
  requireLength(payload, 18, "hard state");
  const votedBytes = payload.readUInt16LE(16);
  let votedFor: string | null = null;
  if (votedBytes !== VOTED_FOR_NULL) {
    if (votedBytes > VOTED_FOR_BYTES_MAX) throw new WalDecodeError("votedFor too long");
    requireLength(payload, 18 + votedBytes, "hard state");
    votedFor = payload.toString("utf8", 18, 18 + votedBytes);
  }
  return { term: readU64(payload, 0), commitIndex: readU64(payload, 8), votedFor };
}

export interface IndexTerm {
  index: number;
  term: number;
}

export function encodeSnapshotMarker(marker: IndexTerm): Buffer {
  const payload = Buffer.allocUnsafe(16);
  writeU64(payload, 0, marker.index);
  writeU64(payload, 8, marker.term);
  return payload;
}

export function decodeSnapshotMarker(payload: Buffer): IndexTerm {
  requireLength(payload, 16, "snapshot marker");
  return { index: readU64(payload, 0), term: readU64(payload, 8) };
}

export interface SegmentStart {
  segmentSeq: number;
  floorIndex: number;
}

export function encodeSegmentStart(start: SegmentStart): Buffer {
  const payload = Buffer.allocUnsafe(16);
  writeU64(payload, 0, start.segmentSeq);
  writeU64(payload, 8, start.floorIndex);
  return payload;
}

export function decodeSegmentStart(payload: Buffer): SegmentStart {
  requireLength(payload, 16, "segment start");
  return { segmentSeq: readU64(payload, 0), floorIndex: readU64(payload, 8) };
}
