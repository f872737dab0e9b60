/**
 * The whole replicated state of the queue service, as one plain record shared by the state
 * machine (which changes it) and the snapshot codec (which serialises it). Nothing else.
 */
import { Fifo } from "./fifo";
import { SessionTable } from "./sessions";

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
