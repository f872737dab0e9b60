/**
 * The runtime's side of application snapshots: writes the state machine's snapshot into a
 * snapshot file and restores the state machine from one, a chunk at a time, so that no whole
 * snapshot is ever held in memory (only the state machine's own state is).
 *
 * Consistency: save() must see one state. It asks the state machine for its chunks before its
 * first await, and QueueStateMachine.snapshotChunks freezes the state at that moment, so
 * RaftNode runs save() beside its Ready loop and goes on applying entries while it writes.
 */
import type { SnapshotData, SnapshotMeta } from "../raft/types";
import type { FileStorage } from "../storage/file-storage";
import { SnapshotFileData } from "../storage/snapshot-files";
import { assert } from "../util/assert";

/** What RaftNode needs to take and install application snapshots. */
export interface SnapshotHost {
  /** Writes the state machine's state (as of its last applied entry, meta.index) durably. */
  save(meta: SnapshotMeta): Promise<SnapshotData>;
  /** Replaces the state machine's state with the snapshot's (checked before it is swapped in). */
  restore(data: SnapshotData): Promise<void>;
}

/** A state machine that snapshots and restores in chunks (QueueStateMachine). */
export interface ChunkedStateMachine {
  readonly lastApplied: number;
  /** With reuseChunks a chunk's buffer may be refilled once the next chunk is taken. */
  snapshotChunks(chunkBytes: number, options?: { reuseChunks?: boolean }): { totalBytes: number; chunks: Iterable<Uint8Array> };
  beginRestore(): { push(chunk: Uint8Array): void; finish(): void };
}

/**
 * save() encodes at most this much per turn of the event loop. The encoder runs on the loop, so
 * one chunk's encode is how long raft traffic waits behind a snapshot: measured in raftd under
 * the c64 bench, 1 MiB chunks took 10-39 ms each (three nodes encoding at once on two cores) and
 * held commits back by as much; 128 KiB chunks take 0.4-5 ms once the encoder is warm.
 */
export const SAVE_CHUNK_BYTES_MAX = 128 * 1024;

export class FileSnapshotHost implements SnapshotHost {
  constructor(
    private readonly storage: FileStorage,
    private readonly machine: ChunkedStateMachine,
    /** Bytes per file read in restore() and, up to SAVE_CHUNK_BYTES_MAX, per chunk in save(). */
    private readonly chunkBytes: number,
  ) {}

  async save(meta: SnapshotMeta): Promise<SnapshotData> {
    // The machine sees only "normal" entries: when the entries just before meta.index are a
    // leader's no-op or a config change, its lastApplied is below meta.index and its state is
    // still the state at meta.index (those entries do not change it).
    assert(this.machine.lastApplied <= meta.index, "the state machine is not ahead of the snapshot's index");
    // Each chunk is written before the next is taken, so the encoder may refill its buffer.
    const chunkBytes = Math.min(this.chunkBytes, SAVE_CHUNK_BYTES_MAX);
    const { totalBytes, chunks } = this.machine.snapshotChunks(chunkBytes, { reuseChunks: true });
    const writer = await this.storage.beginSnapshot(meta, totalBytes);
    try {
      let offset = 0;
      for (const chunk of chunks) {
        const written = await writer.write(offset, chunk);
        assert(written, "chunks written in order are accepted");
        offset += chunk.length;
      }
    } catch (error) {
      await writer.abort(); // then report the write's error; an abort failure leaves a .tmp that load() deletes
      throw error;
    }
    return this.storage.snapshotData(await writer.finish());
  }

  async restore(data: SnapshotData): Promise<void> {
    assert(data instanceof SnapshotFileData, "raftd's snapshots are files");
    const reader = await data.openReader();
    try {
      const restore = this.machine.beginRestore();
      // chunks() checks the file's checksum after the last chunk, before finish() swaps the state.
      for await (const chunk of reader.chunks(this.chunkBytes)) restore.push(chunk.data);
      restore.finish();
    } finally {
      await reader.close();
    }
  }
}
