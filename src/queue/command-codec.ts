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
import { isRaftmqError, RaftmqError } from "../util/errors";
import { ByteReader, ByteWriter, utf8ByteLength } from "./bytes";
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

function validateShape(command: QueueCommand, valueBytesMax: number): RaftmqError | null {
  if (command.op !== "enqueue" && command.op !== "dequeue") return badRequest("unknown op", { op: (command as { op: unknown }).op });
  const nameError = validateQueueName(command.queue) ?? validateClientId(command.clientId);
  if (nameError !== null) return nameError;
  if (!Number.isSafeInteger(command.seq) || command.seq < 1) return badRequest("seq must be a safe integer >= 1");
  if (!Number.isSafeInteger(command.proposedAtMs) || command.proposedAtMs < 0) {
    return badRequest("proposedAtMs must be a safe integer >= 0");
  }
  if (command.op === "dequeue") return null;
  if (typeof command.value !== "string") return badRequest("enqueue needs a string value");
  const valueBytes = utf8ByteLength(command.value);
  if (valueBytes < 0) return badRequest("value holds a lone surrogate (not representable in UTF-8)");
  if (valueBytes > valueBytesMax) {
    return new RaftmqError("VALUE_TOO_LARGE", `value is ${valueBytes} bytes, limit ${valueBytesMax}`, {
      details: { valueBytes, valueBytesMax },
    });
  }
  return null;
}

/**
 * The leader's check before proposing (and the client's before sending): null if the state
 * machine will accept the command's shape and value size, else BAD_REQUEST or VALUE_TOO_LARGE.
 */
export function validateProposal(command: QueueCommand, limits: QueueLimits): RaftmqError | null {
  return validateShape(command, limits.valueBytesMax);
}

/** Encodes a command; throws RaftmqError BAD_REQUEST / VALUE_TOO_LARGE if it is not encodable. */
export function encodeCommand(command: QueueCommand): Uint8Array {
  const error = validateShape(command, VALUE_BYTES_LIMIT);
  if (error !== null) throw error;
  // Names are ASCII (validated above), so their byte length is their string length.
  let byteCount = FIXED_BYTES + command.clientId.length + command.queue.length;
  let valueBytes = 0;
  if (command.op === "enqueue") {
    valueBytes = utf8ByteLength(command.value);
    byteCount += VALUE_LENGTH_BYTES + valueBytes;
  }
  const writer = new ByteWriter(new Uint8Array(byteCount));
  writer.u8(COMMAND_FORMAT_VERSION);
  writer.u8(command.op === "enqueue" ? OP_ENQUEUE : OP_DEQUEUE);
  writer.u64(command.seq);
  writer.u64(command.proposedAtMs);
  writer.u8(command.clientId.length);
  writer.utf8(command.clientId, command.clientId.length);
  writer.u8(command.queue.length);
  writer.utf8(command.queue, command.queue.length);
  if (command.op === "enqueue") {
    writer.u32(valueBytes);
    writer.utf8(command.value, valueBytes);
  }
  return writer.finish();
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
