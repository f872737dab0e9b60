/**
 * ClusterClient: the library behind raftctl and the bench's load generator.
 *
 * It talks the framed protobuf protocol to any node of a cluster and hides three things:
 *   - Redirects. Only the leader serves; a follower answers RAFT_NOT_LEADER with the leader's
 *     address when it knows it, and the client retries there (or at the next address it was
 *     given when the leader is unknown). Nodes never forward.
 *   - Retries. A call that timed out, lost its connection or was dropped by a leader change is
 *     sent again, for queue commands with the SAME clientId and seq, so the state machine
 *     executes it once and answers the cached result (src/queue/state-machine.ts, "Sessions").
 *   - The deadline. Every call ends by `timeoutMs` (RPC_TIMEOUT) after a bounded number of
 *     attempts, with jittered backoff between attempts that found no leader.
 *
 * One outstanding queue command per ClusterClient keeps seq semantics simple ("a client has at
 * most one command outstanding"); the bench uses one ClusterClient per concurrent stream.
 */
import crypto from "node:crypto";
import { ConnectionManager, type WireMessage } from "../wire";
import type { ExecuteReply, ErrorReply } from "../wire/schema.generated";
import { assert } from "../util/assert";
import { RaftmqError, isRaftmqError, type ErrorCode } from "../util/errors";
import type { Rng } from "../util/rng";
import type { WireLogger } from "../wire";

export type QueueOpName = "enqueue" | "dequeue" | "peek" | "length";

export const queueOpCodes: Record<QueueOpName, number> = { enqueue: 1, dequeue: 2, peek: 3, length: 4 };

export interface ClusterClientOptions {
  /** Addresses ("host:port") of some or all nodes. */
  cluster: string[];
  /** Overall deadline of one call, retries included. */
  timeoutMs: number;
  /** Deadline of one attempt (default a quarter of timeoutMs, within [1 s, 10 s]). */
  attemptTimeoutMs?: number;
  /** Fresh per client incarnation; default: 16 random hex digits from rng. */
  clientId?: string;
  rng: Rng;
  logger?: WireLogger;
  /** Share this client-side manager (see createClientManager) instead of opening one's own. */
  manager?: ConnectionManager;
  /** Optional progress callback for redirects and retries (raftctl prints them at --verbose). */
  onRetry?: (event: { target: string; code: string; attempt: number }) => void;
}

/** Errors after which the same request may be sent again (to the same or another node). */
const retryableCodes = new Set<string>([
  "RAFT_NOT_LEADER",
  "RAFT_PROPOSAL_DROPPED",
  "RAFT_TRANSFER_IN_PROGRESS",
  "RAFT_CONFIG_CHANGE_IN_PROGRESS",
  "RPC_TIMEOUT",
  "CONNECTION_CLOSED",
  "WIRE_QUEUE_FULL",
  "STORAGE_BUSY",
]);

const quietLogger: WireLogger = { info: () => undefined, warn: () => undefined };

const attemptsMax = 64;
const backoffMsMin = 20;
const backoffMsMax = 500;

export class ClusterClient {
  clientId: string;
  private readonly options: ClusterClientOptions;
  private readonly manager: ConnectionManager;
  private readonly ownsManager: boolean;
  private leader: string | null = null;
  private nextTarget = 0;
  private seq = 0;
  private closed = false;

  constructor(options: ClusterClientOptions) {
    assert(options.cluster.length > 0, "a client needs at least one address");
    this.options = options;
    this.clientId = options.clientId ?? randomHex(options.rng, 16);
    this.ownsManager = options.manager === undefined;
    this.manager = options.manager ?? createClientManager({ rng: options.rng, rpcTimeoutMs: this.attemptTimeoutMs(), ...(options.logger === undefined ? {} : { logger: options.logger }) });
  }

  /** One attempt gets a quarter of the deadline, within [1 s, 10 s] (slow links need long ones). */
  private attemptTimeoutMs(): number {
    const share = Math.min(10_000, Math.max(1_000, Math.floor(this.options.timeoutMs / 4)));
    return Math.min(this.options.timeoutMs, this.options.attemptTimeoutMs ?? share);
  }

  /** The node believed to lead, or null. */
  get knownLeader(): string | null {
    return this.leader;
  }

  /**
   * Runs a queue command exactly once (retries reuse clientId and seq). Only enqueue and
   * dequeue are numbered: peek and length are reads that never reach the state machine, whose
   * sessions expect seq 1, 2, 3, ... of applied commands. A command whose outcome stayed
   * unknown (the call failed) makes this client take a fresh clientId for the next one, and
   * SESSION_EXPIRED (the command was not executed) is retried once under a fresh clientId.
   */
  async execute(op: QueueOpName, queue: string, value = ""): Promise<ExecuteReply> {
    const numbered = op === "enqueue" || op === "dequeue";
    for (let renewals = 0; ; renewals++) {
      if (numbered) this.seq += 1;
      const message: WireMessage = {
        type: "ExecuteRequest",
        body: { op: queueOpCodes[op], queue, value, clientId: this.clientId, seq: numbered ? this.seq : 0 },
      };
      try {
        const reply = await this.call(message);
        if (reply.type !== "ExecuteReply") throw unexpected(reply);
        return reply.body;
      } catch (error) {
        if (!numbered || !isRaftmqError(error)) throw error;
        if (error.code === "SESSION_EXPIRED" && renewals === 0) {
          this.renewSession();
          continue;
        }
        // The outcome is unknown (timeout) or known to be a refusal: either way the next
        // command must not depend on this session's history.
        if (error.code === "RPC_TIMEOUT" || error.code === "SESSION_EXPIRED") this.renewSession();
        throw error;
      }
    }
  }

  private renewSession(): void {
    this.clientId = randomHex(this.options.rng, 16);
    this.seq = 0;
  }

  /**
   * Sends `message` to the leader, following redirects and retrying until the deadline.
   * Resolves with the first non-error reply; rejects with a RaftmqError carrying the server's
   * code (EMPTY, VALUE_TOO_LARGE, ...) or RPC_TIMEOUT when the deadline passed.
   */
  async call(message: WireMessage): Promise<WireMessage> {
    if (this.closed) throw new RaftmqError("MANAGER_CLOSED", "client is closed");
    const deadline = Date.now() + this.options.timeoutMs;
    // Built only on the way out (a stack per call is too dear on the hot path).
    const timeoutMessage = `no answer from the cluster within ${this.options.timeoutMs} ms`;
    let lastError: RaftmqError | null = null;
    for (let attempt = 1; attempt <= attemptsMax; attempt++) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      const target = this.pickTarget();
      let reply: WireMessage;
      try {
        reply = await this.manager.call(target, message, { timeoutMs: Math.min(remainingMs, this.attemptTimeoutMs()) });
      } catch (error) {
        if (!isRaftmqError(error)) throw error;
        if (!retryableCodes.has(error.code)) throw error;
        lastError = error;
        this.forget(target);
        this.options.onRetry?.({ target, code: error.code, attempt });
        await this.backoff(attempt, deadline);
        continue;
      }
      if (reply.type !== "ErrorReply") {
        this.leader = target;
        return reply;
      }
      const error = errorFromReply(reply.body);
      if (!retryableCodes.has(error.code)) throw error;
      lastError = error;
      this.options.onRetry?.({ target, code: error.code, attempt });
      if (error.code === "RAFT_NOT_LEADER" && reply.body.leaderAddress !== "" && reply.body.leaderAddress !== target) {
        this.leader = reply.body.leaderAddress;
        continue; // a redirect: go there at once
      }
      this.forget(target);
      await this.backoff(attempt, deadline);
    }
    if (lastError !== null) {
      throw new RaftmqError("RPC_TIMEOUT", `${timeoutMessage} (last error: ${lastError.code}: ${lastError.message})`, {
        cause: lastError,
      });
    }
    throw new RaftmqError("RPC_TIMEOUT", timeoutMessage);
  }

  private pickTarget(): string {
    if (this.leader !== null) return this.leader;
    const cluster = this.options.cluster;
    const target = cluster[this.nextTarget % cluster.length];
    this.nextTarget += 1;
    assert(target !== undefined, "cluster list is not empty");
    return target;
  }

  private forget(target: string): void {
    if (this.leader === target) this.leader = null;
  }

  private async backoff(attempt: number, deadline: number): Promise<void> {
    const ceiling = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(attempt, 8));
    const delayMs = Math.min(Math.max(0, deadline - Date.now()), backoffMsMin + this.options.rng.nextInt(ceiling));
    if (delayMs <= 0) return;
    await new Promise<void>((resolve) => setTimeout(resolve, delayMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsManager) await this.manager.close();
  }
}

/**
 * A client-side ConnectionManager. Many ClusterClients may share one (option `manager`): their
 * calls then travel over one connection per node, and the node's replies to them leave in one
 * write per event-loop turn instead of one per client. The owner closes it after the clients.
 */
export function createClientManager(options: { rng: Rng; rpcTimeoutMs: number; logger?: WireLogger }): ConnectionManager {
  return new ConnectionManager(
    {
      clusterId: "",
      // The wire drops frames it has seen from a (node id, incarnation) pair, so both come from
      // the OS, not from the seeded rng: two clients seeded alike must never look like one.
      nodeId: `client-${crypto.randomBytes(8).toString("hex")}`,
      incarnation: crypto.randomInt(1, 2 ** 48 - 1),
      role: "client",
      rng: options.rng,
      rpcTimeoutMsDefault: options.rpcTimeoutMs,
      reconnectAttemptsMax: 2,
      // Clients stay quiet unless asked: raftctl --json owns stdout, and a client sees many
      // expected connection losses while a cluster fails over.
      logger: options.logger ?? quietLogger,
    },
    () => {
      // Clients receive only replies to their calls; the manager routes those itself.
    },
  );
}

export function errorFromReply(reply: ErrorReply): RaftmqError {
  return new RaftmqError(reply.code as ErrorCode, reply.message, {
    details: reply.leaderAddress === "" ? {} : { leader: reply.leaderAddress },
  });
}

function unexpected(reply: WireMessage): RaftmqError {
  return new RaftmqError("WIRE_DECODE", `unexpected reply ${reply.type}`);
}

function randomHex(rng: Rng, digits: number): string {
  let text = "";
  while (text.length < digits) text += rng.nextU32().toString(16).padStart(8, "0");
  return text.slice(0, digits);
}
