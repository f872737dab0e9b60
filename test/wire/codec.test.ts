// Round trip of every framed message type through protobuf and frames, including empty,
// maximum-size and unicode strings; malformed protobuf is a typed error, never a crash.
import t from "tap";
import { decodeBody, encodeBody, isKnownTypeCode, typeCodeOf, typeNameOf } from "../../src/wire/codec";
import { clusterTagOf, encodeFrame, FrameDecoder, frameBytesMaxDefault, frameHeaderBytes } from "../../src/wire/frame";
import { isRaftmqError } from "../../src/util/errors";
import { allTypeNames, normalise, sampleMessages } from "./samples";

const clusterTag = clusterTagOf("test-cluster");

t.test("every framed type has a sample and a code that maps back", async (t) => {
  const sampled = new Set(sampleMessages().map((m) => m.type));
  for (const name of allTypeNames()) {
    t.ok(sampled.has(name), `sample for ${name}`);
    t.equal(typeNameOf(typeCodeOf(name)), name);
    t.ok(isKnownTypeCode(typeCodeOf(name)));
  }
  t.notOk(isKnownTypeCode(0));
  t.notOk(isKnownTypeCode(255));
});

t.test("body round trip preserves every field", async (t) => {
  for (const message of sampleMessages()) {
    const decoded = decodeBody(typeCodeOf(message.type), encodeBody(message));
    t.equal(decoded.type, message.type);
    t.same(normalise(decoded.body), normalise(message.body), `${message.type} body`);
  }
});

t.test("frame round trip of every message, fed whole", async (t) => {
  const decoder = new FrameDecoder({ frameBytesMax: frameBytesMaxDefault, clusterTag, isKnownType: isKnownTypeCode });
  const messages = sampleMessages();
  const stream = Buffer.concat(messages.map((m, i) => encodeFrame({ typeCode: typeCodeOf(m.type), flags: 0, clusterTag, seq: i + 1, requestId: i }, encodeBody(m))));
  const result = decoder.push(stream);
  t.equal(result.error, null);
  t.equal(result.frames.length, messages.length);
  result.frames.forEach((frame, i) => {
    t.equal(frame.seq, i + 1);
    t.equal(frame.requestId, i);
    t.same(normalise(decodeBody(frame.typeCode, frame.payload).body), normalise(messages[i]!.body));
  });
  t.equal(decoder.bufferedBytes, 0);
});

t.test("maximum-size frame passes, one byte more is refused before its payload arrives", async (t) => {
  const frameBytesMax = 1024 * 1024;
  // An ExecuteRequest whose encoding fills the frame exactly: find the string length by encoding.
  const overheadBytes = encodeBody({ type: "ExecuteRequest", body: { op: 1, queue: "q", value: "x".repeat(frameBytesMax), clientId: "c", seq: 1 } }).length - frameBytesMax;
  const value = "é".repeat(Math.floor((frameBytesMax - frameHeaderBytes - overheadBytes) / 2));
  let body = encodeBody({ type: "ExecuteRequest", body: { op: 1, queue: "q", value, clientId: "c", seq: 1 } });
  const slackBytes = frameBytesMax - frameHeaderBytes - body.length;
  const padded = value + "x".repeat(slackBytes);
  body = encodeBody({ type: "ExecuteRequest", body: { op: 1, queue: "q", value: padded, clientId: "c", seq: 1 } });
  t.equal(body.length + frameHeaderBytes, frameBytesMax, "frame is exactly the maximum");
  const decoder = new FrameDecoder({ frameBytesMax, clusterTag, isKnownType: isKnownTypeCode });
  const frame = encodeFrame({ typeCode: typeCodeOf("ExecuteRequest"), flags: 0, clusterTag, seq: 1, requestId: 0 }, body);
  const result = decoder.push(frame);
  t.equal(result.error, null);
  const decoded = decodeBody(result.frames[0]!.typeCode, result.frames[0]!.payload);
  t.equal(decoded.type === "ExecuteRequest" && decoded.body.value, padded);

  const tooBig = encodeFrame({ typeCode: typeCodeOf("ExecuteRequest"), flags: 0, clusterTag, seq: 2, requestId: 0 }, Buffer.concat([body, Buffer.from([0])]));
  const refusing = new FrameDecoder({ frameBytesMax, clusterTag, isKnownType: isKnownTypeCode });
  const refused = refusing.push(tooBig.subarray(0, frameHeaderBytes));
  t.equal(refused.error?.code, "WIRE_FRAME_TOO_LARGE", "refused on the header alone");
  t.equal(refusing.bufferedBytes, 0, "nothing allocated for the payload");
});

t.test("malformed protobuf payloads are WIRE_DECODE errors", async (t) => {
  const bad = [Buffer.from([0xff]), Buffer.from([0x0a, 0x05, 0x61]), Buffer.from([0x0f]), Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])];
  for (const name of allTypeNames()) {
    for (const payload of bad) {
      try {
        decodeBody(typeCodeOf(name), payload);
        t.pass(`${name} tolerated ${payload.toString("hex")}`); // some garbage is valid protobuf
      } catch (error) {
        t.ok(isRaftmqError(error, "WIRE_DECODE"), `${name} ${payload.toString("hex")}: WIRE_DECODE`);
      }
    }
  }
  t.throws(() => decodeBody(200, Buffer.alloc(0)), { code: "WIRE_UNKNOWN_TYPE" });
});
