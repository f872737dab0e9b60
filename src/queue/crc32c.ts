/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-4: the checksum of queue
 * snapshot format version 1, which is still read (snapshot-decoder.ts) but no longer written
 * (version 2 uses CRC-32, src/util/crc32.ts, natively computed by zlib for long runs).
 * Pure; the standard check value crc32c("123456789") = 0xE3069283 is tested.
 */
const POLY = 0x82f63b78;

function makeTables(): Uint32Array[] {
  const tables = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];
  const t0 = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let t = 1; t < 4; t++) {
      c = (t0[c & 0xff]! ^ (c >>> 8)) >>> 0;
      tables[t]![n] = c;
    }
  }
  return tables;
}

const [T0, T1, T2, T3] = makeTables() as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];

export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cFinish(crc32cUpdate(CRC32C_START, bytes, start, end));
}

/** Running state before any byte: crc32c over pieces is crc32cFinish(crc32cUpdate(...)) in order. */
export const CRC32C_START = 0xffffffff;

/** Feeds bytes[start, end) to a running (unfinished) CRC-32C state. */
export function crc32cUpdate(state: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = state;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    crc ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    crc = T3[crc & 0xff]! ^ T2[(crc >>> 8) & 0xff]! ^ T1[(crc >>> 16) & 0xff]! ^ T0[crc >>> 24]!;
  }
  for (; i < end; i++) crc = T0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

export function crc32cFinish(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}
