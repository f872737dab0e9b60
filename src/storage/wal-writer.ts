/**
 * Appends records to the newest WAL segment with group commit (fs shell).
 *
 * enqueue() queues a batch of records and returns a promise that resolves once they are durable.
 * One flush at a time takes every queued batch (up to flushBytesMax, always at least one), writes
 * them with positional writes to a segment opened O_DSYNC (each write returns once durable, see
 * walOpenFlags), then resolves them all: concurrent persist() calls share one durable write. Flushes never overlap, which is what lets recovery
 * tell a torn last flush from damage to an acknowledged one (tail-classifier.ts).
 *
 * A segment is rotated at the start of a flush once it holds >= segmentBytes: the new file is
 * created, the directory fsynced, and the flush begins with SegmentStart + the last HardState, so
 * deleting older segments never loses the hard state. A flush never spans two segments, so a
 * segment holds at most segmentBytes + one flush.
 *
 * Preallocation (fsync on, preallocateBytes > 0): an O_DSYNC write that extends a file must also
 * commit the file's new size and blocks to the filesystem journal; one that overwrites blocks
 * already written need not. So the writer keeps zeros written and flushed ahead of its records
 * (refilled to preallocateBytes once fewer than half remain, never past segmentBytes), laid down
 * in the background through a second descriptor between flushes. Three processes appending
 * 8 KiB O_DSYNC writes to one disk here took 575-614 us each at p50, overwriting zeros 317-357 us
 * (bench/README.md). A flush that would reach a fill still under way waits for it, so the two
 * never write the same bytes. Recovery reads a frame boundary followed only by zeros as the end of the records
 * (segment-reader.ts). A failed fill only turns preallocation off (logged); records do not
 * depend on it.
 *
 * After any write or fsync error the writer is failed for good (retrying fsync after an error
 * can report success for lost pages): every pending and later call rejects with STORAGE_IO.
 */
import { constants as fsConstants, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { RecordType, encodeFrameInto, frameBytes } from "./record-codec";
import { encodeSegmentStart } from "./wal-records";
import { segmentFileName } from "./file-names";
import { fsyncDirectory, writeAt, type StorageLogger, type StorageStats } from "./fs-util";

export interface WalItem {
  type: RecordType;
  payload: Buffer;
  /** Entry or marker index (0 for other records): a segment's maxIndex decides when it may go. */
  index: number;
}

export interface SegmentInfo {
  segmentSeq: number;
  name: string;
  /** Highest index of any entry or marker in the segment, or its floorIndex. */
  maxIndex: number;
  /**
   * True once a HardState record in this segment is durable. Until then an older segment holds
   * the newest durable hard state and must not be deleted.
   */
  hasHardState: boolean;
}

export interface WalWriterOptions {
  dir: string;
  fsync: boolean;
  segmentBytes: number;
  flushBytesMax: number;
  writeChunkBytes: number;
  queuedBatchesMax: number;
  /** Zeros kept written ahead of the records (0: none). Only with fsync on. */
  preallocateBytes: number;
  /** Flush writes with fs.writeSync instead of through the thread pool (see writeFully). */
  blockingWrites: boolean;
}

interface Batch {
  items: WalItem[];
  bytes: number;
  lastIndexAfter: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface WalWriterState {
  segments: SegmentInfo[];
  handle: FileHandle;
  segmentBytesUsed: number;
  /** Size of the current segment's file: its records, then zeros (preallocated). */
  segmentFileBytes: number;
  nextFlushSeq: number;
  /** The log's last index after everything already on disk. */
  lastIndex: number;
  lastHardState: Buffer;
}

export class WalWriter {
  private readonly queue: Batch[] = [];
  private flushing = false;
  private failure: RaftmqError | null = null;
  private closed = false;
  private idle: Array<() => void> = [];
  /** The zero fill under way, from offset fillFrom of the current segment (see the header). */
  private filling: Promise<void> | null = null;
  private fillFrom = Number.POSITIVE_INFINITY;
  private preallocateOff = false;

  constructor(
    private readonly options: WalWriterOptions,
    private readonly state: WalWriterState,
    private readonly stats: StorageStats,
    private readonly logger: StorageLogger,
  ) {
    assert(state.segments.length >= 1, "writer has a current segment");
    assert(state.segmentFileBytes >= state.segmentBytesUsed, "the segment file holds its records");
    this.preallocate();
  }

  segments(): readonly SegmentInfo[] {
    return this.state.segments;
  }

  currentSegmentSeq(): number {
    return this.state.segments[this.state.segments.length - 1]!.segmentSeq;
  }

  /**
   * Removes from the list (for the caller to unlink) the oldest segments whose maxIndex is <=
   * throughIndex, keeping the current segment, and any segment whose successor holds no durable hard state yet.
   */
  forgetSegmentsThrough(throughIndex: number): SegmentInfo[] {
    const segments = this.state.segments;
    const forgotten: SegmentInfo[] = [];
    while (segments.length >= 2 && segments[0]!.maxIndex <= throughIndex && segments[1]!.hasHardState) {
      forgotten.push(segments.shift()!);
    }
    return forgotten;
  }

  /** The error every call now gets, once a write or fsync failed. */
  failed(): RaftmqError | null {
    return this.failure;
  }

  /** False when queuedBatchesMax batches already wait: the caller refuses with STORAGE_BUSY. */
  hasRoom(): boolean {
    return this.queue.length < this.options.queuedBatchesMax;
  }

  enqueue(items: WalItem[], lastIndexAfter: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    assert(!this.closed, "enqueue after close");
    assert(this.hasRoom(), "the caller checked hasRoom() before changing its state");
    let bytes = 0;
    for (const item of items) bytes += frameBytes(item.payload.length);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, bytes, lastIndexAfter, resolve, reject });
      if (!this.flushing) void this.pump();
    });
  }

  /** Waits for queued flushes, then closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushing) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.closed = true;
    if (this.filling !== null) await this.filling;
    await this.state.handle.close();
  }

  private async pump(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0 && this.failure === null) {
      const batches = this.takeBatches();
      try {
        await this.flush(batches);
        for (const batch of batches) batch.resolve();
      } catch (error) {
        this.fail(error, batches);
      }
      this.preallocate();
      // Let the callers just resolved run first (one macrotask): their next persist() joins the
      // next flush instead of starting a flush of one while everyone else waits a whole fsync.
      // Without this, C concurrent callers settle into flushes of 1 and C - 1 (C/2 per fsync).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.flushing = false;
    for (const wake of this.idle.splice(0)) wake();
  }

  private takeBatches(): Batch[] {
    const taken: Batch[] = [this.queue.shift()!];
    let bytes = taken[0]!.bytes;
    while (this.queue.length > 0 && bytes + this.queue[0]!.bytes <= this.options.flushBytesMax) {
      const next = this.queue.shift()!;
      bytes += next.bytes;
      taken.push(next);
    }
    return taken;
  }

  private fail(error: unknown, batches: Batch[]): void {
    this.failure = new RaftmqError("STORAGE_IO", "write-ahead log write failed; the log is closed for writing", {
      cause: error,
      details: { dir: this.options.dir },
    });
    this.logger.error({ err: error, dir: this.options.dir }, "wal write failed");
    for (const batch of batches.concat(this.queue.splice(0))) batch.reject(this.failure);
  }

  private async flush(batches: Batch[]): Promise<void> {
    const items: WalItem[] = [];
    const rotating = this.state.segmentBytesUsed >= this.options.segmentBytes;
    if (rotating) items.push(...(await this.rotate()));
    for (const batch of batches) items.push(...batch.items);
    if (items.length === 0) return;
    if (this.filling !== null) {
      // The flush is just the batches, sized in enqueue(): a rotation waits for the fill.
      assert(!rotating, "no fill under way after a rotation");
      let bytes = 0;
      for (const batch of batches) bytes += batch.bytes;
      if (this.state.segmentBytesUsed + bytes > this.fillFrom) await this.filling; // never write where zeros are being written
    }
    const flushSeq = this.state.nextFlushSeq;
    const segment = this.state.segments[this.state.segments.length - 1]!;
    let position = this.state.segmentBytesUsed;
    let chunk = this.newChunk(items, 0);
    let used = 0;
    for (let pos = 0; pos < items.length; pos++) {
      const item = items[pos]!;
      if (used + frameBytes(item.payload.length) > chunk.length) {
        position += await this.writeFully(chunk, used, position);
        chunk = this.newChunk(items, pos);
        used = 0;
      }
      used = encodeFrameInto(chunk, used, item.type, item.payload, flushSeq, pos, items.length);
      if (item.index > segment.maxIndex) segment.maxIndex = item.index;
      if (item.type === RecordType.HardState) this.state.lastHardState = item.payload;
      if (item.type === RecordType.Entry) this.stats.entriesAppended += 1;
    }
    position += await this.writeFully(chunk, used, position);
    // With fsync on, segments are opened O_DSYNC (walOpenFlags): each write above returned only
    // once its data was durable, so no separate fdatasync is needed. One thread-pool round trip
    // per flush instead of two: measured 0.13-0.18 ms against 0.27-0.29 ms for write + datasync
    // through fs/promises on this machine's disk (bench/README.md).
    if (this.options.fsync) this.stats.fsyncs += 1;
    if (items.some((item) => item.type === RecordType.HardState)) segment.hasHardState = true;
    this.state.nextFlushSeq += 1;
    this.state.segmentBytesUsed = position;
    if (position > this.state.segmentFileBytes) this.state.segmentFileBytes = position;
    this.state.lastIndex = batches[batches.length - 1]!.lastIndexAfter;
    this.stats.flushes += 1;
    this.stats.recordsWritten += items.length;
  }

  /** A write buffer for items[from..]: writeChunkBytes, or one frame if that is larger. */
  private newChunk(items: WalItem[], from: number): Buffer {
    let bytes = 0;
    for (let i = from; i < items.length && bytes < this.options.writeChunkBytes; i++) {
      bytes += frameBytes(items[i]!.payload.length);
    }
    return Buffer.allocUnsafe(Math.max(Math.min(bytes, this.options.writeChunkBytes), frameBytes(items[from]!.payload.length)));
  }

  /**
   * Writes chunk[0, bytes) at `position`. With blockingWrites the write runs on this thread
   * (fs.writeSync), so a flush that needs no rotation and no wait for a fill completes inside
   * the persist() call that started it. Through the thread pool, each flush costs the pool
   * thread's wake-up and the event loop's wake-up when it is done: with one command in flight
   * (c1), the leader made 5.6 epoll waits, 3.5 futex calls and 4 writes per op (`strace -c`),
   * and on this machine every cross-thread wake-up is slow. Blocking writes took c1's p99 from
   * 2.48-2.79 to 1.63-1.97 ms (bench/README.md, session 6). The price: the loop waits for the
   * disk, so a node whose disk stalls stops reading and sending for as long (a leader whose
   * write outlasts the election timeout loses leadership; through the pool it would go on
   * sending heartbeats while the followers commit without it). raftd's --wal-writes picks.
   */
  private async writeFully(chunk: Buffer, bytes: number, position: number): Promise<number> {
    let done = 0;
    while (done < bytes) {
      const fd = this.state.handle.fd;
      const bytesWritten = this.options.blockingWrites ? writeSync(fd, chunk, done, bytes - done, position + done) : await writeAt(fd, chunk, done, bytes - done, position + done);
      if (bytesWritten <= 0) throw new Error(`write made no progress at offset ${position + done}`); // becomes STORAGE_IO
      done += bytesWritten;
    }
    this.stats.bytesWritten += bytes;
    this.stats.bytesSinceSnapshot += bytes;
    return bytes;
  }

  /**
   * Starts writing zeros ahead of the records when fewer than half of preallocateBytes remain
   * (between flushes only: the flusher calls it, and flush() waits for a fill it would reach).
   */
  private preallocate(): void {
    const ahead = this.options.preallocateBytes;
    if (!this.options.fsync || ahead === 0 || this.preallocateOff || this.filling !== null || this.closed || this.failure !== null) return;
    const used = this.state.segmentBytesUsed;
    if (this.state.segmentFileBytes - used >= ahead / 2) return;
    // The fill starts at least an eighth of preallocateBytes past the records: a new segment has
    // no zeros yet, and its next flushes grow the file (as without preallocation) instead of
    // waiting for the fill to finish.
    const from = Math.max(this.state.segmentFileBytes, used + Math.floor(ahead / 8));
    const to = Math.min(used + ahead, this.options.segmentBytes);
    if (to <= from) return;
    const file = path.join(this.options.dir, this.state.segments[this.state.segments.length - 1]!.name);
    this.fillFrom = from;
    this.filling = writeZeros(file, from, to - from)
      .then(
        () => {
          // Still the current segment: rotate() waits for a fill before it moves on.
          this.state.segmentFileBytes = Math.max(this.state.segmentFileBytes, to);
          this.stats.bytesPreallocated += to - from;
        },
        (error: unknown) => {
          this.preallocateOff = true;
          this.logger.warn({ err: error, file, from, bytes: to - from }, "wal preallocation failed; segments grow by appends from now on");
        },
      )
      .finally(() => {
        this.filling = null;
        this.fillFrom = Number.POSITIVE_INFINITY;
      });
  }

  private async rotate(): Promise<WalItem[]> {
    if (this.filling !== null) await this.filling; // it writes to the segment being left
    const segmentSeq = this.currentSegmentSeq() + 1;
    const name = segmentFileName(segmentSeq);
    const handle = await open(path.join(this.options.dir, name), walOpenFlags("create", this.options.fsync));
    if (this.options.fsync) {
      await fsyncDirectory(this.options.dir);
      this.stats.fsyncs += 1;
    }
    await this.state.handle.close();
    this.state.handle = handle;
    this.state.segmentBytesUsed = 0;
    this.state.segmentFileBytes = 0;
    this.state.segments.push({ segmentSeq, name, maxIndex: this.state.lastIndex, hasHardState: false });
    this.logger.info({ segment: name, floorIndex: this.state.lastIndex }, "wal segment started");
    return [
      { type: RecordType.SegmentStart, payload: encodeSegmentStart({ segmentSeq, floorIndex: this.state.lastIndex }), index: 0 },
      { type: RecordType.HardState, payload: this.state.lastHardState, index: 0 },
    ];
  }
}

const zeroBufferBytes = 1024 * 1024;
let zeroBuffer: Buffer | null = null;

/** Writes `bytes` zeros at `from` in `file` through a descriptor of its own, then flushes them. */
async function writeZeros(file: string, from: number, bytes: number): Promise<void> {
  zeroBuffer ??= Buffer.alloc(zeroBufferBytes);
  const handle = await open(file, "r+");
  try {
    for (let done = 0; done < bytes; ) {
      const { bytesWritten } = await handle.write(zeroBuffer, 0, Math.min(zeroBuffer.length, bytes - done), from + done);
      if (bytesWritten <= 0) throw new Error(`zero fill made no progress at offset ${from + done}`);
      done += bytesWritten;
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates (or empties) segment `segmentSeq` and writes its first flush, SegmentStart + HardState,
 * durably. Used on a fresh directory and when recovery left the newest segment empty.
 */
export async function startSegment(
  options: WalWriterOptions,
  stats: StorageStats,
  segmentSeq: number,
  floorIndex: number,
  hardState: Buffer,
  flushSeq: number,
): Promise<{ handle: FileHandle; bytes: number }> {
  const handle = await open(path.join(options.dir, segmentFileName(segmentSeq)), walOpenFlags("truncate", options.fsync));
  const start = encodeSegmentStart({ segmentSeq, floorIndex });
  const buffer = Buffer.allocUnsafe(frameBytes(start.length) + frameBytes(hardState.length));
  let used = encodeFrameInto(buffer, 0, RecordType.SegmentStart, start, flushSeq, 0, 2);
  used = encodeFrameInto(buffer, used, RecordType.HardState, hardState, flushSeq, 1, 2);
  await handle.write(buffer, 0, used, 0); // durable on return with fsync on (O_DSYNC)
  if (options.fsync) {
    await fsyncDirectory(options.dir);
    stats.fsyncs += 2; // the O_DSYNC write and the directory
  }
  stats.bytesWritten += used;
  return { handle, bytes: used };
}

/**
 * open(2) flags for a WAL segment: "append" an existing one, "create" a new one (must not
 * exist), "truncate" (create or empty). With fsync on, O_DSYNC makes every write durable before
 * it returns (data and the metadata needed to read it back, like fdatasync).
 */
export function walOpenFlags(mode: "append" | "create" | "truncate", fsync: boolean): number {
  const c = fsConstants;
  const base = mode === "append" ? c.O_RDWR : mode === "create" ? c.O_WRONLY | c.O_CREAT | c.O_EXCL : c.O_WRONLY | c.O_CREAT | c.O_TRUNC;
  return fsync ? base | c.O_DSYNC : base;
}
