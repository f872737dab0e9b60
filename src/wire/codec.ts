/**
 * Message bodies <-> protobuf bytes, through cached protobufjs reflection types built once from
 * the generated descriptor of raftmq.proto. protobufjs compiles each type's encoder and decoder
 * into a specialised function on first use, so steady-state cost is that of static code
 * (bench/wire/bench.ts measures it).
 *
 * Contract: encodeBody(message) never throws for a well-typed message; decodeBody(typeCode, bytes)
 * returns the message or throws RaftmqError WIRE_UNKNOWN_TYPE / WIRE_DECODE, never anything else
 * for bad input. A decoded message is also checked beyond protobuf: every 64-bit integer is a
 * safe integer, every enum value is one the schema names, and the few message fields that must
 * be present (requiredMessageFields) are. So consumers (raft-convert.ts) can trust it.
 * Decoded bodies are protobufjs message objects: absent scalars read as their proto3 default,
 * absent message fields as null, `bytes` fields may share memory with the input.
 */
import * as protobuf from "protobufjs/light";
import { AssertionError } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { frameTypeCodes, schemaDescriptor, type WireBodies } from "./schema.generated";
import { installNumberUint64 } from "./uint64";

// 64-bit fields decode to plain numbers, not Long objects. This must run before the types are
// built (field defaults are computed then). Our uint64 values (terms, indexes, ids) stay below
// 2^53; raft-convert.ts checks that on the way in.
(protobuf.util as unknown as { Long: unknown }).Long = undefined;
protobuf.configure();
// After configure(), which sets the reader's uint64 again: no LongBits per uint64 (uint64.ts).
installNumberUint64(protobuf);

export type WireMessageType = keyof WireBodies;

/** A typed message: narrowing on `type` gives the body's interface. */
export type WireMessage = { [K in WireMessageType]: { type: K; body: WireBodies[K] } }[WireMessageType];

const root = protobuf.Root.fromJSON(schemaDescriptor as protobuf.INamespace);
root.resolveAll();

/** Message-typed fields a receiver cannot do without ("Type.field"). */
const requiredMessageFields = new Set(["InstallSnapshot.meta"]);

type FieldCheck = (value: unknown) => string | null;
const checksByType = new Map<protobuf.Type, Array<{ name: string; check: FieldCheck; repeated: boolean }>>();

const int64Types = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

function fieldCheckOf(type: protobuf.Type, field: protobuf.Field): FieldCheck | null {
  const resolved = field.resolvedType;
  if (int64Types.has(field.type)) {
    return (value) => (Number.isSafeInteger(value) ? null : `${field.name} is not a safe integer`);
  }
  if (resolved instanceof protobuf.Enum) {
    const known = new Set(Object.values(resolved.values));
    return (value) => (known.has(value as number) ? null : `${field.name} has unknown enum value ${String(value)}`);
  }
  if (resolved instanceof protobuf.Type) {
    const required = requiredMessageFields.has(`${type.name}.${field.name}`);
    return (value) => {
      if (value === null || value === undefined) return required ? `${field.name} is missing` : null;
      return checkMessage(resolved, value as Record<string, unknown>);
    };
  }
  return null;
}

function checksOf(type: protobuf.Type): Array<{ name: string; check: FieldCheck; repeated: boolean }> {
  let checks = checksByType.get(type);
  if (checks === undefined) {
    checks = [];
    for (const field of type.fieldsArray) {
      const check = fieldCheckOf(type, field);
      if (check !== null) checks.push({ name: field.name, check, repeated: field.repeated });
    }
    checksByType.set(type, checks);
  }
  return checks;
}

/** Null if the decoded message is valid beyond protobuf, else what is wrong. */
function checkMessage(type: protobuf.Type, message: Record<string, unknown>): string | null {
  for (const { name, check, repeated } of checksOf(type)) {
    const value = message[name];
    if (!repeated) {
      const problem = check(value);
      if (problem !== null) return `${type.name}.${problem}`;
      continue;
    }
    for (const item of value as unknown[]) {
      const problem = check(item);
      if (problem !== null) return `${type.name}.${problem}`;
    }
  }
  return null;
}
const typesByCode = new Map<number, { name: WireMessageType; type: protobuf.Type }>();
const codesByName = new Map<WireMessageType, number>();
for (const [name, code] of Object.entries(frameTypeCodes) as Array<[WireMessageType, number]>) {
  const type = root.lookupType(`raftmq.wire.${name}`);
  typesByCode.set(code, { name, type });
  codesByName.set(name, code);
}

export function isKnownTypeCode(typeCode: number): boolean {
  return typesByCode.has(typeCode);
}

export function typeCodeOf(type: WireMessageType): number {
  const code = codesByName.get(type);
  if (code === undefined) throw new AssertionError(`no frame type for message ${String(type)}`);
  return code;
}

export function typeNameOf(typeCode: number): WireMessageType | null {
  return typesByCode.get(typeCode)?.name ?? null;
}

export function encodeBody(message: WireMessage): Uint8Array {
  const entry = typesByCode.get(typeCodeOf(message.type));
  if (entry === undefined) throw new AssertionError(`no protobuf type for ${message.type}`);
  return entry.type.encode(message.body as unknown as Record<string, unknown>).finish();
}

export function decodeBody(typeCode: number, payload: Uint8Array): WireMessage {
  const entry = typesByCode.get(typeCode);
  if (entry === undefined) throw new RaftmqError("WIRE_UNKNOWN_TYPE", "unknown frame type", { details: { typeCode } });
  let body: unknown;
  try {
    body = entry.type.decode(payload);
  } catch (error) {
    // protobufjs throws RangeError/Error on malformed input; anything else would be our bug.
    if (error instanceof AssertionError) throw error;
    throw new RaftmqError("WIRE_DECODE", `cannot decode ${entry.name}`, { cause: error, details: { typeCode } });
  }
  const problem = checkMessage(entry.type, body as Record<string, unknown>);
  if (problem !== null) throw new RaftmqError("WIRE_DECODE", `invalid ${entry.name}: ${problem}`, { details: { typeCode } });
  return { type: entry.name, body } as WireMessage;
}
