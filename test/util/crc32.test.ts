// src/util/crc32.ts against zlib, on both of its paths (table loop up to 64 bytes, zlib above):
// every length and offset (frame headers and payloads), and continuing from an earlier result
// (the queue's snapshots, a chunk at a time).
import * as zlib from "node:zlib";
import t from "tap";
import { crc32 } from "../../src/util/crc32";
import { SeededRng } from "../../src/util/rng";

t.test("continuing from an earlier result equals the CRC-32 of the whole", async (t) => {
  const rng = new SeededRng(11);
  const bytes = new Uint8Array(400);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextInt(256);
  const wrong: string[] = [];
  for (const end of [0, 1, 31, 64, 65, 200, 400]) {
    for (let split = 0; split <= end; split += 7) {
      const whole = zlib.crc32(bytes.subarray(0, end)) >>> 0;
      if (crc32(bytes, split, end, crc32(bytes, 0, split)) !== whole) wrong.push(`[0, ${split}, ${end})`);
      if (crc32(bytes, split, end, zlib.crc32(bytes.subarray(0, split))) !== whole) wrong.push(`zlib then ours [0, ${split}, ${end})`);
    }
  }
  t.same(wrong, []);
  t.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926, "the CRC-32 check value");
});

t.test("crc32 gives zlib's CRC-32 for every length and offset, on both of its paths", async (t) => {
  const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 89 + 13) & 0xff));
  const wrong: string[] = [];
  for (const start of [0, 1, 7, 31]) {
    for (let end = start; end <= bytes.length; end++) {
      if (crc32(bytes, start, end) !== zlib.crc32(bytes.subarray(start, end)) >>> 0) wrong.push(`[${start}, ${end})`);
    }
  }
  t.same(wrong, []);
  t.equal(crc32(new Uint8Array(bytes.subarray(5, 40))), zlib.crc32(bytes.subarray(5, 40)) >>> 0, "a plain Uint8Array view");
});
