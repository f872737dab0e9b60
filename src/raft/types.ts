/**
 * The vocabulary shared by the raft core, its runtime shell, storage and the simulator.
 *
 * This file is the contract between layers: src/raft (the pure core) produces and consumes these
 * values; src/storage persists them; the node runtime converts RaftMessage to and from the wire
 * schema (src/wire/raftmq.proto mirrors these shapes field for field). Add fields, never rename.
 *
 * Words follow the Raft paper (§5): term, index, commitIndex, lastApplied, votedFor, nextIndex,
 * matchIndex. Indexes start at 1; index 0 / term 0 is the empty log's sentinel.
 */

/** A node's identity: its advertised "host:port". */
export type NodeId = string;

/**
 * normal: an application command (opaque bytes for src/queue).
 * noop:   appended by every new leader so it can commit entries of earlier terms (§5.4.2, §8).
 * config: a membership change; `data` is encodeConfig(ClusterConfig) of the NEW configuration,
 *         which takes effect on every node as soon as the entry is appended to its log (§4.1 of
 *         the thesis: single-server changes).
 */
export type EntryKind = "normal" | "noop" | "config";

export interface LogEntry {
  index: number;
  term: number;
  kind: EntryKind;
  data: Uint8Array;
}

/** Voters count toward quorums; learners receive the log but neither vote nor count. */
export interface ClusterConfig {
  voters: NodeId[];
  learners: NodeId[];
}

/** What must be durable before any message that depends on it leaves the node (§5.1, Figure 2). */
export interface HardState {
  term: number;
  votedFor: NodeId | null;
  commitIndex: number;
}

export interface SnapshotMeta {
  /** Last index covered by the snapshot (entries <= index are compacted away). */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** Configuration in force at `index`. */
  config: ClusterConfig;
}

/**
 * The application's state at a snapshot's index, opaque to raft: the core only keeps it and
 * hands it back (in InstallSnapshot, Ready.snapshot, RaftStorage). What it is belongs to the
 * host: raftd's is a reference to a durable snapshot file (src/storage/snapshot-files.ts
 * SnapshotFileData), so no layer holds a whole snapshot in memory; the simulator's and the unit
 * tests' are plain bytes (a Uint8Array is a SnapshotData).
 */
export interface SnapshotData {
  /** Size of the application's bytes. */
  readonly byteLength: number;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application's state at meta.index (opaque to raft). */
  data: SnapshotData;
}

interface MessageBase {
  from: NodeId;
  to: NodeId;
  term: number;
}

/** §5.2; preVote: thesis §9.6 (does not bump terms); transfer: thesis §3.10 (ignore leases). */
export interface RequestVote extends MessageBase {
  type: "RequestVote";
  lastLogIndex: number;
  lastLogTerm: number;
  preVote: boolean;
  transfer: boolean;
}

export interface RequestVoteResponse extends MessageBase {
  type: "RequestVoteResponse";
  granted: boolean;
  preVote: boolean;
}

/** §5.3. Empty `entries` is a heartbeat. `readContext` > 0 carries a ReadIndex round (thesis §6.4). */
export interface AppendEntries extends MessageBase {
  type: "AppendEntries";
  prevLogIndex: number;
  prevLogTerm: number;
  entries: LogEntry[];
  leaderCommit: number;
  readContext: number;
}

/**
 * On success, matchIndex is the index of the follower's last entry known to match the leader's.
 * On rejection, matchIndex carries the rejected prevLogIndex (0 in a reply to a stale-term
 * leader, which also has success false), and conflictTerm/conflictIndex let the leader skip a whole term at once (§5.3's
 * "optimization", thesis §5.3 "fast backtracking"): conflictTerm is the follower's term at
 * prevLogIndex (0 if its log is too short) and conflictIndex the first index it holds of that
 * term (or its last index + 1 when too short).
 */
export interface AppendEntriesResponse extends MessageBase {
  type: "AppendEntriesResponse";
  success: boolean;
  matchIndex: number;
  conflictIndex: number;
  conflictTerm: number;
  readContext: number;
}

/**
 * §7. The core sees one message carrying the whole snapshot (as an opaque SnapshotData); raftd
 * streams its file in chunks (src/node/snapshot-chunks.ts) and the follower's core gets the
 * message only once the file is complete and durable.
 */
export interface InstallSnapshot extends MessageBase {
  type: "InstallSnapshot";
  snapshot: Snapshot;
}

export interface InstallSnapshotResponse extends MessageBase {
  type: "InstallSnapshotResponse";
  /** The follower's last index after handling the snapshot (meta.index on success). */
  matchIndex: number;
}

/** Thesis §3.10: the leader tells a caught-up follower to start an election at once. */
export interface TimeoutNow extends MessageBase {
  type: "TimeoutNow";
}

export type RaftMessage =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow;

export type RaftMessageType = RaftMessage["type"];

export type Role = "follower" | "precandidate" | "candidate" | "leader" | "learner";

/** A linearizable read is safe once the state machine has applied `index` (thesis §6.4). */
export interface ReadState {
  requestId: number;
  index: number;
}

/**
 * The work the shell must do, in this order (STYLE.md §2):
 *   1. persist `hardState`, `entries` and `snapshot` durably (entries[0].index may be <= the last
 *      persisted index: truncate the persisted log from there first);
 *   2. send `messages` (they may depend on step 1: votes, append acks);
 *   3. restore `snapshot` into the state machine if non-null, then apply `committed` in order;
 *   4. answer `readStates` once lastApplied >= index;
 *   5. call advance(ready).
 */
export interface Ready {
  hardState: HardState | null;
  entries: LogEntry[];
  snapshot: Snapshot | null;
  messages: RaftMessage[];
  committed: LogEntry[];
  readStates: ReadState[];
}

/** Expected outcomes are values, not exceptions (STYLE.md §5). */
export type ProposeResult =
  | { ok: true; index: number; term: number }
  | { ok: false; reason: "not-leader"; leaderHint: NodeId | null }
  | { ok: false; reason: "transfer-in-progress"; leaderHint: NodeId | null }
  | { ok: false; reason: "config-change-in-progress"; leaderHint: NodeId | null }
  | { ok: false; reason: "too-many-pending"; leaderHint: NodeId | null };

export type ConfigChange =
  | { type: "add-learner"; node: NodeId }
  | { type: "promote"; node: NodeId }
  | { type: "remove"; node: NodeId };

/** What is durable, handed to the core at construction (after a crash-restart too). */
export interface PersistentState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after snapshot.meta.index (or from index 1), contiguous. */
  entries: LogEntry[];
}

/**
 * Storage for one node's raft state. src/storage implements it on disk (write-ahead log and
 * snapshot files); the simulator implements it in memory, modelling lost unsynced writes.
 * A promise resolves only when what it wrote is durable.
 */
export interface RaftStorage {
  load(): Promise<PersistentState>;
  /** Truncate the log from entries[0].index if needed, append entries, then record hardState. */
  persist(hardState: HardState | null, entries: LogEntry[], snapshot: Snapshot | null): Promise<void>;
  /** An application snapshot taken at snapshot.meta.index: keep it and drop log entries <= it. */
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}
