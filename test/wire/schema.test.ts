// The generated schema must match what the generator makes from the committed .proto
// (STYLE.md §3: generated code is never hand-edited; a check regenerates and diffs it).
import t from "tap";
import * as fs from "node:fs";
import { generatedPath, generateSchemaSource, protoPath } from "../../src/wire/schema-gen";

t.test("schema.generated.ts is up to date with raftmq.proto", async (t) => {
  const expected = generateSchemaSource(fs.readFileSync(protoPath, "utf8"));
  const actual = fs.readFileSync(generatedPath, "utf8");
  t.ok(actual === expected, "regenerate with: npx tsx src/wire/schema-gen.ts");
});

t.test("the generator refuses a frame type without its message", async (t) => {
  const proto = 'syntax = "proto3"; package raftmq.wire; enum FrameType { FRAME_UNSPECIFIED = 0; FRAME_MISSING = 1; }';
  t.throws(() => generateSchemaSource(proto), /no message named Missing/);
});
