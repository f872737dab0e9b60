/**
 * Binary encoding of queue commands: the bytes stored in LogEntry.data (kind "normal").
 *
 * Layout, version 1 (integers big-endian; every length is checked before it is used):
 *
 *   offset  size  field
 *   0       1     format version = 1
 *   1       1     op: 1 = enqueue, 2 = dequeue
 *   2       8     seq           (u64, 1 .. 2^53-1)
 *   10      8     proposedAtMs  (u64, 0 .. 2^53-1)
 *   18      1     clientId length c (1..64)
 *   19      c     clientId      (printable ASCII 0x21..0x7e)
 *   19+c    1     queue length q (1..64)
 *   20+c    q     queue name    ([A-Za-z0-9._-])
 *   enqueue only:
 *   20+c+q  4     value length v (u32, <= VALUE_BYTES_LIMIT)
 *   24+c+q  v     value         (valid UTF-8; a leading BOM is kept)
 *   nothing may follow.
 *
 * Contract: encodeCommand(decodeCommand(b)) equals b and decodeCommand(encodeCommand(c)) equals c.
 * Decoding never throws anything but RaftmqError BAD_REQUEST, whatever the bytes. The configured
 * value limit (limits.valueBytesMax) is checked by validateProposal() on the leader and again by the
 * state machine when applying; the codec only enforces the hard cap VALUE_BYTES_LIMIT.
 */
import { isUtf8 } from "node:buffer";
import { assert } from "../util/assert";
import { isRaftmqError, RaftmqError } from "../util/errors";
import { ByteReader, putU32, putU64, SAFE_HIGH_MAX, TWO_POW_32, u32At, utf8ByteLength } from "./bytes";
import { CLIENT_ID_BYTES_MAX, QUEUE_NAME_BYTES_MAX, QueueLimits, VALUE_BYTES_LIMIT } from "./limits";
import { QueueCommand, QueueOp } from "./types";

export const COMMAND_FORMAT_VERSION = 1;
const OP_ENQUEUE = 1;
const OP_DEQUEUE = 2;
const FIXED_BYTES = 1 + 1 + 8 + 8 + 1 + 1;
const VALUE_LENGTH_BYTES = 4;

/** Largest encoded command for a given value limit (for checks against entry and frame limits). */
export function commandBytesMax(valueBytesMax: number): number {
  return FIXED_BYTES + CLIENT_ID_BYTES_MAX + QUEUE_NAME_BYTES_MAX + VALUE_LENGTH_BYTES + valueBytesMax;
}

function badRequest(message: string, details: Record<string, unknown> = {}): RaftmqError {
  return new RaftmqError("BAD_REQUEST", message, { details });
}

function isQueueNameByte(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x2d // -
  );
}

function isClientIdByte(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e;
}

function checkAscii(text: string, maxBytes: number, allowed: (byte: number) => boolean): boolean {
  if (text.length < 1 || text.length > maxBytes) return false;
  for (let i = 0; i < text.length; i++) if (!allowed(text.charCodeAt(i))) return false;
  return true;
}

/** null if `name` is a valid queue name, else a BAD_REQUEST error saying why. */
export function validateQueueName(name: unknown): RaftmqError | null {
  if (typeof name === "string" && checkAscii(name, QUEUE_NAME_BYTES_MAX, isQueueNameByte)) return null;
  return badRequest(`queue name must be 1..${QUEUE_NAME_BYTES_MAX} characters of [A-Za-z0-9._-]`, { queue: name });
}

/** null if `clientId` is valid, else a BAD_REQUEST error saying why. */
export function validateClientId(clientId: unknown): RaftmqError | null {
  if (typeof clientId === "string" && checkAscii(clientId, CLIENT_ID_BYTES_MAX, isClientIdByte)) return null;
  return badRequest(`clientId must be 1..${CLIENT_ID_BYTES_MAX} printable ASCII characters`, { clientId });
}

/** The value's UTF-8 length (0 for a dequeue) if the command is well formed, else why not. */
function checkShape(command: QueueCommand, valueBytesMax: number): number | RaftmqError {
  if (command.op !== "enqueue" && command.op !== "dequeue") return badRequest("unknown op", { op: (command as { op: unknown }).op });
  const nameError = validateQueueName(command.queue) ?? validateClientId(command.clientId);
  if (nameError !== null) return nameError;
  if (!Number.isSafeInteger(command.seq) || command.seq < 1) return badRequest("seq must be a safe integer >= 1");
  if (!Number.isSafeInteger(command.proposedAtMs) || command.proposedAtMs < 0) {
    return badRequest("proposedAtMs must be a safe integer >= 0");
  }
  if (command.op === "dequeue") return 0;
  if (typeof command.value !== "string") return badRequest("enqueue needs a string value");
  const valueBytes = utf8ByteLength(command.value);
  if (valueBytes < 0) return badRequest("value holds a lone surrogate (not representable in UTF-8)");
  if (valueBytes > valueBytesMax) {
    return new RaftmqError("VALUE_TOO_LARGE", `value is ${valueBytes} bytes, limit ${valueBytesMax}`, {
      details: { valueBytes, valueBytesMax },
    });
  }
  return valueBytes;
}

/**
 * The leader's check before proposing (and the client's before sending): null if the state
 * machine will accept the command's shape and value size, else BAD_REQUEST or VALUE_TOO_LARGE.
 */
export function validateProposal(command: QueueCommand, limits: QueueLimits): RaftmqError | null {
  const shape = checkShape(command, limits.valueBytesMax);
  return typeof shape === "number" ? null : shape;
}

/** Encodes a command; throws RaftmqError BAD_REQUEST / VALUE_TOO_LARGE if it is not encodable. */
export function encodeCommand(command: QueueCommand): Uint8Array {
  const shape = checkShape(command, VALUE_BYTES_LIMIT);
  if (typeof shape !== "number") throw shape;
  return encodeChecked(command, shape);
}

/**
 * The leader's path: validateProposal() and encodeCommand() with one pass over the value.
 * Throws the error validateProposal() would return.
 */
export function encodeProposal(command: QueueCommand, limits: QueueLimits): Uint8Array {
  const shape = checkShape(command, Math.min(limits.valueBytesMax, VALUE_BYTES_LIMIT));
  if (typeof shape !== "number") throw shape;
  return encodeChecked(command, shape);
}

/*
 * Command bytes are carved out of shared 64 KiB slabs: one backing store per slab instead of one
 * per command (each costs a malloc, a V8 tracking record and a sweep, and about 600 bytes of RSS
 * while the log holds it). The log keeps a command as long as its entry and drops entries oldest
 * first, so a slab is freed soon after its last command leaves the log. Larger commands get a
 * buffer of their own.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_PIECE_MAX = 4 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

function commandBytes(byteCount: number): Uint8Array {
  if (byteCount > SLAB_PIECE_MAX) return new Uint8Array(byteCount);
  if (slabUsed + byteCount > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + byteCount);
  slabUsed += byteCount;
  return bytes;
}

const utf8Encoder = new TextEncoder();

/** ASCII text (checked by checkShape), one byte per character. */
function writeAscii(bytes: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
}

/** The layout above, for a command checkShape() accepted with `valueBytes`. */
function encodeChecked(command: QueueCommand, valueBytes: number): Uint8Array {
  const clientId = command.clientId;
  const queue = command.queue;
  const enqueue = command.op === "enqueue";
  const byteCount = FIXED_BYTES + clientId.length + queue.length + (enqueue ? VALUE_LENGTH_BYTES + valueBytes : 0);
  const bytes = commandBytes(byteCount);
  bytes[0] = COMMAND_FORMAT_VERSION;
  bytes[1] = enqueue ? OP_ENQUEUE : OP_DEQUEUE;
  putU64(bytes, 2, command.seq);
  putU64(bytes, 10, command.proposedAtMs);
  let at = 18;
  bytes[at] = clientId.length;
  writeAscii(bytes, at + 1, clientId);
  at += 1 + clientId.length;
  bytes[at] = queue.length;
  writeAscii(bytes, at + 1, queue);
  at += 1 + queue.length;
  if (command.op === "enqueue") {
    putU32(bytes, at, valueBytes);
    at += VALUE_LENGTH_BYTES;
    const value = command.value;
    if (valueBytes === value.length) {
      writeAscii(bytes, at, value); // UTF-8 as long as the string: all ASCII
    } else {
      const { read, written } = utf8Encoder.encodeInto(value, bytes.subarray(at, at + valueBytes));
      assert(written === valueBytes && read === value.length, "encodeCommand: the value's UTF-8 fills its precomputed length");
    }
    at += valueBytes;
  }
  assert(at === byteCount, "encodeCommand: size arithmetic matches bytes written");
  return bytes;
}

/**
 * What apply() needs of a command, decoded without exceptions or copies: `value` is a view of
 * the entry's UTF-8 bytes (checked valid), for a dequeue an empty array. null: malformed, exactly
 * when decodeCommandResult() says BAD_REQUEST (test/queue/command-codec.test.ts compares them).
 */
export interface ApplyCommand {
  op: "enqueue" | "dequeue";
  queue: string;
  clientId: string;
  seq: number;
  proposedAtMs: number;
  value: Uint8Array;
}

/** A dequeue's value: shared, never written. */
const NO_VALUE = new Uint8Array(0);

/**
 * Strings decodeForApply() made lately for client ids and queue names, by a hash of their
 * bytes: every node applies every command, and a cluster's clients and queues are few, so most
 * applies find both here instead of making two strings and two views (on a follower at c64
 * those were about a quarter of the bytes it allocated). Direct-mapped: a colliding name
 * replaces the one in its slot, so the table never holds more than internSlots strings of at
 * most 64 characters. The string returned is equal to a fresh one, so it changes no result.
 */
const internSlots = 256;
const interned: Array<string | undefined> = new Array<string | undefined>(internSlots).fill(undefined);

/** An ASCII field of `length` bytes at `at`, or null if a byte is not `allowed`. */
function asciiField(bytes: Uint8Array, at: number, length: number, allowed: (b: number) => boolean): string | null {
  let hash = 0x811c9dc5 ^ length;
  for (let i = at; i < at + length; i++) {
    const byte = bytes[i]!;
    if (!allowed(byte)) return null;
    hash = Math.imul(hash ^ byte, 0x01000193);
  }
  const slot = (hash ^ (hash >>> 16)) & (internSlots - 1);
  const known = interned[slot];
  if (known !== undefined && known.length === length && sameAscii(known, bytes, at)) return known;
  const made = String.fromCharCode.apply(null, bytes.subarray(at, at + length) as unknown as number[]);
  interned[slot] = made;
  return made;
}

function sameAscii(text: string, bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[at + i]) return false;
  return true;
}

export function decodeForApply(bytes: Uint8Array): ApplyCommand | null {
  const end = bytes.length;
  if (end < FIXED_BYTES + 2 || bytes[0] !== COMMAND_FORMAT_VERSION) return null;
  const opCode = bytes[1];
  if (opCode !== OP_ENQUEUE && opCode !== OP_DEQUEUE) return null;
  const seqHigh = u32At(bytes, 2);
  const atHigh = u32At(bytes, 10);
  if (seqHigh > SAFE_HIGH_MAX || atHigh > SAFE_HIGH_MAX) return null;
  const seq = seqHigh * TWO_POW_32 + u32At(bytes, 6);
  if (seq < 1) return null;
  const proposedAtMs = atHigh * TWO_POW_32 + u32At(bytes, 14);
  let at = 18;
  const clientIdLength = bytes[at]!;
  if (clientIdLength < 1 || clientIdLength > CLIENT_ID_BYTES_MAX || at + 1 + clientIdLength + 1 > end) return null;
  const clientId = asciiField(bytes, at + 1, clientIdLength, isClientIdByte);
  if (clientId === null) return null;
  at += 1 + clientIdLength;
  const queueLength = bytes[at]!;
  if (queueLength < 1 || queueLength > QUEUE_NAME_BYTES_MAX || at + 1 + queueLength > end) return null;
  const queue = asciiField(bytes, at + 1, queueLength, isQueueNameByte);
  if (queue === null) return null;
  at += 1 + queueLength;
  if (opCode === OP_DEQUEUE) {
    if (at !== end) return null;
    return { op: "dequeue", queue, clientId, seq, proposedAtMs, value: NO_VALUE };
  }
  if (at + VALUE_LENGTH_BYTES > end) return null;
  const valueBytes = u32At(bytes, at);
  at += VALUE_LENGTH_BYTES;
  if (valueBytes > VALUE_BYTES_LIMIT || at + valueBytes !== end) return null;
  const value = bytes.subarray(at, end);
  if (!isUtf8(value)) return null;
  return { op: "enqueue", queue, clientId, seq, proposedAtMs, value };
}

function readAscii(reader: ByteReader, field: string, maxBytes: number, allowed: (b: number) => boolean): string {
  const byteCount = reader.u8(`${field} length`);
  if (byteCount < 1 || byteCount > maxBytes) reader.fail(`${field} length out of range`, { byteCount });
  const bytes = reader.raw(byteCount, field);
  for (let i = 0; i < bytes.length; i++) {
    if (!allowed(bytes[i]!)) reader.fail(`${field} has a forbidden byte`, { byte: bytes[i] });
  }
  // Validated ASCII: one char per byte.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function readCommand(data: Uint8Array): { command: QueueCommand; valueBytes: number } {
  const reader = new ByteReader(data, "BAD_REQUEST", "queue command");
  const version = reader.u8("version");
  if (version !== COMMAND_FORMAT_VERSION) reader.fail("unknown format version", { version });
  const opCode = reader.u8("op");
  if (opCode !== OP_ENQUEUE && opCode !== OP_DEQUEUE) reader.fail("unknown op", { opCode });
  const seq = reader.u64("seq");
  if (seq < 1) reader.fail("seq must be >= 1", { seq });
  const proposedAtMs = reader.u64("proposedAtMs");
  const clientId = readAscii(reader, "clientId", CLIENT_ID_BYTES_MAX, isClientIdByte);
  const queue = readAscii(reader, "queue", QUEUE_NAME_BYTES_MAX, isQueueNameByte);
  if (opCode === OP_DEQUEUE) {
    reader.end();
    return { command: { op: "dequeue", queue, clientId, seq, proposedAtMs }, valueBytes: 0 };
  }
  const valueBytes = reader.u32("value length");
  if (valueBytes > VALUE_BYTES_LIMIT) reader.fail("value length over the codec limit", { valueBytes });
  const value = reader.utf8(valueBytes, "value");
  reader.end();
  return { command: { op: "enqueue", queue, value, clientId, seq, proposedAtMs }, valueBytes };
}

export type DecodeCommandResult =
  | { ok: true; command: QueueCommand; valueBytes: number }
  | { ok: false; error: RaftmqError };

/** Decodes without throwing: malformed input gives `{ ok: false, error }` (code BAD_REQUEST). */
export function decodeCommandResult(data: Uint8Array): DecodeCommandResult {
  try {
    return { ok: true, ...readCommand(data) };
  } catch (error) {
    if (isRaftmqError(error, "BAD_REQUEST")) return { ok: false, error };
    throw error; // a bug (AssertionError or worse): let it crash
  }
}

/** Decodes; throws RaftmqError BAD_REQUEST on malformed input. */
export function decodeCommand(data: Uint8Array): QueueCommand {
  return readCommand(data).command;
}

export interface CommandDescription {
  op: QueueOp;
  queue: string;
  value?: string;
  clientId: string;
  seq: number;
}

/** For the `log` command output; throws RaftmqError BAD_REQUEST on malformed input. */
export function describeCommand(data: Uint8Array): CommandDescription {
  const command = decodeCommand(data);
  const description: CommandDescription = {
    op: command.op,
    queue: command.queue,
    clientId: command.clientId,
    seq: command.seq,
  };
  if (command.op === "enqueue") description.value = command.value;
  return description;
}
