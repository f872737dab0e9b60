/**
 * Snapshot bytes of the whole queue state (queues and sessions), version 1.
 *
 *   magic "RMQS" u32 | version u16 = 1 | flags u16 = 0 | totalBytes u32
 *   limits: 7 x u64 in limitKeys() order (restore refuses other limits: CONFIG_INVALID)
 *   lastApplied u64 | clockMs u64
 *   queueCount u32, then per queue in ascending name order:
 *     nameLength u8, name | messageCount u32 | valueBytes u64
 *     per message, oldest first: index u64 | valueLength u32 | value (UTF-8)
 *   sessionCount u32, then per session, least recently used first:
 *     clientIdLength u8, clientId | lastSeq u64 | lastActiveMs u64 | result
 *     result: tag u8 = 1 enqueue: index u64
 *                    = 2 dequeue: index u64 | valueLength u32 | value
 *                    = 3 error:   code u8 (index into CACHED_ERRORS)
 *   crc32c u32 over every byte before it
 *
 * Contract: encoding is deterministic (equal states give equal bytes: queues are sorted, sessions
 * are in their replicated LRU order). Decoding checks the checksum and every length, then every
 * state invariant a snapshot can break, and throws RaftmqError SNAPSHOT_CORRUPT (or CONFIG_INVALID
 * for different limits); it never returns a state that would fail checkInvariants().
 */
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { ByteReader, ByteWriter } from "./bytes";
import { validateClientId, validateQueueName } from "./command-codec";
import { crc32c } from "./crc32c";
import { Fifo } from "./fifo";
import { limitKeys, QueueLimits } from "./limits";
import { emptyQueueState, QueueState } from "./queue-state";
import { Session } from "./sessions";
import { ApplyErrorCode, ApplyResult } from "./types";

const MAGIC = 0x524d5153; // "RMQS"
export const SNAPSHOT_FORMAT_VERSION = 1;
const HEADER_BYTES = 4 + 2 + 2 + 4;
const CHECKSUM_BYTES = 4;
const TAG_ENQUEUE = 1;
const TAG_DEQUEUE = 2;
const TAG_ERROR = 3;
/** The only errors a session can cache: those of executed commands. */
const CACHED_ERRORS: readonly ApplyErrorCode[] = ["EMPTY", "VALUE_TOO_LARGE", "QUEUE_FULL"];

function resultBytes(session: Session): number {
  const result = session.result;
  if (!result.ok) return 1 + 1;
  if (result.op === "enqueue") return 1 + 8;
  return 1 + 8 + 4 + session.resultValueBytes;
}

function snapshotBytes(state: QueueState, names: readonly string[]): number {
  let byteCount = HEADER_BYTES + limitKeys().length * 8 + 8 + 8 + 4;
  for (const name of names) {
    const fifo = state.queues.get(name)!;
    byteCount += 1 + name.length + 4 + 8 + fifo.count * (8 + 4) + fifo.valueBytes;
  }
  byteCount += 4;
  for (const session of state.sessions.values()) {
    byteCount += 1 + session.clientId.length + 8 + 8 + resultBytes(session);
  }
  return byteCount + CHECKSUM_BYTES;
}

function writeResult(writer: ByteWriter, session: Session): void {
  const result = session.result;
  if (!result.ok) {
    const code = CACHED_ERRORS.indexOf(result.error);
    assert(code >= 0, "sessions cache only errors of executed commands");
    writer.u8(TAG_ERROR);
    writer.u8(code);
  } else if (result.op === "enqueue") {
    writer.u8(TAG_ENQUEUE);
    writer.u64(result.index);
  } else {
    writer.u8(TAG_DEQUEUE);
    writer.u64(result.index);
    writer.u32(session.resultValueBytes);
    writer.utf8(result.value, session.resultValueBytes);
  }
}

export function encodeSnapshot(state: QueueState, limits: QueueLimits): Uint8Array {
  // Queue names are ASCII: code-unit order is byte order, the same on every node.
  const names = [...state.queues.keys()].sort();
  const totalBytes = snapshotBytes(state, names);
  const writer = new ByteWriter(new Uint8Array(totalBytes));
  writer.u32(MAGIC);
  writer.u16(SNAPSHOT_FORMAT_VERSION);
  writer.u16(0);
  writer.u32(totalBytes);
  for (const key of limitKeys()) writer.u64(limits[key]);
  writer.u64(state.lastApplied);
  writer.u64(state.clockMs);
  writer.u32(names.length);
  for (const name of names) {
    const fifo = state.queues.get(name)!;
    writer.u8(name.length);
    writer.utf8(name, name.length);
    writer.u32(fifo.count);
    writer.u64(fifo.valueBytes);
    fifo.forEach((value, valueBytes, index) => {
      writer.u64(index);
      writer.u32(valueBytes);
      writer.utf8(value, valueBytes);
    });
  }
  writer.u32(state.sessions.size);
  for (const session of state.sessions.values()) {
    writer.u8(session.clientId.length);
    writer.utf8(session.clientId, session.clientId.length);
    writer.u64(session.lastSeq);
    writer.u64(session.lastActiveMs);
    writeResult(writer, session);
  }
  writer.u32(crc32c(writer.bytes, 0, writer.position));
  return writer.finish();
}

function readHeader(bytes: Uint8Array, reader: ByteReader, limits: QueueLimits): void {
  if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) reader.fail("too short", { byteCount: bytes.length });
  if (reader.u32("magic") !== MAGIC) reader.fail("bad magic");
  const version = reader.u16("version");
  if (version !== SNAPSHOT_FORMAT_VERSION) reader.fail("unknown version", { version });
  if (reader.u16("flags") !== 0) reader.fail("unknown flags");
  const totalBytes = reader.u32("totalBytes");
  if (totalBytes !== bytes.length) reader.fail("length mismatch", { totalBytes, byteCount: bytes.length });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const checksum = view.getUint32(bytes.length - CHECKSUM_BYTES);
  if (checksum !== crc32c(bytes, 0, bytes.length - CHECKSUM_BYTES)) reader.fail("checksum mismatch");
  for (const key of limitKeys()) {
    const recorded = reader.u64(`limit ${key}`);
    if (recorded !== limits[key]) {
      throw new RaftmqError("CONFIG_INVALID", `snapshot taken with ${key}=${recorded}, this node has ${limits[key]}`, {
        details: { key, recorded, configured: limits[key] },
      });
    }
  }
}

function readName(reader: ByteReader, field: string, validate: (name: string) => RaftmqError | null): string {
  const byteCount = reader.u8(`${field} length`);
  const name = reader.utf8(byteCount, field);
  const error = validate(name);
  if (error !== null) reader.fail(`invalid ${field}`, { [field]: name }, error);
  return name;
}

function readQueues(reader: ByteReader, state: QueueState, limits: QueueLimits): void {
  const queueCount = reader.u32("queueCount");
  if (queueCount > limits.queuesMax) reader.fail("too many queues", { queueCount });
  let previousName = "";
  for (let q = 0; q < queueCount; q++) {
    const name = readName(reader, "queue", validateQueueName);
    if (!(name > previousName)) reader.fail("queue names not strictly ascending", { queue: name });
    previousName = name;
    const messageCount = reader.u32("messageCount");
    if (messageCount < 1) reader.fail("empty queue stored", { queue: name });
    if (state.messageCount + messageCount > limits.messagesMax) reader.fail("too many messages");
    const valueBytesRecorded = reader.u64("queue valueBytes");
    const fifo = new Fifo();
    let previousIndex = 0;
    for (let m = 0; m < messageCount; m++) {
      const index = reader.u64("message index");
      if (index <= previousIndex || index > state.lastApplied) reader.fail("message index out of order", { index });
      previousIndex = index;
      const valueBytes = reader.u32("value length");
      if (valueBytes > limits.valueBytesMax) reader.fail("value over the limit", { valueBytes });
      fifo.push(reader.utf8(valueBytes, "value"), valueBytes, index);
    }
    if (fifo.valueBytes !== valueBytesRecorded) reader.fail("queue byte count mismatch", { queue: name });
    state.queues.set(name, fifo);
    state.messageCount += messageCount;
    state.valueBytesTotal += fifo.valueBytes;
    if (state.valueBytesTotal > limits.valueBytesTotalMax) reader.fail("too many value bytes");
  }
}

function readResult(reader: ByteReader, state: QueueState, limits: QueueLimits): [ApplyResult, number] {
  const tag = reader.u8("result tag");
  if (tag === TAG_ERROR) {
    const error = CACHED_ERRORS[reader.u8("result error")];
    if (error === undefined) reader.fail("unknown cached error");
    return [{ ok: false, error }, 0];
  }
  if (tag !== TAG_ENQUEUE && tag !== TAG_DEQUEUE) reader.fail("unknown result tag", { tag });
  const index = reader.u64("result index");
  if (index < 1 || index > state.lastApplied) reader.fail("result index out of range", { index });
  if (tag === TAG_ENQUEUE) return [{ ok: true, op: "enqueue", index }, 0];
  const valueBytes = reader.u32("result value length");
  if (valueBytes > limits.valueBytesMax) reader.fail("cached value over the limit", { valueBytes });
  return [{ ok: true, op: "dequeue", index, value: reader.utf8(valueBytes, "result value") }, valueBytes];
}

function readSessions(reader: ByteReader, state: QueueState, limits: QueueLimits): void {
  const sessionCount = reader.u32("sessionCount");
  if (sessionCount > limits.sessionsMax) reader.fail("too many sessions", { sessionCount });
  let previousActiveMs = 0;
  for (let s = 0; s < sessionCount; s++) {
    const clientId = readName(reader, "clientId", validateClientId);
    if (state.sessions.get(clientId) !== undefined) reader.fail("duplicate session", { clientId });
    const lastSeq = reader.u64("lastSeq");
    if (lastSeq < 1) reader.fail("lastSeq must be >= 1", { clientId });
    const lastActiveMs = reader.u64("lastActiveMs");
    if (lastActiveMs < previousActiveMs) reader.fail("sessions not in LRU order", { clientId });
    if (state.clockMs - lastActiveMs > limits.sessionTtlMs) reader.fail("expired session stored", { clientId });
    if (lastActiveMs > state.clockMs) reader.fail("session active in the future", { clientId });
    previousActiveMs = lastActiveMs;
    const [result, resultValueBytes] = readResult(reader, state, limits);
    state.sessions.restore({ clientId, lastSeq, lastActiveMs, result, resultValueBytes });
  }
  if (state.sessions.cachedValueBytes > limits.sessionCacheBytesMax) reader.fail("too many cached bytes");
}

/** Decodes and validates a snapshot into a fresh state (the caller's state is untouched). */
export function decodeSnapshot(bytes: Uint8Array, limits: QueueLimits): QueueState {
  const reader = new ByteReader(bytes, "SNAPSHOT_CORRUPT", "queue snapshot");
  readHeader(bytes, reader, limits);
  const state = emptyQueueState();
  state.lastApplied = reader.u64("lastApplied");
  state.clockMs = reader.u64("clockMs");
  readQueues(reader, state, limits);
  readSessions(reader, state, limits);
  if (reader.remaining !== CHECKSUM_BYTES) reader.fail("trailing bytes", { remaining: reader.remaining });
  return state;
}
