/**
 * Byte helpers for the command and snapshot codecs.
 *
 * Contract: ByteReader checks every length before reading and reports malformed input as a
 * RaftmqError with the code given at construction (BAD_REQUEST for commands, SNAPSHOT_CORRUPT for
 * snapshots); it never reads past the end and never trusts a length it has not checked.
 * u32At/putU32/putU64 are the unchecked big-endian accessors for callers that checked the bounds.
 * Integers are big-endian; u64 fields carry JavaScript safe integers (< 2^53) only.
 */
import { ErrorCode, RaftmqError } from "../util/errors";

export const TWO_POW_32 = 0x100000000;
/** Largest high word of a safe integer: (2^53 - 1) >>> 32. */
export const SAFE_HIGH_MAX = 0x1fffff;

/** The big-endian u32 at bytes[at]; the caller checked that 4 bytes are there. */
export function u32At(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/** Writes `value` (a u32) big-endian at bytes[at]; the caller checked the room. */
export function putU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/** Writes `value` (a non-negative safe integer) big-endian at bytes[at]; the caller checked it and the room. */
export function putU64(bytes: Uint8Array, at: number, value: number): void {
  putU32(bytes, at, Math.floor(value / TWO_POW_32));
  putU32(bytes, at + 4, value >>> 0);
}
// fatal: reject invalid UTF-8 instead of substituting U+FFFD; ignoreBOM: keep a leading U+FEFF
// as part of the value (the default would silently strip it and change the value).
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 length of `text`, or -1 when it holds a lone surrogate (not representable in UTF-8). */
export function utf8ByteLength(text: string): number {
  let byteCount = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) byteCount += 1;
    else if (unit < 0x800) byteCount += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = text.charCodeAt(i + 1); // NaN past the end: fails the test below
      if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
      byteCount += 4;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return -1;
    else byteCount += 3;
  }
  return byteCount;
}

export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly code: ErrorCode,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
    throw new RaftmqError(this.code, `${this.what}: ${message}`, {
      cause,
      details: { ...details, offset: this.offset },
    });
  }

  private take(byteCount: number, field: string): number {
    if (byteCount > this.remaining) {
      this.fail(`truncated ${field}`, { field, needBytes: byteCount, haveBytes: this.remaining });
    }
    const at = this.offset;
    this.offset += byteCount;
    return at;
  }

  u8(field: string): number {
    return this.view.getUint8(this.take(1, field));
  }

  u16(field: string): number {
    return this.view.getUint16(this.take(2, field));
  }

  u32(field: string): number {
    return this.view.getUint32(this.take(4, field));
  }

  u64(field: string): number {
    const at = this.take(8, field);
    const high = this.view.getUint32(at);
    const low = this.view.getUint32(at + 4);
    if (high > SAFE_HIGH_MAX) this.fail(`${field} exceeds 2^53-1`, { field });
    return high * TWO_POW_32 + low;
  }

  /** A view (no copy) of the next `byteCount` bytes. */
  raw(byteCount: number, field: string): Uint8Array {
    const at = this.take(byteCount, field);
    return this.bytes.subarray(at, at + byteCount);
  }

  /** The next `byteCount` bytes as a string; invalid UTF-8 is malformed input. */
  utf8(byteCount: number, field: string): string {
    const slice = this.raw(byteCount, field);
    try {
      return utf8Decoder.decode(slice);
    } catch (cause) {
      // TextDecoder with fatal: true throws TypeError on invalid UTF-8: convert to a typed error.
      return this.fail(`${field} is not valid UTF-8`, { field }, cause);
    }
  }

  /** Fails unless every byte was consumed (no trailing garbage). */
  end(): void {
    if (this.remaining !== 0) this.fail("trailing bytes", { trailingBytes: this.remaining });
  }
}
