// uint64 fields without LongBits (src/wire/uint64.ts): the bytes written and the numbers read
// must be exactly those of a BigInt reference varint, at every length from 1 to 10 bytes, and
// bad varints must fail as protobufjs's did.
import t from "tap";
import * as protobuf from "protobufjs/light";
import { decodeBody, encodeBody, typeCodeOf } from "../../src/wire/codec";
import { readUint64Number } from "../../src/wire/uint64";
import { isRaftmqError } from "../../src/util/errors";
import { SeededRng } from "../../src/util/rng";

/** The reference: LEB128 of a non-negative BigInt. */
function varint(value: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value > 0n) byte |= 0x80;
    out.push(byte);
  } while (value > 0n);
  return out;
}

/** Values at and around every 7-bit boundary up to 2^53, and random ones between. */
function samples(): number[] {
  const values = new Set<number>([0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]);
  for (let bits = 7; bits <= 53; bits += 7) for (const delta of [-1, 0, 1]) values.add(2 ** bits + delta);
  for (let bits = 31; bits <= 33; bits++) for (const delta of [-1, 0, 1]) values.add(2 ** bits + delta);
  const rng = new SeededRng(64);
  for (let i = 0; i < 2000; i++) {
    const bits = 1 + rng.nextInt(53);
    values.add(Math.min(Number.MAX_SAFE_INTEGER, Math.floor(rng.nextFloat() * 2 ** bits)));
  }
  return [...values].filter((v) => v >= 0 && v <= Number.MAX_SAFE_INTEGER);
}

t.test("writer: the varint bytes of the reference for every safe value", async (t) => {
  let mismatches = 0;
  for (const value of samples()) {
    const written = [...protobuf.Writer.create().uint64(value).finish()];
    if (written.join(",") !== varint(BigInt(value)).join(",")) mismatches += 1;
  }
  t.equal(mismatches, 0, "every sample encodes like the reference");
  // The fallback (protobufjs's own path) still takes what is not a uint32 number.
  t.same([...protobuf.Writer.create().uint64("4294967296").finish()], varint(2n ** 32n), "string input");
});

t.test("reader: the reference varint of every safe value reads back exactly", async (t) => {
  let mismatches = 0;
  for (const value of samples()) {
    const bytes = Uint8Array.from([...varint(BigInt(value)), 0x2a]);
    const reader = protobuf.Reader.create(bytes);
    if (reader.uint64() !== (value as unknown) || reader.pos !== bytes.length - 1) mismatches += 1;
  }
  t.equal(mismatches, 0, "every sample decodes to itself and stops at the varint's end");
});

t.test("reader: from 2^53 up a value is never a safe integer", async (t) => {
  for (const value of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    const read = readUint64Number({ buf: Uint8Array.from(varint(value)), pos: 0, len: varint(value).length });
    t.notOk(Number.isSafeInteger(read), `${value} reads as ${read}`);
  }
});

t.test("reader: a cut varint is a RangeError, an 11-byte one an Error", async (t) => {
  const cut = varint(2n ** 40n).slice(0, -1);
  t.throws(() => readUint64Number({ buf: Uint8Array.from(cut), pos: 0, len: cut.length }), RangeError);
  // len bounds the read, not the buffer: a varint running into the next field's bytes is cut.
  const whole = varint(300n);
  t.throws(() => readUint64Number({ buf: Uint8Array.from(whole), pos: 0, len: 1 }), RangeError);
  const long = [...Array(10).fill(0x80), 0x01];
  t.throws(() => readUint64Number({ buf: Uint8Array.from(long), pos: 0, len: long.length }), /invalid varint/);
});

t.test("through the codec: large indexes round trip, unsafe ones are WIRE_DECODE", async (t) => {
  const message = {
    type: "AppendEntriesResponse" as const,
    body: { from: "a", to: "b", term: 2 ** 32, success: true, matchIndex: Number.MAX_SAFE_INTEGER, conflictIndex: 2 ** 35 + 3, conflictTerm: 127, readContext: 0 },
  };
  const decoded = decodeBody(typeCodeOf(message.type), encodeBody(message as never));
  const body = decoded.body as unknown as Record<string, unknown>;
  t.equal(body.term, 2 ** 32);
  t.equal(body.matchIndex, Number.MAX_SAFE_INTEGER);
  t.equal(body.conflictIndex, 2 ** 35 + 3);
  t.equal(body.conflictTerm, 127);
  // field 5 (match_index), varint 2^53: out of range for raftmq.
  const unsafe = Uint8Array.from([(5 << 3) | 0, ...varint(2n ** 53n)]);
  try {
    decodeBody(typeCodeOf("AppendEntriesResponse"), unsafe);
    t.fail("2^53 accepted");
  } catch (error) {
    t.ok(isRaftmqError(error, "WIRE_DECODE"), "2^53 is WIRE_DECODE");
  }
});

t.test("the codec installed the number paths (a later protobuf.configure() would undo them)", async (t) => {
  t.equal((protobuf.Reader.prototype as unknown as { uint64: { name: string } }).uint64.name, "readUint64");
  t.equal((protobuf.Writer.prototype as unknown as { uint64: { name: string } }).uint64.name, "writeUint64");
});
