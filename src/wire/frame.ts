/**
 * Frame format and the push decoder (STYLE.md §3). Pure: no sockets, no timers.
 *
 * Every message travels in one frame: a fixed 36-byte header followed by `payloadBytes` bytes of
 * protobuf. All integers are big-endian.
 *
 *   offset size field
 *        0    4 magic          0x52464d51 ("RFMQ")
 *        4    1 version        1
 *        5    1 type           FrameType of raftmq.proto (which message the payload holds)
 *        6    2 flags          bit 0: request (expects a reply), bit 1: response; others 0
 *        8    4 payloadBytes   <= frameBytesMax - 36
 *       12    4 clusterTag     CRC-32 of the cluster id; frames of other clusters are refused.
 *                              0 marks a client that does not know the cluster id (raftctl).
 *       16    8 seq            sequence id on the sender's link (high 32 bits, then low 32 bits)
 *       24    4 requestId      correlates a response with its request; 0 for one-way frames
 *       28    4 payloadCrc     CRC-32 (zlib.crc32) of the payload
 *       32    4 headerCrc      CRC-32 of header bytes 0..31
 *
 * The decoder checks, in order: magic, headerCrc, version, flags, clusterTag, payloadBytes against
 * the limit, type is known. Only then does it trust payloadBytes and wait for (and allocate) the
 * payload, whose CRC it checks before returning the frame. So a corrupted length is caught by
 * headerCrc before the reader waits for or allocates anything, and a frame is returned whole or
 * not at all. CRC-32 detects every single-bit error and every burst up to 32 bits.
 *
 * After the first error the decoder is poisoned: a byte stream cannot be resynchronised safely,
 * so the owner must close the connection (src/wire/connection.ts does).
 */
import { assert } from "../util/assert";
import { crc32 } from "../util/crc32";
import { RaftmqError } from "../util/errors";

export const frameMagic = 0x52464d51;
export const frameVersion = 1;
export const frameHeaderBytes = 36;
export const frameBytesMaxDefault = 16 * 1024 * 1024;
/** Smallest limit a decoder accepts: a header plus a useful payload. */
export const frameBytesMaxMin = frameHeaderBytes + 1024;
/** Frame sizes must stay well inside what a Buffer and a u32 length can hold. */
export const frameBytesMaxMax = 1024 * 1024 * 1024;

export const frameFlagRequest = 1;
export const frameFlagResponse = 2;
const frameFlagsKnown = frameFlagRequest | frameFlagResponse;

const seqSafeHighMax = 0x1fffff; // 2^53 - 1 >> 32

assert(frameBytesMaxDefault >= frameBytesMaxMin, "default frame limit above the minimum");
assert(frameBytesMaxDefault <= frameBytesMaxMax, "default frame limit below the maximum");
assert(frameBytesMaxMax < 2 ** 32, "frame sizes fit the u32 length field");

export interface FrameFields {
  typeCode: number;
  flags: number;
  clusterTag: number;
  seq: number;
  requestId: number;
}

export interface Frame extends FrameFields {
  payload: Uint8Array;
}

/** The header's clusterTag for a cluster id. */
export function clusterTagOf(clusterId: string): number {
  if (clusterId === "") return 0;
  return crc32(Buffer.from(clusterId, "utf8"));
}

/** One frame as bytes, ready for the socket. Asserts the fields are in range (a caller bug otherwise). */
export function encodeFrame(fields: FrameFields, payload: Uint8Array): Buffer {
  assert(Number.isInteger(fields.typeCode) && fields.typeCode > 0, "frame type is a positive integer");
  assert(fields.typeCode <= 255, "frame type fits one byte");
  assert((fields.flags & ~frameFlagsKnown) === 0, "frame flags are known bits");
  assert(Number.isSafeInteger(fields.seq) && fields.seq >= 0, "frame seq is a safe non-negative integer");
  assert(Number.isInteger(fields.requestId) && fields.requestId >= 0, "requestId is a non-negative integer");
  assert(fields.requestId < 2 ** 32, "requestId fits u32");
  assert(payload.length <= frameBytesMaxMax - frameHeaderBytes, "payload fits the largest frame");
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
  frame.writeUInt32BE(frameMagic, 0);
  frame.writeUInt8(frameVersion, 4);
  frame.writeUInt8(fields.typeCode, 5);
  frame.writeUInt16BE(fields.flags, 6);
  frame.writeUInt32BE(payload.length, 8);
  frame.writeUInt32BE(fields.clusterTag >>> 0, 12);
  frame.writeUInt32BE(Math.floor(fields.seq / 2 ** 32), 16);
  frame.writeUInt32BE(fields.seq >>> 0, 20);
  frame.writeUInt32BE(fields.requestId, 24);
  frame.writeUInt32BE(crc32(payload), 28);
  frame.writeUInt32BE(crc32(frame, 0, 32), 32);
  frame.set(payload, frameHeaderBytes);
  return frame;
}

export interface FrameDecoderOptions {
  /** Largest whole frame (header + payload) accepted; larger ones are an error. */
  frameBytesMax: number;
  /** The clusterTag every frame must carry (clusterTagOf(clusterId)). */
  clusterTag: number;
  /** Also accept tag 0 (clients that do not know the cluster id); the handshake vets them. */
  acceptAnonymous?: boolean;
  /** Accept any tag: an anonymous client learning the cluster from the node it calls. */
  acceptAnyCluster?: boolean;
  /** Whether a type byte names a message this build knows. */
  isKnownType: (typeCode: number) => boolean;
}

export interface DecodeResult {
  /** Whole, checksum-verified frames, in stream order. */
  frames: Frame[];
  /** Set when the stream is bad; frames before the bad one are still in `frames`. */
  error: RaftmqError | null;
}

type HeaderCheck = { ok: true; fields: FrameFields; payloadBytes: number; payloadCrc: number } | { ok: false; error: RaftmqError };

/**
 * Push decoder: `push(chunk)` returns the frames completed by that chunk. Chunks may split frames
 * anywhere. Memory held is at most one header plus one payload of at most frameBytesMax.
 */
export class FrameDecoder {
  private readonly options: FrameDecoderOptions;
  /** Bytes of the current header collected so far (only used when a header spans chunks). */
  private readonly header = Buffer.alloc(frameHeaderBytes);
  private headerFilledBytes = 0;
  /** Invariant: non-null exactly while a verified header waits for the rest of its payload. */
  private pendingFrame: { fields: FrameFields; payloadCrc: number; payload: Buffer; filledBytes: number } | null = null;
  private poisoned: RaftmqError | null = null;
  private streamOffsetBytes = 0;

  constructor(options: FrameDecoderOptions) {
    assert(Number.isInteger(options.frameBytesMax), "frameBytesMax is an integer");
    assert(options.frameBytesMax >= frameBytesMaxMin, "frameBytesMax at least frameBytesMaxMin");
    assert(options.frameBytesMax <= frameBytesMaxMax, "frameBytesMax at most frameBytesMaxMax");
    this.options = options;
  }

  /** Bytes held for incomplete frames. */
  get bufferedBytes(): number {
    return this.headerFilledBytes + (this.pendingFrame === null ? 0 : this.pendingFrame.filledBytes);
  }

  get error(): RaftmqError | null {
    return this.poisoned;
  }

  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.poisoned !== null) return { frames, error: this.poisoned };
    let offset = 0;
    while (offset < chunk.length) {
      offset = this.pendingFrame === null ? this.consumeHeader(chunk, offset, frames) : this.consumePayload(chunk, offset, frames);
      if (this.poisoned !== null) return { frames, error: this.poisoned };
    }
    return { frames, error: null };
  }

  private consumeHeader(chunk: Uint8Array, offset: number, frames: Frame[]): number {
    if (this.headerFilledBytes === 0 && chunk.length - offset >= frameHeaderBytes) {
      // Fast path: the whole header is in this chunk; maybe the whole frame too (zero copy).
      const check = this.checkHeader(chunk, offset);
      if (!check.ok) return this.fail(check.error, offset);
      const payloadStart = offset + frameHeaderBytes;
      const frameEnd = payloadStart + check.payloadBytes;
      if (frameEnd <= chunk.length) {
        const payload = chunk.subarray(payloadStart, frameEnd);
        if (!this.finish(check.fields, check.payloadCrc, payload, frames)) return chunk.length;
        this.streamOffsetBytes += frameEnd - offset;
        return frameEnd;
      }
      this.startPayload(check.fields, check.payloadCrc, check.payloadBytes);
      this.streamOffsetBytes += frameHeaderBytes;
      return payloadStart;
    }
    const takeBytes = Math.min(frameHeaderBytes - this.headerFilledBytes, chunk.length - offset);
    this.header.set(chunk.subarray(offset, offset + takeBytes), this.headerFilledBytes);
    this.headerFilledBytes += takeBytes;
    if (this.headerFilledBytes < frameHeaderBytes) return offset + takeBytes;
    this.headerFilledBytes = 0;
    const check = this.checkHeader(this.header, 0);
    if (!check.ok) return this.fail(check.error, offset);
    this.streamOffsetBytes += frameHeaderBytes;
    if (check.payloadBytes === 0) {
      this.finish(check.fields, check.payloadCrc, Buffer.alloc(0), frames);
    } else {
      this.startPayload(check.fields, check.payloadCrc, check.payloadBytes);
    }
    return offset + takeBytes;
  }

  private startPayload(fields: FrameFields, payloadCrc: number, payloadBytes: number): void {
    // Safe to allocate: the header checksum vouches for payloadBytes and it is under the limit.
    assert(payloadBytes <= this.options.frameBytesMax - frameHeaderBytes, "payload allocation within the limit");
    this.pendingFrame = { fields, payloadCrc, payload: Buffer.allocUnsafe(payloadBytes), filledBytes: 0 };
  }

  private consumePayload(chunk: Uint8Array, offset: number, frames: Frame[]): number {
    const pending = this.pendingFrame;
    assert(pending !== null, "consumePayload only with a pending frame");
    const takeBytes = Math.min(pending.payload.length - pending.filledBytes, chunk.length - offset);
    pending.payload.set(chunk.subarray(offset, offset + takeBytes), pending.filledBytes);
    pending.filledBytes += takeBytes;
    this.streamOffsetBytes += takeBytes;
    if (pending.filledBytes === pending.payload.length) {
      this.pendingFrame = null;
      this.finish(pending.fields, pending.payloadCrc, pending.payload, frames);
    }
    return offset + takeBytes;
  }

  /** Verifies the payload checksum; returns false (and poisons) on mismatch. */
  private finish(fields: FrameFields, payloadCrc: number, payload: Uint8Array, frames: Frame[]): boolean {
    if (crc32(payload) !== payloadCrc) {
      this.fail(wireError("WIRE_BODY_CHECKSUM", "frame payload checksum mismatch", { typeCode: fields.typeCode, seq: fields.seq, streamOffsetBytes: this.streamOffsetBytes }), 0);
      return false;
    }
    frames.push({ typeCode: fields.typeCode, flags: fields.flags, clusterTag: fields.clusterTag, seq: fields.seq, requestId: fields.requestId, payload });
    return true;
  }

  private fail(error: RaftmqError, offset: number): number {
    this.poisoned = error;
    this.pendingFrame = null;
    this.headerFilledBytes = 0;
    return offset;
  }

  /** A failed check; its details (and the object holding them) are built only here, not per frame. */
  private refused(code: Parameters<typeof wireError>[0], message: string, details: Record<string, unknown> = {}): HeaderCheck {
    return { ok: false, error: wireError(code, message, { streamOffsetBytes: this.streamOffsetBytes, ...details }) };
  }

  private checkHeader(bytes: Uint8Array, at: number): HeaderCheck {
    const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = view.readUInt32BE(at);
    if (magic !== frameMagic) return this.refused("WIRE_BAD_MAGIC", "bad frame magic", { magic });
    const headerCrc = view.readUInt32BE(at + 32);
    if (crc32(view, at, at + 32) !== headerCrc) {
      return this.refused("WIRE_HEADER_CHECKSUM", "frame header checksum mismatch");
    }
    const version = view.readUInt8(at + 4);
    if (version !== frameVersion) return this.refused("WIRE_BAD_VERSION", "unsupported frame version", { version });
    const flags = view.readUInt16BE(at + 6);
    if ((flags & ~frameFlagsKnown) !== 0) return this.refused("WIRE_DECODE", "unknown frame flags", { flags });
    const clusterTag = view.readUInt32BE(at + 12);
    const tagOk = clusterTag === this.options.clusterTag || (clusterTag === 0 && this.options.acceptAnonymous === true) || this.options.acceptAnyCluster === true;
    if (!tagOk) {
      return this.refused("WIRE_CLUSTER_MISMATCH", "frame from another cluster", { clusterTag });
    }
    const payloadBytes = view.readUInt32BE(at + 8);
    if (payloadBytes > this.options.frameBytesMax - frameHeaderBytes) {
      return this.refused("WIRE_FRAME_TOO_LARGE", "frame larger than frameBytesMax", { payloadBytes, frameBytesMax: this.options.frameBytesMax });
    }
    const typeCode = view.readUInt8(at + 5);
    if (!this.options.isKnownType(typeCode)) return this.refused("WIRE_UNKNOWN_TYPE", "unknown frame type", { typeCode });
    const seqHigh = view.readUInt32BE(at + 16);
    if (seqHigh > seqSafeHighMax) return this.refused("WIRE_DECODE", "frame seq beyond 2^53");
    const seq = seqHigh * 2 ** 32 + view.readUInt32BE(at + 20);
    const requestId = view.readUInt32BE(at + 24);
    const payloadCrc = view.readUInt32BE(at + 28);
    return { ok: true, fields: { typeCode, flags, clusterTag, seq, requestId }, payloadBytes, payloadCrc };
  }
}

export function wireError(code: "WIRE_BAD_MAGIC" | "WIRE_BAD_VERSION" | "WIRE_HEADER_CHECKSUM" | "WIRE_BODY_CHECKSUM" | "WIRE_FRAME_TOO_LARGE" | "WIRE_DECODE" | "WIRE_UNKNOWN_TYPE" | "WIRE_CLUSTER_MISMATCH", message: string, details: Record<string, unknown>): RaftmqError {
  return new RaftmqError(code, message, { details });
}
