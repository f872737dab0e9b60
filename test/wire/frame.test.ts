// FrameDecoder under split input and corruption (STYLE.md §9): chunks of every size decode
// identically; every single-bit flip of a small frame is rejected; random corruption, truncation
// and garbage never crash, never deliver a damaged frame and never buffer more than one frame.
import t from "tap";
import { decodeBody, encodeBody, isKnownTypeCode, typeCodeOf } from "../../src/wire/codec";
import { clusterTagOf, encodeFrame, type Frame, FrameDecoder, frameHeaderBytes } from "../../src/wire/frame";
import { crc32 } from "../../src/util/crc32";
import { SeededRng } from "../../src/util/rng";
import { normalise, sampleMessages } from "./samples";

const clusterTag = clusterTagOf("test-cluster");
const frameBytesMax = 64 * 1024;

function newDecoder(): FrameDecoder {
  return new FrameDecoder({ frameBytesMax, clusterTag, isKnownType: isKnownTypeCode });
}

function sampleFrames(): Buffer[] {
  return sampleMessages().map((m, i) => encodeFrame({ typeCode: typeCodeOf(m.type), flags: i % 3 === 0 ? 1 : 2, clusterTag, seq: i + 1, requestId: i * 7 }, encodeBody(m)));
}

function summary(frames: Frame[]): unknown[] {
  return frames.map((f) => ({ typeCode: f.typeCode, flags: f.flags, seq: f.seq, requestId: f.requestId, payload: Buffer.from(f.payload).toString("hex") }));
}

t.test("a stream fed in chunks of every size decodes identically", async (t) => {
  const stream = Buffer.concat(sampleFrames());
  const expected = summary(newDecoder().push(stream).frames);
  t.equal(expected.length, sampleMessages().length);
  let mismatches = 0;
  for (let chunkBytes = 1; chunkBytes <= stream.length; chunkBytes++) {
    const decoder = newDecoder();
    const frames: Frame[] = [];
    for (let offset = 0; offset < stream.length; offset += chunkBytes) {
      const result = decoder.push(stream.subarray(offset, offset + chunkBytes));
      if (result.error !== null) mismatches++;
      frames.push(...result.frames);
    }
    if (JSON.stringify(summary(frames)) !== JSON.stringify(expected)) mismatches++;
    if (decoder.bufferedBytes !== 0) mismatches++;
  }
  t.equal(mismatches, 0, `all ${stream.length} chunk sizes agree`);
});

t.test("random splits decode identically (seeded)", async (t) => {
  const stream = Buffer.concat(sampleFrames());
  const expected = JSON.stringify(summary(newDecoder().push(stream).frames));
  const rng = new SeededRng(1);
  for (let run = 0; run < 200; run++) {
    const decoder = newDecoder();
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < stream.length) {
      const take = 1 + rng.nextInt(Math.min(300, stream.length - offset));
      frames.push(...decoder.push(stream.subarray(offset, offset + take)).frames);
      offset += take;
    }
    if (JSON.stringify(summary(frames)) !== expected) t.fail(`run ${run} differs`);
  }
  t.pass("200 random splits agree");
});

t.test("every single-bit flip of a small frame is rejected", async (t) => {
  const message = sampleMessages().find((m) => m.type === "RequestVote")!;
  const frame = encodeFrame({ typeCode: typeCodeOf(message.type), flags: 1, clusterTag, seq: 5, requestId: 3 }, encodeBody(message));
  const codes = new Map<string, number>();
  let delivered = 0;
  for (let bit = 0; bit < frame.length * 8; bit++) {
    const corrupt = Buffer.from(frame);
    corrupt[bit >> 3]! ^= 1 << (bit & 7);
    const result = newDecoder().push(corrupt);
    delivered += result.frames.length;
    const code = result.error?.code ?? "none";
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  t.equal(delivered, 0, "no corrupted frame delivered");
  t.notOk(codes.has("none"), "every flip raised an error at once");
  t.ok(codes.has("WIRE_BAD_MAGIC") && codes.has("WIRE_HEADER_CHECKSUM") && codes.has("WIRE_BODY_CHECKSUM"), `codes seen: ${[...codes.keys()].join(",")}`);
  t.equal([...codes.values()].reduce((a, b) => a + b, 0), frame.length * 8);
});

t.test("random multi-byte corruption delivers only a prefix of intact frames", async (t) => {
  const frames = sampleFrames();
  const stream = Buffer.concat(frames);
  const intact = summary(newDecoder().push(stream).frames).map((f) => JSON.stringify(f));
  const rng = new SeededRng(2);
  let errors = 0;
  for (let run = 0; run < 2000; run++) {
    const corrupt = Buffer.from(stream);
    const flips = 1 + rng.nextInt(8);
    for (let i = 0; i < flips; i++) corrupt[rng.nextInt(corrupt.length)] ^= 1 + rng.nextInt(255);
    const decoder = newDecoder();
    const got: Frame[] = [];
    let offset = 0;
    let error = null;
    while (offset < corrupt.length && error === null) {
      const take = 1 + rng.nextInt(200);
      const result = decoder.push(corrupt.subarray(offset, offset + take));
      got.push(...result.frames);
      error = result.error;
      offset += take;
      if (decoder.bufferedBytes > frameBytesMax) t.fail("buffered more than one frame");
    }
    if (error !== null) errors++;
    summary(got).forEach((f, i) => {
      if (JSON.stringify(f) !== intact[i]) t.fail(`run ${run}: frame ${i} differs from the original`);
    });
    if (error === null && got.length === frames.length) t.fail(`run ${run}: corruption went unnoticed`);
  }
  t.equal(errors, 2000, "every corrupted stream ended in an error");
});

t.test("truncation never delivers a partial frame", async (t) => {
  const frames = sampleFrames();
  const stream = Buffer.concat(frames);
  let boundary = 0;
  const boundaries = frames.map((f) => (boundary += f.length));
  for (let cut = 0; cut < stream.length; cut++) {
    const decoder = newDecoder();
    const result = decoder.push(stream.subarray(0, cut));
    const whole = boundaries.filter((b) => b <= cut).length;
    if (result.error !== null || result.frames.length !== whole) t.fail(`cut ${cut}: ${result.frames.length} frames, want ${whole}`);
  }
  t.pass("all truncations agree");
});

t.test("garbage streams are refused without buffering", async (t) => {
  const rng = new SeededRng(3);
  for (let run = 0; run < 500; run++) {
    const garbage = Buffer.alloc(1 + rng.nextInt(4096));
    for (let i = 0; i < garbage.length; i++) garbage[i] = rng.nextInt(256);
    const decoder = newDecoder();
    const result = decoder.push(garbage);
    if (result.frames.length !== 0) t.fail("garbage delivered a frame");
    if (garbage.length >= frameHeaderBytes && result.error === null) t.fail("garbage header accepted");
    if (decoder.bufferedBytes > frameHeaderBytes) t.fail("garbage buffered beyond a header");
  }
  t.pass("500 garbage streams refused");
});

/** A header with valid checksums but chosen fields, to reach the checks behind the header CRC. */
function forgedHeader(edit: (header: Buffer) => void): Buffer {
  const frame = encodeFrame({ typeCode: typeCodeOf("Ping"), flags: 0, clusterTag, seq: 1, requestId: 0 }, encodeBody({ type: "Ping", body: { nonce: 1 } }));
  edit(frame);
  frame.writeUInt32BE(crc32(frame.subarray(0, 32)), 32);
  return frame;
}

t.test("each header check has its own code", async (t) => {
  const cases: Array<[string, (h: Buffer) => void]> = [
    ["WIRE_BAD_VERSION", (h) => h.writeUInt8(2, 4)],
    ["WIRE_UNKNOWN_TYPE", (h) => h.writeUInt8(200, 5)],
    ["WIRE_DECODE", (h) => h.writeUInt16BE(0x80, 6)],
    ["WIRE_FRAME_TOO_LARGE", (h) => h.writeUInt32BE(0xffffffff, 8)],
    ["WIRE_CLUSTER_MISMATCH", (h) => h.writeUInt32BE(clusterTagOf("other-cluster"), 12)],
  ];
  for (const [code, edit] of cases) {
    const decoder = newDecoder();
    const result = decoder.push(forgedHeader(edit).subarray(0, frameHeaderBytes));
    t.equal(result.error?.code, code);
    t.equal(decoder.bufferedBytes, 0, `${code}: nothing waits for the payload`);
    t.same(decoder.push(Buffer.alloc(10)), { frames: [], error: result.error }, `${code}: decoder stays poisoned`);
  }
});

t.test("decoded payloads still decode to the original messages", async (t) => {
  const messages = sampleMessages();
  const decoder = newDecoder();
  const stream = Buffer.concat(sampleFrames());
  const frames: Frame[] = [];
  for (const byte of stream) frames.push(...decoder.push(Buffer.of(byte)).frames);
  frames.forEach((frame, i) => t.same(normalise(decodeBody(frame.typeCode, frame.payload).body), normalise(messages[i]!.body)));
});

