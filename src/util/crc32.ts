/**
 * CRC-32 (zlib's polynomial), continuing from an earlier result like zlib.crc32(data, value).
 * Pure. Used by the wire's frames (src/wire/frame.ts) and the queue's snapshots
 * (src/queue/snapshot-*.ts).
 */
import * as zlib from "node:zlib";

const SMALL_CRC_BYTES = 64;
const CRC_TABLE = ((): Int32Array => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 of bytes[start, end), continuing from `previous` (the CRC-32 of the bytes before). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  // zlib.crc32 costs about 0.25-0.4 us a call here, whatever the length (a view to make, a call
  // into C++); the table loop below costs about 0.1 us for a 32-byte header and breaks even near
  // 100 bytes (2M-call loops). Frame headers, small frames and snapshot fields take the loop.
  if (end - start <= SMALL_CRC_BYTES) {
    let crc = previous ^ -1;
    for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    return (crc ^ -1) >>> 0;
  }
  return zlib.crc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), previous) >>> 0;
}
