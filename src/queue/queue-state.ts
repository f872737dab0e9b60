/**
 * The whole replicated state of the queue service, as one plain record shared by the state
 * machine (which changes it) and the snapshot codec (which serialises it). Nothing else.
 */
import { Fifo, type FrozenFifo } from "./fifo";
import { SessionTable, type Session } from "./sessions";

export interface QueueState {
  /** Invariant: index of the last entry handed to apply() (0 before any). */
  lastApplied: number;
  /** Invariant: max proposedAtMs of all decodable applied commands (0 before any); never decreases. */
  clockMs: number;
  /** Invariant: holds only non-empty queues; a queue exists from its first message to its last. */
  queues: Map<string, Fifo>;
  sessions: SessionTable;
  /** Invariant: sum of queue counts. */
  messageCount: number;
  /** Invariant: sum of queue value bytes. */
  valueBytesTotal: number;
}

export function emptyQueueState(): QueueState {
  return {
    lastApplied: 0,
    clockMs: 0,
    queues: new Map(),
    sessions: new SessionTable(),
    messageCount: 0,
    valueBytesTotal: 0,
  };
}

/** What a snapshot reads: the live state, or a view frozen at one applied index. */
export interface SnapshotView {
  readonly lastApplied: number;
  readonly clockMs: number;
  readonly queues: ReadonlyMap<string, FrozenFifo>;
  readonly sessions: { readonly size: number; values(): IterableIterator<Session> };
}

/**
 * The state as it is now, for a snapshot written while entries go on being applied. Cost:
 * O(queues + sessions) (each session copied; the fifos' contents are not, see Fifo.freeze).
 */
export function freezeQueueState(state: QueueState): SnapshotView {
  const queues = new Map<string, FrozenFifo>();
  for (const [name, fifo] of state.queues) queues.set(name, fifo.freeze());
  const sessions: Session[] = [];
  for (const session of state.sessions.values()) sessions.push({ ...session });
  return { lastApplied: state.lastApplied, clockMs: state.clockMs, queues, sessions: { size: sessions.length, values: () => sessions.values() } };
}
