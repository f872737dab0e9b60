/**
 * InstallSnapshot in chunks, with memory bounded by a few chunks on both sides. A snapshot can
 * be far larger than a frame (1M queued 64 B messages are ~80 MB), so the runtime sends it as
 * InstallSnapshot frames of at most `chunkBytes` of data each (chunk_offset, total_bytes in
 * raftmq.proto).
 *
 * Sender (SnapshotSender): the core's InstallSnapshot carries a SnapshotFileData (a reference to
 * the leader's snapshot file). The sender reads one chunk at a time from the file and offers it
 * to the connection manager; when the manager's queue is full it keeps that one chunk and waits
 * for the link's 'drain'. So it holds at most one chunk itself, beyond the manager's bounded
 * send queue (sendQueueBytesMax). While the peer's connection is down it pauses rather than fill
 * that queue with chunks nobody reads. The file's checksum is checked before the last chunk
 * leaves. A request for the snapshot already being sent to that peer only resumes it
 * (restarting would never finish a transfer longer than the core's retry interval); another
 * snapshot replaces the one in progress.
 *
 * Receiver (SnapshotReceiver): the first chunk creates a temp snapshot file in the data dir
 * (FileStorage.beginSnapshotSync) and every chunk is written to it as it arrives, without
 * leaving the event loop (SnapshotWriter.writeSync): the next frame is read from the socket only
 * once the chunk is in the page cache, so nothing waits in memory, and a disk slower than the
 * network slows the socket down until TCP flow control reaches the leader's 'drain' (the wire
 * cannot pause a peer otherwise; the price is the loop blocked for one page-cache write per
 * chunk). After the last chunk the file is made durable (fsync, rename, directory fsync) and the
 * core gets an InstallSnapshot whose data is a reference to that file. A crash before leaves
 * only a *.tmp file, which FileStorage.load() deletes.
 *
 * Losses: the wire delivers a sender's frames in order, at most once, resending what a dropped
 * connection lost while its retransmit buffer lasts; past that there is a gap. A chunk beyond
 * what the receiver has accepted is dropped, but the partial file is kept: when the leader's core
 * retries (it re-probes a follower stuck in snapshot state after an election timeout) the sender
 * restarts from offset 0 and the receiver skips what it already accepted. So the wire restarts
 * from 0 and the disk resumes.
 */
import { crc32 } from "node:zlib";
import { snapshotBytes } from "../raft/snapshot-data";
import type { InstallSnapshot, NodeId, SnapshotData, SnapshotMeta } from "../raft/types";
import { SnapshotFileData, type SnapshotFileInfo, type SnapshotReader, type SnapshotWriter } from "../storage/snapshot-files";
import { assert } from "../util/assert";
import { isRaftmqError } from "../util/errors";
import { snapshotMetaFromWire, snapshotMetaToWire } from "../wire/raft-convert";
import type { InstallSnapshot as WireInstallSnapshot } from "../wire/schema.generated";

export type InstallSnapshotBody = WireInstallSnapshot;

/** Typed errors and failed system calls (disk full, file gone) are handled; anything else is a bug. */
function isOperatingError(error: unknown): boolean {
  return isRaftmqError(error) || (error instanceof Error && "syscall" in error);
}

/** Where the chunk logs go (a NodeLogger child or a test stub). */
export interface ChunkLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

// ---------------------------------------------------------------- sender

/** What SnapshotSender needs from the connection manager. */
export interface ChunkTransport {
  /** Queues the chunk, or returns false (chunk not taken) until drained(to) is called. */
  send(to: NodeId, body: InstallSnapshotBody): boolean;
  /**
   * False while the connection to `to` is known to be down: the transfer pauses instead of
   * filling the link's queue for a peer that cannot read it (resumed by drained() or by the
   * core asking again). Optional: always ready when absent.
   */
  connected?(to: NodeId): boolean;
}

/** Sequential reads of a snapshot's data, checked against its checksum once all is read. */
interface ChunkSource {
  read(offset: number, byteCount: number): Promise<Uint8Array>;
  /** Throws STORAGE_CORRUPT unless the data read so far, in order, is the whole intact data. */
  verify(): void;
  close(): Promise<void>;
}

async function openSource(data: SnapshotData): Promise<ChunkSource> {
  if (!(data instanceof SnapshotFileData)) {
    const bytes = snapshotBytes(data); // in-memory snapshots (tests)
    return { read: async (offset, byteCount) => bytes.subarray(offset, offset + byteCount), verify: () => undefined, close: async () => undefined };
  }
  const reader: SnapshotReader = await data.openReader();
  let crc = 0;
  return {
    read: async (offset, byteCount) => {
      const chunk = await reader.read(offset, byteCount);
      crc = crc32(chunk, crc);
      return chunk;
    },
    verify: () => reader.checkCrc(crc),
    close: () => reader.close(),
  };
}

interface OutboundTransfer {
  readonly to: NodeId;
  readonly message: InstallSnapshot;
  readonly totalBytes: number;
  source: Promise<ChunkSource> | null;
  /** Next data offset to read. */
  offset: number;
  /** A chunk read and refused by the transport (waits for drain). */
  held: InstallSnapshotBody | null;
  chunksSent: number;
  pumping: boolean;
  ended: boolean;
}

export interface SnapshotSenderStats {
  transfersStarted: number;
  transfersCompleted: number;
  chunksSent: number;
  /** Most snapshot data bytes the sender ever held at once (read, not yet taken by the transport). */
  bytesHeldMax: number;
}

function sameSnapshot(a: InstallSnapshot, b: InstallSnapshot): boolean {
  return a.term === b.term && a.snapshot.meta.index === b.snapshot.meta.index && a.snapshot.meta.term === b.snapshot.meta.term;
}

export class SnapshotSender {
  private readonly transfers = new Map<NodeId, OutboundTransfer>();
  private bytesHeld = 0;
  readonly stats: SnapshotSenderStats = { transfersStarted: 0, transfersCompleted: 0, chunksSent: 0, bytesHeldMax: 0 };

  constructor(
    private readonly transport: ChunkTransport,
    private readonly chunkBytes: number,
    private readonly logger: ChunkLogger,
  ) {
    assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, "chunkBytes is a positive integer");
  }

  /** Starts streaming the core's InstallSnapshot to message.to (see the header for repeats). */
  send(message: InstallSnapshot): void {
    const current = this.transfers.get(message.to);
    if (current !== undefined && sameSnapshot(current.message, message)) {
      void this.pump(current); // resumes a transfer paused while the peer was unreachable
      return;
    }
    if (current !== undefined) this.end(current, "replaced");
    const transfer: OutboundTransfer = {
      to: message.to,
      message,
      totalBytes: message.snapshot.data.byteLength,
      source: null,
      offset: 0,
      held: null,
      chunksSent: 0,
      pumping: false,
      ended: false,
    };
    this.transfers.set(message.to, transfer);
    this.stats.transfersStarted += 1;
    void this.pump(transfer);
  }

  /** The manager's queue to `to` has room again. */
  drained(to: NodeId): void {
    const transfer = this.transfers.get(to);
    if (transfer !== undefined) void this.pump(transfer);
  }

  get peersInProgress(): number {
    return this.transfers.size;
  }

  private async pump(transfer: OutboundTransfer): Promise<void> {
    if (transfer.pumping || transfer.ended) return;
    transfer.pumping = true;
    try {
      while (!transfer.ended) {
        if (transfer.held === null) {
          if (transfer.chunksSent > 0 && transfer.offset >= transfer.totalBytes) {
            this.stats.transfersCompleted += 1;
            this.logger.info({ event: "snapshot-sent", peer: transfer.to, index: transfer.message.snapshot.meta.index, bytes: transfer.totalBytes, chunks: transfer.chunksSent, bytesHeldMax: this.stats.bytesHeldMax }, "snapshot sent");
            this.end(transfer, "complete");
            return;
          }
          transfer.held = await this.readChunk(transfer);
          if (transfer.ended) return;
        }
        if (this.transport.connected?.(transfer.to) === false) return; // send() or drained() resumes
        if (!this.transport.send(transfer.to, transfer.held)) return; // drained() pumps again
        this.release(transfer);
        transfer.chunksSent += 1;
        this.stats.chunksSent += 1;
      }
    } catch (error) {
      if (!isOperatingError(error)) throw error;
      // The core re-probes the follower after an election timeout and asks again.
      this.logger.warn({ event: "snapshot-send-failed", peer: transfer.to, err: error }, "snapshot transfer abandoned");
      this.end(transfer, "failed");
    } finally {
      transfer.pumping = false;
    }
  }

  private async readChunk(transfer: OutboundTransfer): Promise<InstallSnapshotBody> {
    transfer.source ??= openSource(transfer.message.snapshot.data);
    const source = await transfer.source;
    const chunkOffset = transfer.offset;
    const data = await source.read(chunkOffset, Math.min(this.chunkBytes, transfer.totalBytes - chunkOffset));
    assert(data.length === Math.min(this.chunkBytes, transfer.totalBytes - chunkOffset), "source reads whole chunks");
    transfer.offset += data.length;
    if (transfer.offset === transfer.totalBytes) source.verify(); // before the last chunk leaves
    this.bytesHeld += data.length;
    this.stats.bytesHeldMax = Math.max(this.stats.bytesHeldMax, this.bytesHeld);
    const message = transfer.message;
    return { from: message.from, to: message.to, term: message.term, meta: snapshotMetaToWire(message.snapshot.meta), data, chunkOffset, totalBytes: transfer.totalBytes };
  }

  private release(transfer: OutboundTransfer): void {
    if (transfer.held === null) return;
    this.bytesHeld -= transfer.held.data.length;
    transfer.held = null;
  }

  private end(transfer: OutboundTransfer, reason: string): void {
    if (transfer.ended) return;
    transfer.ended = true;
    this.release(transfer);
    if (this.transfers.get(transfer.to) === transfer) this.transfers.delete(transfer.to);
    const source = transfer.source;
    if (source !== null) {
      // Closing a read-only file: a failure here loses nothing, and the fd is gone either way.
      void source.then((s) => s.close()).catch((error: unknown) => this.logger.warn({ event: "snapshot-close-failed", peer: transfer.to, reason, err: error }, "closing a snapshot file failed"));
    }
  }
}

// ---------------------------------------------------------------- receiver

/** What SnapshotReceiver needs from storage (FileStorage implements it). */
export interface SnapshotFiles {
  beginSnapshotSync(meta: SnapshotMeta, dataBytes: number): SnapshotWriter;
  snapshotData(info: SnapshotFileInfo): SnapshotData;
}

interface InboundTransfer {
  readonly from: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly writer: SnapshotWriter;
  /** The last reason a chunk was dropped (logged once per reason, not once per chunk). */
  dropReason: string | null;
}

export interface SnapshotReceiverStats {
  chunksWritten: number;
  /** Chunks of data already written (a sender restarted from 0). */
  chunksSkipped: number;
  chunksDropped: number;
  snapshotsReceived: number;
  /** Most snapshot bytes the receiver ever held: the chunk being written (nothing waits). */
  bytesHeldMax: number;
}

export class SnapshotReceiver {
  private readonly transfers = new Map<NodeId, InboundTransfer>();
  /** Per sender: the last reason a chunk outside any transfer was dropped. */
  private readonly strayReasons = new Map<NodeId, string>();
  readonly stats: SnapshotReceiverStats = { chunksWritten: 0, chunksSkipped: 0, chunksDropped: 0, snapshotsReceived: 0, bytesHeldMax: 0 };
  /** Optional observer (tests): called after each chunk is written, skipped or dropped. */
  onProgress: (() => void) | null = null;

  constructor(
    private readonly files: SnapshotFiles,
    /** Largest snapshot accepted. */
    private readonly dataBytesMax: number,
    /** Called with the whole InstallSnapshot once its file is durable. */
    private readonly deliver: (message: InstallSnapshot) => void,
    private readonly logger: ChunkLogger,
  ) {}

  /** One InstallSnapshot chunk from `from` (in the wire's order), on disk when this returns. */
  push(from: NodeId, body: InstallSnapshotBody): void {
    this.stats.bytesHeldMax = Math.max(this.stats.bytesHeldMax, body.data.length);
    const totalBytes = body.totalBytes === 0 ? body.data.length : body.totalBytes;
    if (totalBytes > this.dataBytesMax) return this.drop(from, null, `snapshot of ${totalBytes} bytes exceeds the ${this.dataBytesMax} byte limit`);
    const meta = snapshotMetaFromWire(body.meta);
    let transfer = this.transfers.get(from);
    const continues = transfer !== undefined && transfer.term === body.term && transfer.meta.index === meta.index && transfer.meta.term === meta.term && transfer.totalBytes === totalBytes;
    if (!continues) {
      if (body.chunkOffset !== 0) return this.drop(from, null, "chunk of a snapshot that is not in progress");
      if (transfer !== undefined) this.discard(transfer);
      const started = this.begin(from, body.term, meta, totalBytes);
      if (started === null) return;
      transfer = started;
    }
    assert(transfer !== undefined, "a transfer exists for a chunk that is kept");
    const writer = transfer.writer;
    if (body.chunkOffset + body.data.length > totalBytes) return this.drop(from, transfer, "chunk runs past the snapshot's size");
    if (body.chunkOffset + body.data.length <= writer.bytesWritten && body.data.length > 0) {
      // A sender that restarted from 0 resends what we hold: the disk resumes where it was.
      this.stats.chunksSkipped += 1;
      this.onProgress?.();
      return;
    }
    if (body.chunkOffset > writer.bytesWritten) {
      return this.drop(from, transfer, "gap: chunk beyond what was received; the partial file waits for the leader's retry");
    }
    try {
      const written = writer.writeSync(body.chunkOffset, body.data);
      assert(written, "a chunk that continues the file is written");
    } catch (error) {
      this.failed(transfer, error);
      return;
    }
    this.stats.chunksWritten += 1;
    if (writer.bytesWritten === totalBytes) void this.complete(transfer, body);
    this.onProgress?.();
  }

  /** Partial snapshots being received. */
  get transfersInProgress(): number {
    return this.transfers.size;
  }

  private begin(from: NodeId, term: number, meta: SnapshotMeta, totalBytes: number): InboundTransfer | null {
    let writer: SnapshotWriter;
    try {
      writer = this.files.beginSnapshotSync(meta, totalBytes);
    } catch (error) {
      if (!isOperatingError(error)) throw error;
      this.logger.warn({ event: "snapshot-receive-failed", peer: from, err: error }, "cannot create a snapshot file");
      this.stats.chunksDropped += 1;
      this.onProgress?.();
      return null;
    }
    const transfer: InboundTransfer = { from, term, meta, totalBytes, writer, dropReason: null };
    this.transfers.set(from, transfer);
    this.strayReasons.delete(from);
    this.logger.info({ event: "snapshot-receive-started", peer: from, index: meta.index, bytes: totalBytes }, "receiving a snapshot");
    return transfer;
  }

  private drop(from: NodeId, transfer: InboundTransfer | null, reason: string): void {
    this.stats.chunksDropped += 1;
    const last = transfer === null ? this.strayReasons.get(from) : transfer.dropReason;
    if (last !== reason) {
      if (transfer === null) this.strayReasons.set(from, reason);
      else transfer.dropReason = reason;
      this.logger.warn({ event: "snapshot-chunk-dropped", peer: from, reason, chunksDropped: this.stats.chunksDropped }, "snapshot chunks dropped");
    }
    this.onProgress?.();
  }

  /** Forgets the transfer and deletes its temp file. */
  private discard(transfer: InboundTransfer): void {
    if (this.transfers.get(transfer.from) === transfer) this.transfers.delete(transfer.from);
    transfer.writer.abort().catch((error: unknown) => {
      if (!isOperatingError(error)) throw error;
      // An undeletable temp file is removed by the next FileStorage.load().
      this.logger.warn({ event: "snapshot-abort-failed", peer: transfer.from, err: error }, "removing a partial snapshot failed");
    });
  }

  /** A failed file operation (disk full, size refused): start over when the leader retries. */
  private failed(transfer: InboundTransfer, error: unknown): void {
    if (!isOperatingError(error)) throw error;
    this.logger.warn({ event: "snapshot-receive-failed", peer: transfer.from, err: error }, "snapshot transfer abandoned");
    this.discard(transfer);
    this.onProgress?.();
  }

  private async complete(transfer: InboundTransfer, last: InstallSnapshotBody): Promise<void> {
    if (this.transfers.get(transfer.from) === transfer) this.transfers.delete(transfer.from); // later chunks start nothing
    let info: SnapshotFileInfo;
    try {
      info = await transfer.writer.finish();
    } catch (error) {
      if (!isOperatingError(error)) throw error;
      // Not durable: the leader's core retries; a leftover .tmp is deleted by the next load().
      this.logger.warn({ event: "snapshot-receive-failed", peer: transfer.from, err: error }, "making a received snapshot durable failed");
      return;
    }
    this.stats.snapshotsReceived += 1;
    this.logger.info(
      { event: "snapshot-received", peer: transfer.from, index: info.meta.index, bytes: info.dataBytes, bytesHeldMax: this.stats.bytesHeldMax, chunksDropped: this.stats.chunksDropped },
      "snapshot received",
    );
    this.deliver({ type: "InstallSnapshot", from: last.from, to: last.to, term: transfer.term, snapshot: { meta: info.meta, data: this.files.snapshotData(info) } });
  }
}
