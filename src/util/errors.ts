/**
 * Typed operating errors (STYLE.md §5). Every error a user or a peer can cause carries a stable
 * `code`; raftctl prints the code, tests assert on it. Messages are for humans and may change.
 */
export type ErrorCode =
  // wire
  | "WIRE_BAD_MAGIC"
  | "WIRE_BAD_VERSION"
  | "WIRE_HEADER_CHECKSUM"
  | "WIRE_BODY_CHECKSUM"
  | "WIRE_FRAME_TOO_LARGE"
  | "WIRE_DECODE"
  | "WIRE_UNKNOWN_TYPE"
  | "WIRE_CLUSTER_MISMATCH"
  | "WIRE_HANDSHAKE"
  | "WIRE_QUEUE_FULL"
  | "RPC_TIMEOUT"
  | "CONNECTION_CLOSED"
  | "MANAGER_CLOSED"
  // raft
  | "RAFT_NOT_LEADER"
  | "RAFT_PROPOSAL_DROPPED"
  | "RAFT_TRANSFER_IN_PROGRESS"
  | "RAFT_CONFIG_CHANGE_IN_PROGRESS"
  // storage
  | "STORAGE_CORRUPT"
  | "STORAGE_IO"
  | "STORAGE_BUSY"
  | "STORAGE_TOO_LARGE"
  // queue and client
  | "EMPTY"
  | "VALUE_TOO_LARGE"
  | "BAD_REQUEST"
  | "QUEUE_FULL"
  | "STALE_SEQUENCE"
  | "SESSION_EXPIRED"
  | "SNAPSHOT_CORRUPT"
  | "CONFIG_INVALID"
  // admin endpoint (src/admin, raftctl dashboard)
  | "ADMIN_UNAVAILABLE";

export class RaftmqError extends Error {
  override name = "RaftmqError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? {};
  }
}

export function isRaftmqError(error: unknown, code?: ErrorCode): error is RaftmqError {
  return error instanceof RaftmqError && (code === undefined || error.code === code);
}
