/**
 * Values exchanged with the queue state machine: commands (what a committed log entry asks for)
 * and results (what applying it produced). Results are plain values (STYLE.md §5): expected
 * outcomes such as EMPTY or QUEUE_FULL are `{ ok: false, error }`, never exceptions. The runtime
 * turns `error` into `new RaftmqError(error, ...)` for the client.
 */

/**
 * clientId: 1..64 printable ASCII bytes chosen by the client, fresh for every client incarnation
 *           (e.g. 16+ random hex digits); never reused after SESSION_EXPIRED.
 * seq:      the client's command number, 1, 2, 3, ... (safe integer). A client has at most one
 *           command outstanding and retries it with the SAME seq until it gets an answer.
 * proposedAtMs: wall-clock ms stamped by the leader when it proposes; the only time source of
 *           the state machine (STYLE.md §2).
 */
export interface CommandBase {
  queue: string;
  clientId: string;
  seq: number;
  proposedAtMs: number;
}

export interface EnqueueCommand extends CommandBase {
  op: "enqueue";
  value: string;
}

export interface DequeueCommand extends CommandBase {
  op: "dequeue";
}

export type QueueCommand = EnqueueCommand | DequeueCommand;
export type QueueOp = QueueCommand["op"];

/** Error codes an applied command can produce (a subset of ErrorCode in src/util/errors.ts). */
export type ApplyErrorCode =
  | "EMPTY"
  | "VALUE_TOO_LARGE"
  | "QUEUE_FULL"
  | "STALE_SEQUENCE"
  | "SESSION_EXPIRED"
  | "BAD_REQUEST";

/**
 * enqueue ok: `index` is the log index of the entry that enqueued the message (its cluster-wide id).
 * dequeue ok: the message taken and the `index` it was enqueued at.
 * A retried command (same clientId and seq) returns the very same result as the first time.
 */
export type ApplyResult =
  | { readonly ok: true; readonly op: "enqueue"; readonly index: number }
  | { readonly ok: true; readonly op: "dequeue"; readonly index: number; readonly value: string }
  | { readonly ok: false; readonly error: ApplyErrorCode };

export type PeekResult = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: "EMPTY" };
