/**
 * FileStorage: RaftStorage on disk (write-ahead log + snapshot files), see README.md here.
 *
 *   const storage = await openFileStorage(dir, { fsync: "always", logger });
 *   const state = await storage.load();          // recovery; rejects STORAGE_CORRUPT
 *   await storage.persist(hardState, entries, snapshotFromLeader);   // durable on resolve
 *   await storage.compact(appSnapshot);           // durable snapshot, old segments dropped
 *   await storage.close();
 *
 * persist() calls are applied in call order and may overlap: overlapping calls share one
 * fdatasync (group commit). Truncation of a conflicting suffix is one appended record (see
 * wal-replay.ts), durable with the same fsync. Our own invariant violations (non-contiguous
 * entries, a decreasing term, writing below the snapshot) are assertions: the core is buggy.
 */
import { mkdir, open, unlink } from "node:fs/promises";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import type { HardState, LogEntry, PersistentState, RaftStorage, Snapshot, SnapshotMeta } from "../raft/types";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { fsyncDirectory, newStorageStats, type StorageStats } from "./fs-util";
import { resolveOptions, type FileStorageOptions, type ResolvedOptions } from "./options";
import { RecordType } from "./record-codec";
import { recover } from "./recovery";
import { SnapshotFileData, SnapshotReader, SnapshotWriter, writeSnapshotFile, type SnapshotFileInfo, type SnapshotIoOptions } from "./snapshot-files";
import { snapshotBytes } from "../raft/snapshot-data";
import { LogReplay } from "./wal-replay";
import { ENTRY_PREFIX_BYTES, encodeEntry, encodeHardState, encodeSnapshotMarker, type IndexTerm } from "./wal-records";
import { WalWriter, startSegment, walOpenFlags, type WalItem, type WalWriterOptions } from "./wal-writer";
import { segmentFileName } from "./file-names";

interface SnapshotOnDisk {
  name: string;
  index: number;
  term: number;
  /** Known for files written or read in this process; undefined for ones only listed. */
  dataCrc?: number;
  dataBytes?: number;
}

export async function openFileStorage(dir: string, options: FileStorageOptions): Promise<FileStorage> {
  const resolved = resolveOptions(options);
  await mkdir(dir, { recursive: true });
  if (resolved.fsync === "never") {
    resolved.logger.warn({ dir, fsync: "never" }, "STORAGE FSYNC DISABLED: data will be lost on power failure; benchmarks and tests only");
  }
  return new FileStorage(dir, resolved);
}

export class FileStorage implements RaftStorage {
  private readonly counters: StorageStats = newStorageStats();
  private writer: WalWriter | null = null;
  /** Invariant: mirrors the log the WAL describes (terms only), joined to baseIndex. */
  private model = new LogReplay<IndexTerm>({ keepEntries: false });
  private lastHardState: HardState = { term: 0, votedFor: null, commitIndex: 0 };
  /** Index of the snapshot the log is joined to (0: none). */
  private baseIndex = 0;
  private snapshots: SnapshotOnDisk[] = [];
  /** Serialises the in-memory effects of persist/compact in call order. */
  private ingest: Promise<void> = Promise.resolve();
  /** serialize() steps not yet settled: 0 means `ingest` is idle. */
  private ingestPending = 0;
  /** Serialises deletions of old snapshots and segments. */
  private pruning: Promise<void> = Promise.resolve();
  private state: "new" | "loading" | "open" | "closed" = "new";

  constructor(
    readonly dir: string,
    private readonly options: ResolvedOptions,
  ) {}

  stats(): Readonly<StorageStats> {
    return { ...this.counters };
  }

  /** Index of the snapshot the log currently starts after (0: none). */
  snapshotIndex(): number {
    return this.baseIndex;
  }

  async load(): Promise<PersistentState> {
    assert(this.state === "new", "load() is called once, first");
    this.state = "loading";
    const fsync = this.options.fsync === "always";
    const recovered = await recover({
      dir: this.dir,
      fsync,
      repair: this.options.repair,
      limits: { bufferBytes: this.options.readBufferBytes, payloadBytesMax: this.options.recordBytesMax },
      snapshotBytesMax: this.options.snapshotBytesMax,
      logger: this.options.logger,
    });
    const segments = recovered.segments;
    let handle;
    let bytes = recovered.newestSegmentBytes;
    let nextFlushSeq = recovered.nextFlushSeq;
    if (bytes === 0) {
      const segmentSeq = segments.length === 0 ? 1 : segments[segments.length - 1]!.segmentSeq;
      const started = await startSegment(this.writerOptions(), this.counters, segmentSeq, recovered.walLastIndex, recovered.lastHardState, nextFlushSeq);
      nextFlushSeq += 1;
      handle = started.handle;
      bytes = started.bytes;
      if (segments.length === 0) segments.push({ segmentSeq, name: segmentFileName(segmentSeq), maxIndex: 0, hasHardState: true });
      segments[segments.length - 1]!.maxIndex = recovered.walLastIndex;
      segments[segments.length - 1]!.hasHardState = true;
    } else {
      handle = await open(path.join(this.dir, segments[segments.length - 1]!.name), walOpenFlags("append", this.options.fsync === "always"));
    }
    // Recovery leaves the zeros preallocated after the records in place: the writer goes on over them.
    const segmentFileBytes = Math.max(bytes, (await handle.stat()).size);
    const state = recovered.state;
    this.writer = new WalWriter(
      this.writerOptions(),
      { segments, handle, segmentBytesUsed: bytes, segmentFileBytes, nextFlushSeq, lastIndex: recovered.walLastIndex, lastHardState: recovered.lastHardState },
      this.counters,
      this.options.logger,
    );
    this.baseIndex = state.snapshot?.meta.index ?? 0;
    this.model.segmentStart({ segmentSeq: 0, floorIndex: this.baseIndex });
    for (const entry of state.entries) this.model.entry(entry);
    this.lastHardState = state.hardState;
    this.snapshots = recovered.snapshots.map((ref) =>
      recovered.chosen !== null && ref.name === recovered.chosen.name
        ? { ...ref, dataCrc: recovered.chosen.dataCrc, dataBytes: recovered.chosen.dataBytes }
        : ref,
    );
    this.state = "open";
    this.options.logger.info(
      { dir: this.dir, snapshotIndex: this.baseIndex, firstIndex: this.model.firstIndex(), lastIndex: this.model.lastIndex(), term: state.hardState.term },
      "storage loaded",
    );
    return state;
  }

  persist(hardState: HardState | null, entries: LogEntry[], snapshot: Snapshot | null): Promise<void> {
    assert(this.state === "open", "persist() after load() and before close()");
    this.counters.persistCalls += 1;
    const step = this.serialize(() => this.enqueuePersist(hardState, entries, snapshot));
    return step.then(async (queued) => {
      await queued.durable;
      if (snapshot !== null) await this.prune();
    });
  }

  compact(snapshot: Snapshot): Promise<void> {
    assert(this.state === "open", "compact() after load() and before close()");
    const meta = snapshot.meta;
    if (meta.index <= this.baseIndex) return Promise.resolve(); // already covered
    const written = this.ensureSnapshotFile(snapshot);
    written.catch(() => undefined); // awaited below in `step`, which reports the error to the caller
    const step = this.serialize(async () => {
      const info = await written;
      if (meta.index <= this.baseIndex) return;
      const termHere = this.model.termAt(meta.index);
      assert(meta.index <= this.model.lastIndex(), "compact() within the log");
      assert(termHere === meta.term, "compact() snapshot term matches the log");
      this.model.marker({ index: meta.index, term: meta.term });
      this.baseIndex = meta.index;
      this.counters.bytesSinceSnapshot = 0;
      this.remember(info);
    });
    return step.then(() => this.prune());
  }

  /** Streams the newest snapshot file (for InstallSnapshot); null when there is none. */
  async openSnapshotReader(): Promise<SnapshotReader | null> {
    assert(this.state === "open", "openSnapshotReader() on an open storage");
    const newest = this.snapshots[0];
    return newest === undefined ? null : SnapshotReader.open(this.dir, newest.name);
  }

  /**
   * Receives (or writes) a snapshot in chunks. finish() makes the file durable and registers it;
   * the host gives the core snapshotData(info), and when the core hands that snapshot to
   * persist() or compact() only the marker is appended.
   */
  beginSnapshot(meta: SnapshotMeta, dataBytes: number): Promise<SnapshotWriter> {
    try {
      return Promise.resolve(this.beginSnapshotSync(meta, dataBytes));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** beginSnapshot() without leaving the event loop (an open and a header write). */
  beginSnapshotSync(meta: SnapshotMeta, dataBytes: number): SnapshotWriter {
    assert(this.state === "open", "beginSnapshot() on an open storage");
    if (dataBytes > this.options.snapshotBytesMax) {
      throw new RaftmqError("STORAGE_TOO_LARGE", "snapshot larger than snapshotBytesMax", {
        details: { dataBytes, snapshotBytesMax: this.options.snapshotBytesMax },
      });
    }
    return SnapshotWriter.beginSync({ ...this.snapshotIo(), onInstalled: async (info) => this.remember(info) }, meta, dataBytes);
  }

  /** The SnapshotData (a file reference) for a snapshot file this storage finished. */
  snapshotData(info: SnapshotFileInfo): SnapshotFileData {
    return SnapshotFileData.of(this.dir, info);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await this.ingest;
    await this.pruning;
    await this.writer?.close();
  }

  /**
   * Runs `step` after every earlier one, in call order. When none is pending it starts at once,
   * in the caller's turn: a persist() then hands its write to the disk before returning, so the
   * caller can do other work (apply committed entries) while the write is in flight.
   */
  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const run = this.ingestPending === 0 ? step() : this.ingest.then(step);
    this.ingestPending += 1;
    this.ingest = run.then(
      () => undefined,
      () => undefined, // the error reaches the caller through `run`
    ).then(() => {
      this.ingestPending -= 1;
    });
    return run;
  }

  private async enqueuePersist(hardState: HardState | null, entries: LogEntry[], snapshot: Snapshot | null): Promise<{ durable: Promise<void> }> {
    const writer = this.writer;
    assert(writer !== null, "writer exists once loaded");
    // Refusals happen before any state changes: a refused call has no effect at all.
    const failure = writer.failed();
    if (failure !== null) throw failure;
    if (!writer.hasRoom()) {
      throw new RaftmqError("STORAGE_BUSY", "too many persist calls waiting for the disk", {
        details: { queuedBatchesMax: this.options.queuedBatchesMax },
      });
    }
    this.checkSizes(entries);
    const items: WalItem[] = [];
    if (snapshot !== null) {
      const meta = snapshot.meta;
      assert(meta.index > this.baseIndex, "a leader's snapshot is newer than ours");
      this.remember(await this.ensureSnapshotFile(snapshot));
      this.model.marker({ index: meta.index, term: meta.term });
      this.baseIndex = meta.index;
      this.counters.bytesSinceSnapshot = 0;
      items.push({ type: RecordType.SnapshotMarker, payload: encodeSnapshotMarker(meta), index: meta.index });
    }
    this.appendEntries(entries, items);
    if (hardState !== null) {
      const previous = this.lastHardState;
      assert(hardState.term >= previous.term, "hard state term never decreases");
      assert(hardState.term !== previous.term || previous.votedFor === null || hardState.votedFor === previous.votedFor, "one vote per term");
      this.lastHardState = { ...hardState };
      items.push({ type: RecordType.HardState, payload: encodeHardState(hardState), index: 0 });
    }
    return { durable: writer.enqueue(items, this.model.lastIndex()) };
  }

  private appendEntries(entries: LogEntry[], items: WalItem[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!;
    assert(first.index > this.baseIndex, "entries are above the snapshot");
    assert(first.index <= this.model.lastIndex() + 1, "entries join the log without a gap");
    const termBefore = this.model.termAt(first.index - 1) ?? 0;
    assert(first.term >= termBefore, "entry terms never decrease along the log");
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      assert(entry.index === first.index + i, "entries are contiguous");
      assert(i === 0 || entry.term >= entries[i - 1]!.term, "entry terms never decrease along the log");
      this.model.entry(entry);
      items.push({ type: RecordType.Entry, payload: encodeEntry(entry), index: entry.index });
    }
  }

  private checkSizes(entries: LogEntry[]): void {
    for (const entry of entries) {
      if (ENTRY_PREFIX_BYTES + entry.data.length > this.options.recordBytesMax) {
        throw new RaftmqError("STORAGE_TOO_LARGE", `entry ${entry.index} is larger than recordBytesMax`, {
          details: { index: entry.index, dataBytes: entry.data.length, recordBytesMax: this.options.recordBytesMax },
        });
      }
    }
  }

  /**
   * Writes `snapshot` durably unless its file is already there: a SnapshotFileData always names
   * a complete file of this directory (written by beginSnapshot() or found by load()); bytes
   * (tests, tools) are written unless an identical file exists.
   */
  private async ensureSnapshotFile(snapshot: Snapshot): Promise<SnapshotFileInfo> {
    const meta = snapshot.meta;
    const data = snapshot.data;
    if (data instanceof SnapshotFileData) {
      assert(data.dir === this.dir, "snapshot file belongs to this storage");
      assert(data.meta.index === meta.index && data.meta.term === meta.term, "snapshot file matches its metadata");
      return { name: data.name, meta, dataBytes: data.byteLength, dataCrc: data.dataCrc };
    }
    const bytes = snapshotBytes(data);
    const existing = this.snapshots.find((s) => s.index === meta.index && s.term === meta.term);
    if (existing?.dataCrc !== undefined && existing.dataBytes === bytes.length && existing.dataCrc === crc32(bytes) >>> 0) {
      return { name: existing.name, meta, dataBytes: existing.dataBytes, dataCrc: existing.dataCrc };
    }
    return writeSnapshotFile(this.snapshotIo(), snapshot);
  }

  private remember(info: SnapshotFileInfo): void {
    const others = this.snapshots.filter((s) => s.name !== info.name);
    others.push({ name: info.name, index: info.meta.index, term: info.meta.term, dataCrc: info.dataCrc, dataBytes: info.dataBytes });
    this.snapshots = others.sort((a, b) => b.index - a.index);
  }

  /** Deletes snapshots beyond snapshotsKept and the segments wholly below the oldest kept one. */
  private prune(): Promise<void> {
    const run = this.pruning.then(() => this.pruneNow());
    this.pruning = run.then(
      () => undefined,
      () => undefined, // reported to the caller through `run`
    );
    return run;
  }

  private async pruneNow(): Promise<void> {
    const writer = this.writer;
    if (writer === null || this.state === "closed") return;
    const kept = this.snapshots.slice(0, this.options.snapshotsKept);
    const base = this.snapshots.find((s) => s.index === this.baseIndex);
    if (base !== undefined && !kept.includes(base)) kept.push(base);
    const doomed = this.snapshots.filter((s) => !kept.includes(s));
    this.snapshots = this.snapshots.filter((s) => kept.includes(s));
    // Fewer snapshots than snapshotsKept: keep the log from its start, so that a damaged
    // snapshot can still be rebuilt from the log (recovery.ts falls back to it).
    const dropThrough = kept.length < this.options.snapshotsKept ? 0 : Math.min(this.baseIndex, ...kept.map((s) => s.index));
    const segments = writer.forgetSegmentsThrough(dropThrough);
    for (const segment of segments) await unlink(path.join(this.dir, segment.name));
    for (const snapshot of doomed) await unlink(path.join(this.dir, snapshot.name));
    if (segments.length + doomed.length > 0) {
      if (this.options.fsync === "always") {
        await fsyncDirectory(this.dir);
        this.counters.fsyncs += 1;
      }
      this.options.logger.info({ segments: segments.map((s) => s.name), snapshots: doomed.map((s) => s.name), dropThrough }, "storage pruned");
    }
  }

  private writerOptions(): WalWriterOptions {
    return {
      dir: this.dir,
      fsync: this.options.fsync === "always",
      segmentBytes: this.options.segmentBytes,
      flushBytesMax: this.options.flushBytesMax,
      writeChunkBytes: this.options.writeChunkBytes,
      queuedBatchesMax: this.options.queuedBatchesMax,
      preallocateBytes: this.options.preallocateBytes,
      blockingWrites: this.options.walWrites === "blocking",
    };
  }

  private snapshotIo(): SnapshotIoOptions {
    return { dir: this.dir, fsync: this.options.fsync === "always", stats: this.counters };
  }
}
