/**
 * WAL record framing (pure: no fs). Every record written to a segment file is one frame:
 *
 *   offset size field
 *        0    4 crc        zlib.crc32 of bytes [4, 24 + length): covers the rest of the header
 *                          and the payload, so a flipped bit anywhere is caught
 *        4    4 length     payload bytes, <= RECORD_PAYLOAD_BYTES_MAX (checked before trusting it)
 *        8    4 flushSeq   number of the group-commit flush that wrote the record (1, 2, ...)
 *       12    4 flushPos   position of the record inside its flush (0 .. flushCount - 1)
 *       16    4 flushCount number of records that flush wrote
 *       20    1 type       RecordType
 *       21    3 reserved   zero
 *       24    n payload
 *
 * flushSeq/flushPos/flushCount exist for recovery (see tail-classifier.ts): they tell a torn,
 * never-acknowledged last flush apart from damage to a flush that was fsynced and acknowledged.
 * All integers are little-endian.
 */
import { crc32 } from "node:zlib";
import { assert } from "../util/assert";

export const FRAME_HEADER_BYTES = 24;
/** Upper bound of one record's payload; an entry's data must fit in it (with its 17-byte prefix). */
export const RECORD_PAYLOAD_BYTES_MAX = 16 * 1024 * 1024;
export const FRAME_BYTES_MAX = FRAME_HEADER_BYTES + RECORD_PAYLOAD_BYTES_MAX;

export enum RecordType {
  /** First record of every segment: segment number and the log's last index when it began. */
  SegmentStart = 1,
  Entry = 2,
  HardState = 3,
  /** A snapshot from the leader was installed at (index, term); see wal-replay.ts. */
  SnapshotMarker = 4,
}

const RECORD_TYPE_MAX = RecordType.SnapshotMarker;

export interface FrameHeader {
  crc: number;
  length: number;
  flushSeq: number;
  flushPos: number;
  flushCount: number;
  type: RecordType;
}

export interface Frame {
  header: FrameHeader;
  /** Offset of the frame's first byte in the buffer it was parsed from. */
  offset: number;
  /** A view into the parsed buffer: copy it if the buffer is reused. */
  payload: Buffer;
}

export type ParseResult =
  | { kind: "frame"; frame: Frame; next: number }
  /** Not enough bytes to decide: read more (or, at end of file, the frame is torn). */
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string };

/** Encodes one frame into `target` at `offset`; returns the offset after it. */
export function encodeFrameInto(
  target: Buffer,
  offset: number,
  type: RecordType,
  payload: Uint8Array,
  flushSeq: number,
  flushPos: number,
  flushCount: number,
): number {
  assert(payload.length <= RECORD_PAYLOAD_BYTES_MAX, "record payload within RECORD_PAYLOAD_BYTES_MAX");
  assert(flushPos < flushCount, "flushPos < flushCount");
  assert(flushSeq >= 1 && flushSeq <= 0xffffffff, "flushSeq is a positive u32");
  assert(target.length - offset >= FRAME_HEADER_BYTES + payload.length, "frame fits in target");
  target.writeUInt32LE(payload.length, offset + 4);
  target.writeUInt32LE(flushSeq, offset + 8);
  target.writeUInt32LE(flushPos, offset + 12);
  target.writeUInt32LE(flushCount, offset + 16);
  target.writeUInt8(type, offset + 20);
  target.writeUInt8(0, offset + 21);
  target.writeUInt16LE(0, offset + 22);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  const end = offset + FRAME_HEADER_BYTES + payload.length;
  target.writeUInt32LE(crc32(target.subarray(offset + 4, end)), offset);
  return end;
}

export function frameBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

/**
 * Checks the header fields that can be checked without the payload. Returns null when plausible,
 * else a reason. A plausible header is not yet trusted: only the crc makes the frame valid.
 */
export function checkHeader(buffer: Buffer, offset: number, payloadBytesMax: number): string | null {
  const length = buffer.readUInt32LE(offset + 4);
  const flushPos = buffer.readUInt32LE(offset + 12);
  const flushCount = buffer.readUInt32LE(offset + 16);
  const type = buffer.readUInt8(offset + 20);
  if (length > payloadBytesMax) return `length ${length} exceeds the maximum ${payloadBytesMax}`;
  if (type < 1 || type > RECORD_TYPE_MAX) return `unknown record type ${type}`;
  if (buffer.readUInt8(offset + 21) !== 0 || buffer.readUInt16LE(offset + 22) !== 0) return "reserved bytes not zero";
  if (flushCount === 0) return "flushCount is zero";
  if (flushPos >= flushCount) return "flushPos >= flushCount";
  if (buffer.readUInt32LE(offset + 8) === 0) return "flushSeq is zero";
  return null;
}

/** Parses the frame at `offset` of `buffer[0, end)`. */
export function parseFrame(buffer: Buffer, offset: number, end: number, payloadBytesMax = RECORD_PAYLOAD_BYTES_MAX): ParseResult {
  assert(end <= buffer.length, "end within buffer");
  if (end - offset < FRAME_HEADER_BYTES) return { kind: "incomplete" };
  const bad = checkHeader(buffer, offset, payloadBytesMax);
  if (bad !== null) return { kind: "invalid", reason: bad };
  const length = buffer.readUInt32LE(offset + 4);
  const frameEnd = offset + FRAME_HEADER_BYTES + length;
  if (frameEnd > end) return { kind: "incomplete" };
  const crc = buffer.readUInt32LE(offset);
  if (crc32(buffer.subarray(offset + 4, frameEnd)) !== crc) return { kind: "invalid", reason: "checksum mismatch" };
  const header: FrameHeader = {
    crc,
    length,
    flushSeq: buffer.readUInt32LE(offset + 8),
    flushPos: buffer.readUInt32LE(offset + 12),
    flushCount: buffer.readUInt32LE(offset + 16),
    type: buffer.readUInt8(offset + 20) as RecordType,
  };
  return { kind: "frame", frame: { header, offset, payload: buffer.subarray(offset + FRAME_HEADER_BYTES, frameEnd) }, next: frameEnd };
}
