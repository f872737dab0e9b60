/**
 * uint64 fields as plain numbers without a LongBits object per value.
 *
 * With `util.Long` unset (codec.ts), protobufjs still builds a LongBits object for every uint64
 * it writes (LongBits.from) and for every one it reads (readLongVarint, then toNumber). Terms,
 * indexes and sequence numbers are uint64, so an AppendEntries of 64 entries made about 130 of
 * them on the leader and as many on each follower; they were about 6% of the bytes the leader
 * allocated at c64 (heap sampling, bench/README.md).
 *
 * Writing: a number in 0 .. 2^32-1 is written as uint32 is: the same varint bytes. Anything
 * else (larger numbers, Long objects, strings) goes to protobufjs's own writer.
 *
 * Reading: the varint is summed into a double, 7 bits at a time. Up to 2^53 that is exact, so
 * every value a raftmq node sends reads back as protobufjs read it. A value of 2^53 or more
 * reads as some number >= 2^53, which codec.ts rejects as not a safe integer, as it rejected
 * protobufjs's rounded value. A varint cut short by the end of the message throws RangeError,
 * one longer than 10 bytes throws Error: protobufjs's errors for the same input, which
 * decodeBody() turns into WIRE_DECODE.
 */
import type * as protobuf from "protobufjs/light";

const varint64BytesMax = 10;

interface ReaderState {
  buf: Uint8Array;
  pos: number;
  len: number;
}

/** Reads one varint at reader.pos as a number (see the header for values from 2^53 on). */
export function readUint64Number(reader: ReaderState): number {
  const buf = reader.buf;
  const len = reader.len;
  let pos = reader.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < varint64BytesMax; i++) {
    if (pos >= len) throw new RangeError(`index out of range: ${reader.pos} + ${i + 1} > ${len}`);
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      reader.pos = pos;
      return value;
    }
    scale *= 0x80;
  }
  throw new Error("invalid varint encoding");
}

let installed = false;

/** Replaces protobufjs's uint64 read and write with the number paths above. Idempotent. */
export function installNumberUint64(pb: typeof protobuf): void {
  if (installed) return;
  installed = true;
  const writer = pb.Writer.prototype as unknown as { uint64(value: unknown): unknown; uint32(value: number): unknown };
  const writeLongBits = writer.uint64;
  writer.uint64 = function writeUint64(this: typeof writer, value: unknown) {
    if (typeof value === "number" && value >>> 0 === value) return this.uint32(value);
    return writeLongBits.call(this, value);
  };
  const reader = pb.Reader.prototype as unknown as { uint64(): number };
  reader.uint64 = function readUint64(this: ReaderState) {
    return readUint64Number(this);
  };
}
