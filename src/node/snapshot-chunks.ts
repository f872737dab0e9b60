/**
 * InstallSnapshot in chunks. A snapshot can be far larger than a frame (1M queued messages are
 * ~70 MB), so the runtime sends it as InstallSnapshot frames of at most `chunkBytes` of data
 * each (chunk_offset, total_bytes in raftmq.proto) and the receiver reassembles them before the
 * core sees one whole InstallSnapshot.
 *
 * Sender (SnapshotSender): chunks are slices of the snapshot the core already holds (no copy)
 * and are offered to the connection manager only while it accepts them; when its queue is full
 * the rest wait for the link's 'drain'. A newer snapshot for the same peer replaces the one in
 * progress. So the sender's extra memory is bounded by the manager's send queue.
 *
 * Receiver (SnapshotAssembler): one partial snapshot per sender, in a buffer of exactly
 * total_bytes (refused above maxBytes). The wire delivers a sender's frames in order, at most
 * once, possibly with gaps (lost frames): a chunk that does not continue the partial snapshot
 * discards it, and the leader, hearing nothing back, sends the snapshot again.
 */
import type { InstallSnapshot as WireInstallSnapshot } from "../wire/schema.generated";

export type InstallSnapshotBody = WireInstallSnapshot;

/** Splits a whole InstallSnapshot into bodies of at most chunkBytes of data each. */
export function splitSnapshot(body: InstallSnapshotBody, chunkBytes: number): InstallSnapshotBody[] {
  const data = body.data;
  if (data.length <= chunkBytes) return [{ ...body, chunkOffset: 0, totalBytes: data.length }];
  const chunks: InstallSnapshotBody[] = [];
  for (let offset = 0; offset < data.length; offset += chunkBytes) {
    chunks.push({ ...body, data: data.subarray(offset, Math.min(data.length, offset + chunkBytes)), chunkOffset: offset, totalBytes: data.length });
  }
  return chunks;
}

interface Partial {
  term: number;
  index: number;
  buffer: Uint8Array;
  received: number;
}

export type AssembleResult =
  | { kind: "complete"; body: InstallSnapshotBody }
  | { kind: "partial" }
  | { kind: "dropped"; reason: string };

export class SnapshotAssembler {
  private readonly partials = new Map<string, Partial>();

  constructor(private readonly maxBytes: number) {}

  push(from: string, body: InstallSnapshotBody): AssembleResult {
    const total = body.totalBytes === 0 ? body.data.length : body.totalBytes;
    if (total > this.maxBytes) {
      this.partials.delete(from);
      return { kind: "dropped", reason: `snapshot of ${total} bytes exceeds the ${this.maxBytes} byte limit` };
    }
    const index = body.meta?.index ?? 0;
    if (body.chunkOffset === 0 && body.data.length === total) {
      this.partials.delete(from);
      return { kind: "complete", body };
    }
    let partial = this.partials.get(from);
    if (body.chunkOffset === 0) {
      partial = { term: body.term, index, buffer: new Uint8Array(total), received: 0 };
      this.partials.set(from, partial);
    }
    if (partial === undefined || partial.term !== body.term || partial.index !== index || partial.buffer.length !== total || partial.received !== body.chunkOffset) {
      this.partials.delete(from);
      return { kind: "dropped", reason: "chunk does not continue the snapshot in progress" };
    }
    if (body.chunkOffset + body.data.length > total) {
      this.partials.delete(from);
      return { kind: "dropped", reason: "chunk runs past the snapshot's size" };
    }
    partial.buffer.set(body.data, body.chunkOffset);
    partial.received += body.data.length;
    if (partial.received < total) return { kind: "partial" };
    this.partials.delete(from);
    return { kind: "complete", body: { ...body, data: partial.buffer, chunkOffset: 0, totalBytes: total } };
  }

  /** Bytes held by partial snapshots (for status and tests). */
  get bytesHeld(): number {
    let bytes = 0;
    for (const partial of this.partials.values()) bytes += partial.buffer.length;
    return bytes;
  }
}

/** What SnapshotSender needs from the connection manager. */
export interface ChunkTransport {
  send(to: string, body: InstallSnapshotBody): boolean;
}

export class SnapshotSender {
  private readonly pending = new Map<string, InstallSnapshotBody[]>();

  constructor(
    private readonly transport: ChunkTransport,
    private readonly chunkBytes: number,
  ) {}

  /** Starts sending `body` to `to` (replacing any snapshot still in progress to that peer). */
  send(to: string, body: InstallSnapshotBody): void {
    this.pending.set(to, splitSnapshot(body, this.chunkBytes));
    this.pump(to);
  }

  /** The manager's queue to `to` has room again. */
  drained(to: string): void {
    this.pump(to);
  }

  private pump(to: string): void {
    const chunks = this.pending.get(to);
    if (chunks === undefined) return;
    while (chunks.length > 0) {
      if (!this.transport.send(to, chunks[0]!)) return; // wait for drained(to)
      chunks.shift();
    }
    this.pending.delete(to);
  }

  get peersInProgress(): number {
    return this.pending.size;
  }
}
