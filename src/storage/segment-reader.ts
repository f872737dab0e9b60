/**
 * Reads one WAL segment file with a bounded buffer (fs shell around record-codec.ts).
 *
 * readSegment() hands every valid frame, in order, to a callback and stops at the first frame
 * that is invalid (bad header or checksum) or cut short by the end of the file, reporting its
 * offset. A segment may end in zero bytes the writer laid down ahead of its records
 * (preallocation, wal-writer.ts): a frame boundary from which every byte is zero is the end of
 * the records, not damage (no frame is all zeros: its checksum would not match). contentBytes()
 * finds where those zeros begin. scanAfterDamage() then looks for frames that still validate
 * further on, which tail-classifier.ts needs to tell a torn tail from corruption. Memory: one buffer of
 * `bufferBytes`, which must hold the largest frame.
 */
import type { FileHandle } from "node:fs/promises";
import { assert } from "../util/assert";
import { FRAME_HEADER_BYTES, checkHeader, parseFrame, type Frame } from "./record-codec";
import type { FlushPosition } from "./tail-classifier";

export interface SegmentReadLimits {
  bufferBytes: number;
  payloadBytesMax: number;
}

export type SegmentReadResult =
  | { kind: "clean"; validBytes: number }
  | { kind: "damaged"; offset: number; reason: string };

async function readInto(fh: FileHandle, buffer: Buffer, at: number, position: number, bytes: number): Promise<number> {
  let done = 0;
  while (done < bytes) {
    const { bytesRead } = await fh.read(buffer, at + done, bytes - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/**
 * The file's length without its trailing zero bytes: every byte at or after the result is zero.
 * Reads backwards from the end one buffer at a time, so a preallocated tail costs a read of it.
 */
export async function contentBytes(fh: FileHandle, fileBytes: number, bufferBytes: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(Math.min(bufferBytes, 1024 * 1024));
  let end = fileBytes;
  while (end > 0) {
    const start = Math.max(0, end - buffer.length);
    const got = await readInto(fh, buffer, 0, start, end - start);
    if (got < end - start) return end; // shrank meanwhile: no zero tail assumed
    for (let i = got - 1; i >= 0; i--) if (buffer[i] !== 0) return start + i + 1;
    end = start;
  }
  return 0;
}

/**
 * Reads the frames of a segment of `fileBytes` bytes, which are all zero from `contentEnd` on
 * (contentBytes(); pass fileBytes when unknown): reading ends cleanly at the first frame
 * boundary at or past it.
 */
export async function readSegment(
  fh: FileHandle,
  fileBytes: number,
  contentEnd: number,
  limits: SegmentReadLimits,
  onFrame: (frame: Frame, fileOffset: number) => void,
): Promise<SegmentReadResult> {
  assert(limits.bufferBytes >= FRAME_HEADER_BYTES + limits.payloadBytesMax, "read buffer holds the largest frame");
  assert(contentEnd <= fileBytes, "content ends within the file");
  const buffer = Buffer.allocUnsafe(limits.bufferBytes);
  let bufferStart = 0; // file offset of buffer[0]
  let bufferEnd = 0; // bytes of buffer holding file data
  let position = 0; // file offset of the next frame
  // A frame that starts before contentEnd is read whole, even where its last bytes are zeros.
  while (position < contentEnd) {
    const relative = position - bufferStart;
    const parsed = parseFrame(buffer, relative, bufferEnd, limits.payloadBytesMax);
    if (parsed.kind === "frame") {
      onFrame(parsed.frame, position);
      position += parsed.next - relative;
      continue;
    }
    if (parsed.kind === "invalid") return { kind: "damaged", offset: position, reason: parsed.reason };
    if (bufferStart + bufferEnd >= fileBytes) {
      return { kind: "damaged", offset: position, reason: "record cut short by the end of the file" };
    }
    // Incomplete: slide the unread bytes to the front and refill.
    buffer.copy(buffer, 0, relative, bufferEnd);
    bufferEnd -= relative;
    bufferStart = position;
    const want = Math.min(buffer.length - bufferEnd, fileBytes - (bufferStart + bufferEnd));
    const got = await readInto(fh, buffer, bufferEnd, bufferStart + bufferEnd, want);
    if (got === 0) return { kind: "damaged", offset: position, reason: "file shrank while being read" };
    bufferEnd += got;
  }
  return { kind: "clean", validBytes: position };
}

/**
 * Finds frames that validate after `damageOffset` (searching every byte offset before
 * `contentEnd`: no frame starts in the zero tail). Returns at most two: the first found, and the
 * first whose flush number differs from it (if any), which is all classifyDamage() needs to
 * reach its verdict. Bounded by the file size and one buffer.
 */
export async function scanAfterDamage(
  fh: FileHandle,
  fileBytes: number,
  contentEnd: number,
  damageOffset: number,
  limits: SegmentReadLimits,
): Promise<FlushPosition[]> {
  const buffer = Buffer.allocUnsafe(limits.bufferBytes);
  const found: FlushPosition[] = [];
  let windowStart = -1;
  let windowBytes = 0;
  let search = damageOffset + 1;
  while (search < contentEnd && search + FRAME_HEADER_BYTES <= fileBytes) {
    if (windowStart < 0 || search + FRAME_HEADER_BYTES > windowStart + windowBytes) {
      windowStart = search;
      windowBytes = await readInto(fh, buffer, 0, windowStart, Math.min(buffer.length, fileBytes - windowStart));
      if (windowBytes < FRAME_HEADER_BYTES) break;
    }
    const relative = search - windowStart;
    if (checkHeader(buffer, relative, limits.payloadBytesMax) !== null) {
      search += 1;
      continue;
    }
    const frameEnd = search + FRAME_HEADER_BYTES + buffer.readUInt32LE(relative + 4);
    if (frameEnd > fileBytes) {
      search += 1;
      continue;
    }
    if (frameEnd > windowStart + windowBytes) {
      windowStart = -1; // re-read a window starting at `search`: the frame fits in one buffer
      continue;
    }
    const parsed = parseFrame(buffer, relative, windowBytes, limits.payloadBytesMax);
    if (parsed.kind !== "frame") {
      search += 1;
      continue;
    }
    const header = parsed.frame.header;
    if (found.length === 0 || header.flushSeq !== found[0]!.flushSeq) {
      found.push({ flushSeq: header.flushSeq, flushPos: header.flushPos, flushCount: header.flushCount });
      if (found.length === 2) break;
    }
    search = frameEnd;
  }
  return found;
}
