/**
 * Recovery: rebuilds a node's durable state from its data directory (fs shell).
 *
 *   1. Delete leftover *.tmp files (snapshots whose rename never happened).
 *   2. Replay the WAL segments in order (wal-replay.ts). Segment numbers must be contiguous.
 *      A flush is applied only once all its records are read (a persist() call is atomic).
 *      Zeros after the last frame (preallocated by the writer) end a segment cleanly.
 *      At the first invalid frame (bad length/header/checksum, or cut short by end of file):
 *        - torn tail (tail-classifier.ts decides): truncate the newest segment at the start of
 *          the incomplete flush, warn with file, offset and the bytes dropped;
 *        - otherwise corruption: reject STORAGE_CORRUPT naming file and offset, or with
 *          repair: true truncate there, delete every later segment and log at error level.
 *      A frame that validates but makes no sense (gap in indexes, missing SegmentStart) is
 *      corruption too.
 *   3. Pick the newest snapshot that is valid AND that the log joins without a gap. A damaged
 *      newer snapshot is renamed to *.corrupt (error log) only when an older snapshot plus the
 *      log cover everything; otherwise reject STORAGE_CORRUPT even with repair (its data cannot be
 *      rebuilt locally: wipe the node and let it rejoin from the leader's snapshot).
 *   4. commitIndex is raised to the snapshot's index (a snapshot holds only committed state), and
 *      the term to the snapshot's term (raiseToSnapshot in wal-replay.ts says why).
 */
import { open, readdir, rename, unlink, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import type { HardState, LogEntry, PersistentState, Snapshot } from "../raft/types";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { classifyFileName, type DataFile } from "./file-names";
import { fsyncDirectory, type StorageLogger } from "./fs-util";
import { RecordType, type Frame, type FrameHeader } from "./record-codec";
import { contentBytes, readSegment, scanAfterDamage, type SegmentReadLimits } from "./segment-reader";
import { verifySnapshotFile, type SnapshotFileInfo } from "./snapshot-files";
import { classifyDamage, type FlushPosition } from "./tail-classifier";
import { LogReplay, raiseToSnapshot } from "./wal-replay";
import {
  WalDecodeError,
  decodeEntry,
  decodeHardState,
  decodeSegmentStart,
  decodeSnapshotMarker,
  encodeHardState,
  type IndexTerm,
  type SegmentStart,
} from "./wal-records";
import type { SegmentInfo } from "./wal-writer";

export interface RecoveryOptions {
  dir: string;
  fsync: boolean;
  repair: boolean;
  limits: SegmentReadLimits;
  snapshotBytesMax: number;
  logger: StorageLogger;
}

export interface SnapshotRef {
  name: string;
  index: number;
  term: number;
}

export interface Recovered {
  state: PersistentState;
  /** Segments still on disk, oldest first; the last one is where appends continue. */
  segments: SegmentInfo[];
  /** Valid bytes of the newest segment (0: it must be (re)started with a SegmentStart). */
  newestSegmentBytes: number;
  nextFlushSeq: number;
  /** The WAL's last index before joining the snapshot: the floor for a new segment. */
  walLastIndex: number;
  lastHardState: Buffer;
  /** Snapshot files on disk by name, newest first (only the chosen one was read). */
  snapshots: SnapshotRef[];
  chosen: SnapshotFileInfo | null;
}

function corruptError(file: string, offset: number, reason: string): RaftmqError {
  return new RaftmqError("STORAGE_CORRUPT", `${file} is corrupt at offset ${offset}: ${reason}`, { details: { file, offset, reason } });
}

interface ReplayCursor {
  replay: LogReplay;
  before: FlushPosition | null;
  nextFlushSeq: number;
}

type DecodedRecord =
  | { type: RecordType.SegmentStart; value: SegmentStart }
  | { type: RecordType.Entry; value: LogEntry }
  | { type: RecordType.HardState; value: HardState }
  | { type: RecordType.SnapshotMarker; value: IndexTerm };

/** Decodes a frame's payload, copying what it keeps out of the (reused) read buffer. */
function decodeFrame(frame: Frame): DecodedRecord {
  const payload = frame.payload;
  switch (frame.header.type) {
    case RecordType.SegmentStart:
      return { type: RecordType.SegmentStart, value: decodeSegmentStart(payload) };
    case RecordType.Entry:
      return { type: RecordType.Entry, value: decodeEntry(payload) };
    case RecordType.HardState:
      return { type: RecordType.HardState, value: decodeHardState(payload) };
    case RecordType.SnapshotMarker:
      return { type: RecordType.SnapshotMarker, value: decodeSnapshotMarker(payload) };
  }
}

/** Applies one record of a complete flush to the replay (throws WalDecodeError if inconsistent). */
function applyRecord(cursor: ReplayCursor, record: DecodedRecord, segment: SegmentInfo, first: boolean): void {
  if (first !== (record.type === RecordType.SegmentStart)) {
    throw new WalDecodeError(first ? "segment does not begin with a SegmentStart record" : "SegmentStart inside a segment");
  }
  switch (record.type) {
    case RecordType.SegmentStart:
      if (record.value.segmentSeq !== segment.segmentSeq) throw new WalDecodeError(`SegmentStart names segment ${record.value.segmentSeq}`);
      cursor.replay.segmentStart(record.value);
      segment.maxIndex = Math.max(segment.maxIndex, record.value.floorIndex);
      break;
    case RecordType.Entry:
      cursor.replay.entry(record.value);
      segment.maxIndex = Math.max(segment.maxIndex, record.value.index);
      break;
    case RecordType.HardState:
      cursor.replay.recordHardState(record.value);
      segment.hasHardState = true;
      break;
    case RecordType.SnapshotMarker:
      cursor.replay.marker(record.value);
      segment.maxIndex = Math.max(segment.maxIndex, record.value.index);
      break;
  }
}

interface PendingRecord {
  record: DecodedRecord;
  header: FrameHeader;
  offset: number;
}

/**
 * Collects the records of one flush and applies them only once its last frame is read, so a
 * flush is replayed whole or not at all: a persist() call is atomic across a crash.
 */
class FlushAssembler {
  readonly pending: PendingRecord[] = [];
  appliedFrames = 0;
  /** Offset of the frame being decoded or applied, for error reports. */
  offset = 0;

  constructor(
    private readonly cursor: ReplayCursor,
    private readonly segment: SegmentInfo,
  ) {}

  /** Position of the last valid frame read (applied or pending), for classifyDamage. */
  lastRead(): FlushPosition | null {
    const last = this.pending[this.pending.length - 1];
    return last === undefined ? this.cursor.before : last.header;
  }

  push(frame: Frame, offset: number): void {
    this.offset = offset;
    const header = frame.header;
    const previous = this.pending[this.pending.length - 1]?.header;
    if (previous === undefined && header.flushPos !== 0) {
      throw new WalDecodeError(`flush ${header.flushSeq} begins at record ${header.flushPos}`);
    }
    if (previous !== undefined && (header.flushSeq !== previous.flushSeq || header.flushPos !== previous.flushPos + 1 || header.flushCount !== previous.flushCount)) {
      throw new WalDecodeError(`record ${header.flushPos} of flush ${header.flushSeq} follows record ${previous.flushPos} of flush ${previous.flushSeq}`);
    }
    this.pending.push({ record: decodeFrame(frame), header, offset });
    if (header.flushPos < header.flushCount - 1) return;
    for (const item of this.pending) {
      this.offset = item.offset;
      applyRecord(this.cursor, item.record, this.segment, this.appliedFrames === 0);
      this.appliedFrames += 1;
    }
    this.cursor.before = { flushSeq: header.flushSeq, flushPos: header.flushPos, flushCount: header.flushCount };
    this.cursor.nextFlushSeq = header.flushSeq + 1;
    this.pending.length = 0;
  }
}

type Damage = { offset: number; truncateAt: number; reason: string; decodeError: boolean };

/** Reads and replays one segment; returns the damage found, or its valid length. */
async function readAndReplay(options: RecoveryOptions, handle: FileHandle, size: number, contentEnd: number, assembler: FlushAssembler): Promise<Damage | number> {
  try {
    const result = await readSegment(handle, size, contentEnd, options.limits, (frame, offset) => assembler.push(frame, offset));
    const flushStart = assembler.pending[0]?.offset;
    if (result.kind === "clean" && flushStart === undefined) return result.validBytes;
    if (result.kind === "clean") {
      return { offset: flushStart!, truncateAt: flushStart!, reason: "the last flush ends before its last record", decodeError: false };
    }
    return { offset: result.offset, truncateAt: flushStart ?? result.offset, reason: result.reason, decodeError: false };
  } catch (error) {
    if (!(error instanceof WalDecodeError)) throw error;
    // Truncate (repair only) at the start of the flush, keeping flushes whole on disk; records of
    // it may already be applied in memory, so recover() then replays everything again.
    return { offset: assembler.offset, truncateAt: assembler.pending[0]?.offset ?? assembler.offset, reason: error.message, decodeError: true };
  }
}

/** Replays one segment; returns its valid length and whether replay must stop after it (repair). */
async function replaySegment(options: RecoveryOptions, cursor: ReplayCursor, segment: SegmentInfo, newest: boolean): Promise<{ validBytes: number; stop: boolean }> {
  const file = path.join(options.dir, segment.name);
  const handle = await open(file, "r+");
  try {
    const { size } = await handle.stat();
    // The zeros a writer preallocated after its records end them; they stay for the next writes.
    const contentEnd = await contentBytes(handle, size, options.limits.bufferBytes);
    const assembler = new FlushAssembler(cursor, segment);
    const damage = await readAndReplay(options, handle, size, contentEnd, assembler);
    if (typeof damage === "number") return { validBytes: damage, stop: false };
    const after = newest && !damage.decodeError ? await scanAfterDamage(handle, size, contentEnd, damage.offset, options.limits) : [];
    const verdict = damage.decodeError
      ? { kind: "corrupt" as const, reason: "record is valid but inconsistent" }
      : classifyDamage(newest, assembler.lastRead(), after);
    const fields = { file, offset: damage.offset, truncatedAt: damage.truncateAt, droppedBytes: size - damage.truncateAt, reason: damage.reason };
    if (verdict.kind === "torn") {
      options.logger.warn(fields, "wal torn tail truncated");
    } else if (!options.repair) {
      throw corruptError(file, damage.offset, `${damage.reason} (${verdict.reason})`);
    } else {
      options.logger.error({ ...fields, verdict: verdict.reason }, "wal corrupt: REPAIR truncating the log here, later records are lost");
    }
    await handle.truncate(damage.truncateAt);
    if (options.fsync) await handle.datasync();
    return { validBytes: damage.truncateAt, stop: verdict.kind === "corrupt" };
  } finally {
    await handle.close();
  }
}

async function replayWal(
  options: RecoveryOptions,
  files: DataFile[],
  cursor: ReplayCursor,
): Promise<{ segments: SegmentInfo[]; newestBytes: number; repaired: boolean }> {
  const named = files.flatMap((file) => (file.kind === "segment" ? [file] : [])).sort((a, b) => a.segmentSeq - b.segmentSeq);
  for (let i = 1; i < named.length; i++) {
    if (named[i]!.segmentSeq !== named[i - 1]!.segmentSeq + 1) {
      throw corruptError(path.join(options.dir, named[i]!.name), 0, `segment ${named[i - 1]!.segmentSeq + 1} is missing`);
    }
  }
  const segments: SegmentInfo[] = [];
  let newestBytes = 0;
  for (let i = 0; i < named.length; i++) {
    const segment: SegmentInfo = { segmentSeq: named[i]!.segmentSeq, name: named[i]!.name, maxIndex: 0, hasHardState: false };
    segments.push(segment);
    const { validBytes, stop } = await replaySegment(options, cursor, segment, i === named.length - 1);
    newestBytes = validBytes;
    if (stop) {
      for (const later of named.slice(i + 1)) {
        options.logger.error({ file: path.join(options.dir, later.name) }, "wal corrupt: REPAIR deleting a later segment");
        await unlink(path.join(options.dir, later.name));
      }
      if (options.fsync) await fsyncDirectory(options.dir);
      return { segments, newestBytes, repaired: true };
    }
  }
  return { segments, newestBytes, repaired: false };
}

async function setAside(options: RecoveryOptions, damaged: Array<{ name: string; error: RaftmqError }>, using: string): Promise<void> {
  for (const bad of damaged) {
    const file = path.join(options.dir, bad.name);
    options.logger.error({ file, err: bad.error, using }, "snapshot corrupt: set aside as .corrupt, an older snapshot and the log cover it");
    await rename(file, `${file}.corrupt`);
  }
  if (damaged.length > 0 && options.fsync) await fsyncDirectory(options.dir);
}

interface Chosen {
  snapshot: Snapshot | null;
  info: SnapshotFileInfo | null;
  entries: LogEntry[];
}

async function chooseSnapshot(options: RecoveryOptions, snapshots: SnapshotRef[], replay: LogReplay): Promise<Chosen> {
  const damaged: Array<{ name: string; error: RaftmqError }> = [];
  let gap: string | null = null;
  for (const ref of snapshots) {
    let loaded: Awaited<ReturnType<typeof verifySnapshotFile>>;
    try {
      // Checked in chunks; the state carries a reference to the file, not its bytes.
      loaded = await verifySnapshotFile(options.dir, ref.name, options.snapshotBytesMax);
    } catch (error) {
      if (!(error instanceof RaftmqError) || error.code !== "STORAGE_CORRUPT") throw error;
      damaged.push({ name: ref.name, error });
      continue;
    }
    const joined = replay.finish(loaded.snapshot.meta);
    if (!joined.ok) {
      gap = joined.reason; // older snapshots leave an even larger gap
      break;
    }
    await setAside(options, damaged, ref.name);
    return { snapshot: loaded.snapshot, info: loaded.info, entries: joined.entries };
  }
  if (gap === null) {
    const joined = replay.finish(null);
    if (joined.ok) {
      await setAside(options, damaged, "the log from index 1");
      return { snapshot: null, info: null, entries: joined.entries };
    }
    gap = joined.reason;
  }
  const first = damaged[0];
  if (first !== undefined) {
    throw new RaftmqError(
      "STORAGE_CORRUPT",
      `${first.error.message}; no older snapshot plus the log covers it (${gap}), refusing to start: wipe this node and let it rejoin`,
      { cause: first.error, details: first.error.details },
    );
  }
  throw corruptError(options.dir, 0, `the log does not join the newest snapshot (${gap}): log segments are missing`);
}

export async function recover(options: RecoveryOptions): Promise<Recovered> {
  const files = (await readdir(options.dir)).map(classifyFileName);
  for (const temp of files.filter((file) => file.kind === "temp")) {
    options.logger.warn({ file: path.join(options.dir, temp.name) }, "deleting unfinished temp file");
    await unlink(path.join(options.dir, temp.name));
  }
  let cursor: ReplayCursor = { replay: new LogReplay(), before: null, nextFlushSeq: 1 };
  let wal = await replayWal(options, files, cursor);
  if (wal.repaired) {
    // A repair truncated the WAL after part of it was replayed: replay the repaired WAL afresh
    // so memory matches the disk exactly. The second pass meets no damage (it was cut off).
    cursor = { replay: new LogReplay(), before: null, nextFlushSeq: 1 };
    const remaining = (await readdir(options.dir)).map(classifyFileName);
    wal = await replayWal(options, remaining, cursor);
    assert(!wal.repaired, "a repaired WAL replays cleanly");
  }
  const { segments, newestBytes } = wal;
  const walLastIndex = cursor.replay.lastIndex();
  const walHardState = cursor.replay.hardState;
  const snapshots = files
    .flatMap((file) => (file.kind === "snapshot" ? [{ name: file.name, index: file.index, term: file.term }] : []))
    .sort((a, b) => b.index - a.index);
  const chosen = await chooseSnapshot(options, snapshots, cursor.replay);
  const hardState = raiseToSnapshot(walHardState, chosen.snapshot);
  return {
    state: { hardState, snapshot: chosen.snapshot, entries: chosen.entries },
    segments,
    newestSegmentBytes: newestBytes,
    nextFlushSeq: cursor.nextFlushSeq,
    walLastIndex,
    lastHardState: encodeHardState(walHardState),
    snapshots: chosen.info === null ? [] : snapshots.filter((ref) => ref.index <= chosen.info!.meta.index),
    chosen: chosen.info,
  };
}
