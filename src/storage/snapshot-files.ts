/**
 * Snapshot files on disk (fs shell around snapshot-format.ts).
 *
 * Every snapshot is written to "<final name>.<pid>-<n>.tmp", fsynced, renamed to its final name, and the
 * directory fsynced: a crash leaves either no file or a complete one (a leftover .tmp is deleted
 * on open). Reads check the header checksum and the data checksum.
 *
 * SnapshotFileData is the runtime's Snapshot.data (src/raft/types.ts SnapshotData): a reference
 * to a complete, durable snapshot file, never its bytes. Whoever needs the bytes opens a reader.
 *
 * Chunked transfer with bounded memory on both sides (for InstallSnapshot streaming):
 *   - SnapshotReader yields the data in chunks of chunkBytes and checks the data checksum at the
 *     end (rejects STORAGE_CORRUPT on mismatch).
 *   - SnapshotWriter.write(offset, chunk) accepts chunks in order; resent chunks (offset below
 *     what it has) are ignored or trimmed, so a sender may resume from bytesWritten or restart
 *     from 0; a chunk past bytesWritten is refused (returns false) so the sender can resume.
 *     finish() checks the size, makes the file durable and returns its metadata.
 */
import { close as fsClose, closeSync, fdatasync as fsFdatasync, fsync as fsFsync, openSync, writeSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { snapshotBytes } from "../raft/snapshot-data";
import type { Snapshot, SnapshotData, SnapshotMeta } from "../raft/types";
import { assert } from "../util/assert";
import { RaftmqError } from "../util/errors";
import { snapshotFileName } from "./file-names";
import { fsyncDirectory, writeAt, type StorageStats } from "./fs-util";
import {
  SNAPSHOT_HEADER_BYTES,
  decodeSnapshotHeader,
  decodeSnapshotMeta,
  encodeSnapshotHead,
  encodeSnapshotMeta,
} from "./snapshot-format";

export interface SnapshotFileInfo {
  name: string;
  meta: SnapshotMeta;
  dataBytes: number;
  dataCrc: number;
}

export interface SnapshotIoOptions {
  dir: string;
  fsync: boolean;
  stats: StorageStats;
  /** Called once the file is durable under its final name, before finish() resolves. */
  onInstalled?: (info: SnapshotFileInfo) => Promise<void>;
}

function corrupt(file: string, offset: number, reason: string): RaftmqError {
  return new RaftmqError("STORAGE_CORRUPT", `snapshot ${file} is corrupt at offset ${offset}: ${reason}`, {
    details: { file, offset, reason },
  });
}

async function readExactly(handle: FileHandle, bytes: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(bytes);
  let done = 0;
  while (done < bytes) {
    const { bytesRead } = await handle.read(buffer, done, bytes - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** Opens a snapshot and checks its header and metadata (not yet its data). */
async function openChecked(file: string): Promise<{ handle: FileHandle; info: Omit<SnapshotFileInfo, "name"> }> {
  const handle = await open(file, "r");
  try {
    const fixed = await readExactly(handle, SNAPSHOT_HEADER_BYTES, 0);
    const header = decodeSnapshotHeader(fixed);
    if (typeof header === "string") throw corrupt(file, 0, header);
    const head = Buffer.concat([fixed, await readExactly(handle, header.metaBytes, SNAPSHOT_HEADER_BYTES)]);
    if (head.length !== SNAPSHOT_HEADER_BYTES + header.metaBytes) throw corrupt(file, head.length, "file ends inside the metadata");
    const meta = decodeSnapshotMeta(head, header);
    if (typeof meta === "string") throw corrupt(file, 0, meta);
    const { size } = await handle.stat();
    if (size !== head.length + header.dataBytes) {
      throw corrupt(file, Math.min(size, head.length + header.dataBytes), `file is ${size} bytes, header says ${head.length + header.dataBytes}`);
    }
    return { handle, info: { meta, dataBytes: header.dataBytes, dataCrc: header.dataCrc } };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Chunk size for checking a whole file's data checksum. */
const VERIFY_CHUNK_BYTES = 1024 * 1024;

/**
 * A complete, durable snapshot file: the runtime's SnapshotData. Holds no data bytes; the file
 * is immutable once renamed into place, so its size and checksum describe it for good.
 */
export class SnapshotFileData implements SnapshotData {
  constructor(
    readonly dir: string,
    readonly name: string,
    readonly meta: SnapshotMeta,
    readonly byteLength: number,
    readonly dataCrc: number,
  ) {}

  static of(dir: string, info: SnapshotFileInfo): SnapshotFileData {
    return new SnapshotFileData(dir, info.name, info.meta, info.dataBytes, info.dataCrc);
  }

  /** Opens the file for reading its data in chunks (checks header and metadata again). */
  async openReader(): Promise<SnapshotReader> {
    const reader = await SnapshotReader.open(this.dir, this.name);
    if (reader.dataBytes !== this.byteLength || reader.dataCrc !== this.dataCrc) {
      await reader.close();
      throw corrupt(path.join(this.dir, this.name), 0, "file changed since it was written");
    }
    return reader;
  }
}

/**
 * Checks a whole snapshot file (header, metadata, and the data checksum, read in chunks: memory
 * O(one chunk)) and returns a reference to it.
 */
export async function verifySnapshotFile(dir: string, name: string, dataBytesMax: number): Promise<{ snapshot: Snapshot; info: SnapshotFileInfo }> {
  const reader = await SnapshotReader.open(dir, name);
  try {
    if (reader.dataBytes > dataBytesMax) {
      const file = path.join(dir, name);
      throw new RaftmqError("STORAGE_TOO_LARGE", `snapshot ${file} holds ${reader.dataBytes} bytes, above snapshotBytesMax ${dataBytesMax}`, {
        details: { file, dataBytes: reader.dataBytes, dataBytesMax },
      });
    }
    for await (const chunk of reader.chunks(VERIFY_CHUNK_BYTES)) void chunk; // chunks() checks the crc at the end
    const info: SnapshotFileInfo = { name, meta: reader.meta, dataBytes: reader.dataBytes, dataCrc: reader.dataCrc };
    return { snapshot: { meta: info.meta, data: SnapshotFileData.of(dir, info) }, info };
  } finally {
    await reader.close();
  }
}

/** Reads a whole snapshot's data into memory (tests and small snapshots only). */
export async function readSnapshotData(data: SnapshotData): Promise<Uint8Array> {
  if (!(data instanceof SnapshotFileData)) return snapshotBytes(data);
  const reader = await data.openReader();
  try {
    const parts: Buffer[] = [];
    for await (const chunk of reader.chunks(VERIFY_CHUNK_BYTES)) parts.push(chunk.data);
    return new Uint8Array(Buffer.concat(parts));
  } finally {
    await reader.close();
  }
}

/** Writes `snapshot` durably under its final name (temp + fsync + rename + directory fsync). */
export async function writeSnapshotFile(options: SnapshotIoOptions, snapshot: Snapshot): Promise<SnapshotFileInfo> {
  const data = snapshotBytes(snapshot.data);
  const writer = await SnapshotWriter.begin(options, snapshot.meta, data.length);
  const ok = await writer.write(0, data);
  assert(ok, "a whole snapshot written at offset 0 is accepted");
  return writer.finish();
}

export class SnapshotReader {
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly handle: FileHandle,
    readonly meta: SnapshotMeta,
    readonly dataBytes: number,
    readonly dataCrc: number,
    private readonly dataOffset: number,
  ) {}

  static async open(dir: string, name: string): Promise<SnapshotReader> {
    const file = path.join(dir, name);
    const { handle, info } = await openChecked(file);
    const dataOffset = SNAPSHOT_HEADER_BYTES + encodeSnapshotMeta(info.meta).length;
    return new SnapshotReader(file, handle, info.meta, info.dataBytes, info.dataCrc, dataOffset);
  }

  /** Yields {offset, data} chunks of at most chunkBytes each, in order; checks the crc at the end. */
  async *chunks(chunkBytes: number): AsyncGenerator<{ offset: number; data: Buffer }> {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, "chunkBytes is a positive integer");
    assert(!this.closed, "reader is open");
    let crc = 0;
    for (let offset = 0; offset < this.dataBytes; ) {
      const data = await readExactly(this.handle, Math.min(chunkBytes, this.dataBytes - offset), this.dataOffset + offset);
      if (data.length === 0) throw corrupt(this.file, this.dataOffset + offset, "file ends inside the data");
      crc = crc32(data, crc);
      yield { offset, data };
      offset += data.length;
    }
    if (crc !== this.dataCrc) throw corrupt(this.file, this.dataOffset, "data checksum mismatch");
  }

  /**
   * Reads the data at [offset, offset + byteCount) (clipped to the end). The caller checks the
   * checksum (crc32 over the chunks in order must equal dataCrc) when it reads out of chunks().
   */
  async read(offset: number, byteCount: number): Promise<Buffer> {
    assert(!this.closed, "reader is open");
    assert(offset >= 0 && offset <= this.dataBytes, "read within the data");
    const data = await readExactly(this.handle, Math.min(byteCount, this.dataBytes - offset), this.dataOffset + offset);
    if (data.length < Math.min(byteCount, this.dataBytes - offset)) throw corrupt(this.file, this.dataOffset + offset + data.length, "file ends inside the data");
    return data;
  }

  /** STORAGE_CORRUPT unless `crc` (crc32 of all the data, in order) is the file's. */
  checkCrc(crc: number): void {
    if (crc >>> 0 !== this.dataCrc) throw corrupt(this.file, this.dataOffset, "data checksum mismatch");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Writes all of `bytes` at `position`, looping over short writes. */
function writeAllSync(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const written = writeSync(fd, bytes, done, bytes.length - done, position + done);
    if (written <= 0) throw new RaftmqError("STORAGE_IO", "snapshot write made no progress", { details: { position: position + done } });
    done += written;
  }
}

let temporaryCounter = 0;

/** fsync, fdatasync or close of a plain descriptor (the callback API), as a promise. */
function onFd(call: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void, fd: number): Promise<void> {
  return new Promise((resolve, reject) => call(fd, (error) => (error === null ? resolve() : reject(error))));
}

/**
 * write() flushes the file every this many bytes instead of leaving all of it to the fsync in
 * finish(): one flush of a 72 MiB snapshot kept this disk busy for 123 ms (a node loop of 72 x
 * 1 MiB writes), and every WAL write of this node and of the others sharing the disk waits behind
 * it; 4 MiB flushes took at most 9 ms each, and WAL writes slip in between (RocksDB's
 * bytes_per_sync, for the same reason).
 */
export const SNAPSHOT_SYNC_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * Writes one snapshot file. It works on a plain file descriptor so that a receiver can create
 * the file and write chunks without leaving the event loop (beginSync, writeSync: see
 * src/node/snapshot-chunks.ts for why), while finish() and abort() stay asynchronous.
 */
export class SnapshotWriter {
  private bytesDone = 0;
  /** bytesDone at the last intermediate flush (write(): SNAPSHOT_SYNC_EVERY_BYTES). */
  private bytesSynced = 0;
  private crc = 0;
  /** An async write is in flight (writes never overlap). */
  private busy = false;
  private state: "open" | "finished" | "aborted" = "open";

  private constructor(
    private readonly options: SnapshotIoOptions,
    private readonly name: string,
    private readonly tempPath: string,
    private readonly fd: number,
    readonly meta: SnapshotMeta,
    readonly dataBytes: number,
    private readonly dataOffset: number,
  ) {}

  static async begin(options: SnapshotIoOptions, meta: SnapshotMeta, dataBytes: number): Promise<SnapshotWriter> {
    return SnapshotWriter.beginSync(options, meta, dataBytes); // an open and a header write: microseconds
  }

  /** Creates the temp file and writes its provisional header (its checksums come in finish()). */
  static beginSync(options: SnapshotIoOptions, meta: SnapshotMeta, dataBytes: number): SnapshotWriter {
    assert(Number.isSafeInteger(dataBytes) && dataBytes >= 0, "dataBytes is a non-negative integer");
    const name = snapshotFileName(meta.index, meta.term);
    // A unique temp name: two writers of the same snapshot never interleave in one file.
    temporaryCounter += 1;
    const tempPath = path.join(options.dir, `${name}.${process.pid}-${temporaryCounter}.tmp`);
    const fd = openSync(tempPath, "wx");
    const head = encodeSnapshotHead(encodeSnapshotMeta(meta), dataBytes, 0);
    try {
      writeAllSync(fd, head, 0);
    } catch (error) {
      closeSync(fd);
      throw error; // the .tmp file is deleted by the next load()
    }
    return new SnapshotWriter(options, name, tempPath, fd, meta, dataBytes, head.length);
  }

  get bytesWritten(): number {
    return this.bytesDone;
  }

  /**
   * Writes `chunk` found at `offset` of the data. Returns false (and writes nothing) when offset
   * is past bytesWritten: the sender must resend from bytesWritten.
   */
  async write(offset: number, chunk: Uint8Array): Promise<boolean> {
    const fresh = this.freshPart(offset, chunk);
    if (fresh === null) return false;
    this.busy = true;
    try {
      let done = 0;
      while (done < fresh.length) {
        const bytesWritten = await writeAt(this.fd, fresh, done, fresh.length - done, this.dataOffset + this.bytesDone + done);
        if (bytesWritten <= 0) throw new RaftmqError("STORAGE_IO", "snapshot write made no progress", { details: { offset: this.bytesDone + done } });
        done += bytesWritten;
      }
      this.wrote(fresh);
      if (this.options.fsync && this.bytesDone - this.bytesSynced >= SNAPSHOT_SYNC_EVERY_BYTES) {
        await onFd(fsFdatasync, this.fd);
        this.options.stats.fsyncs += 1;
        this.bytesSynced = this.bytesDone;
      }
    } finally {
      this.busy = false;
    }
    return true;
  }

  /**
   * write() without leaving the event loop: the caller's next input (the next frame from the
   * socket) waits until this chunk is in the page cache, which lets TCP flow control pace a
   * sender that outruns the disk. Same contract as write().
   */
  writeSync(offset: number, chunk: Uint8Array): boolean {
    const fresh = this.freshPart(offset, chunk);
    if (fresh === null) return false;
    writeAllSync(this.fd, fresh, this.dataOffset + this.bytesDone);
    this.wrote(fresh);
    return true;
  }

  /** The part of `chunk` (found at `offset`) not written yet; null when offset is past bytesWritten. */
  private freshPart(offset: number, chunk: Uint8Array): Uint8Array | null {
    assert(this.state === "open", "write on an open snapshot writer");
    assert(!this.busy, "one write at a time");
    if (offset > this.bytesDone) return null;
    const skip = this.bytesDone - offset;
    const fresh = chunk.subarray(Math.min(skip, chunk.length));
    if (this.bytesDone + fresh.length > this.dataBytes) {
      throw new RaftmqError("STORAGE_TOO_LARGE", "snapshot chunk runs past the announced size", {
        details: { offset, chunkBytes: chunk.length, dataBytes: this.dataBytes },
      });
    }
    return fresh;
  }

  private wrote(fresh: Uint8Array): void {
    this.crc = crc32(fresh, this.crc);
    this.bytesDone += fresh.length;
  }

  /** Completes the file: header checksum, fsync, rename, directory fsync. */
  async finish(): Promise<SnapshotFileInfo> {
    assert(this.state === "open", "finish on an open snapshot writer");
    assert(!this.busy, "finish after the last write");
    if (this.bytesDone !== this.dataBytes) {
      throw new RaftmqError("STORAGE_IO", `snapshot incomplete: ${this.bytesDone} of ${this.dataBytes} bytes`, {
        details: { bytesWritten: this.bytesDone, dataBytes: this.dataBytes },
      });
    }
    this.state = "finished";
    const head = encodeSnapshotHead(encodeSnapshotMeta(this.meta), this.dataBytes, this.crc);
    try {
      let done = 0;
      while (done < head.length) done += await writeAt(this.fd, head, done, head.length - done, done);
      if (this.options.fsync) {
        await onFd(fsFsync, this.fd);
        this.options.stats.fsyncs += 1;
      }
    } finally {
      await onFd(fsClose, this.fd);
    }
    await rename(this.tempPath, path.join(this.options.dir, this.name));
    if (this.options.fsync) {
      await fsyncDirectory(this.options.dir);
      this.options.stats.fsyncs += 1;
    }
    this.options.stats.snapshotsWritten += 1;
    const info: SnapshotFileInfo = { name: this.name, meta: this.meta, dataBytes: this.dataBytes, dataCrc: this.crc >>> 0 };
    if (this.options.onInstalled !== undefined) await this.options.onInstalled(info);
    return info;
  }

  /** Abandons the transfer and deletes the temp file. */
  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    await onFd(fsClose, this.fd);
    await unlink(this.tempPath);
  }
}
