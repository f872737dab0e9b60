/**
 * ClientService: answers client requests (raftctl, the bench, joining nodes) on a raftd.
 *
 * Served only by the leader (issue 5): any other node answers ErrorReply RAFT_NOT_LEADER with
 * the leader's address when it knows it, and never forwards. Queue commands are proposed to raft
 * and answered after they are applied, i.e. after a majority acknowledged them; peek and length
 * are linearizable reads through ReadIndex. Every request is validated before it touches raft:
 * bad input is answered with BAD_REQUEST / VALUE_TOO_LARGE and the node keeps serving.
 */
import type { RaftCore } from "../raft/core";
import { decodeConfig } from "../raft/membership";
import type { ConfigChange, LogEntry, NodeId } from "../raft/types";
import {
  describeCommand,
  encodeProposal,
  validateQueueName,
  type ApplyResult,
  type QueueCommand,
  type QueueStateMachine,
} from "../queue";
import { RaftmqError, isRaftmqError } from "../util/errors";
import type { InboundMessage, WireMessage } from "../wire";
import type { ExecuteRequest, JoinRequest, LogEntryView, LogRequest, MemberStatus, StatusReply } from "../wire/schema.generated";
import type { NodeLogger } from "./node-logger";
import type { ProposalCallback, ProposalOutcome, RaftNode } from "./raft-node";

export const logPageEntriesMax = 10_000;

export interface ClientServiceOptions {
  node: RaftNode<ApplyResult>;
  core: RaftCore;
  stateMachine: QueueStateMachine;
  clusterId: string;
  logger: NodeLogger;
  /** The wall clock the leader stamps into commands (src/queue never reads a clock). */
  nowMs: () => number;
}

const opNames = ["", "enqueue", "dequeue", "peek", "length"] as const;

/** Requests (a command and its retries) that may wait for one logged command; the oldest goes first. */
const joinedRequestsMax = 16;

/** How a request is answered: (null, reply) or (error, null). */
type Answer = (error: unknown, message: WireMessage | null) => void;

/** Answers with what `reply` settles to (requests served by async code). */
function answerWhenSettled(reply: Promise<WireMessage>, answer: Answer): void {
  reply.then(
    (message) => answer(null, message),
    (error: unknown) => answer(error, null),
  );
}

interface Inflight {
  seq: number;
  waiting: ProposalCallback<ApplyResult>[];
}

export class ClientService {
  private readonly options: ClientServiceOptions;
  readonly stats = { requests: 0 };
  /**
   * Optional instrumentation (src/admin): called when a request arrives with its kind (the queue
   * op for ExecuteRequest, else the message type); its result is called with "ok" or the error
   * code when the reply is sent. Null costs nothing.
   */
  requestTimer: ((kind: string) => (result: string) => void) | null = null;

  /**
   * Commands proposed and not yet applied, by client: retries join them (see proposeOnce). Each
   * holds the callbacks of the requests waiting for it, at most joinedRequestsMax.
   */
  private readonly inflight = new Map<string, Inflight>();

  constructor(options: ClientServiceOptions) {
    this.options = options;
    options.node.on("role-change", () => this.onRoleChange());
  }

  /** Handles one inbound request; always replies exactly once (or the connection is gone). */
  handle(inbound: InboundMessage): void {
    const reply = inbound.reply;
    if (reply === null) return; // one-way client frames carry nothing we act on
    this.stats.requests += 1;
    const done = this.requestTimer === null ? null : this.requestTimer(requestKind(inbound.message));
    const answer: Answer = (error, message) => {
      if (error === null) {
        if (done !== null) done("ok");
        reply(message!);
        return;
      }
      if (!isRaftmqError(error)) throw error; // a bug: let it crash the process
      if (done !== null) done(error.code);
      this.options.logger.debug({ event: "client-error", code: error.code, client: inbound.from }, "request refused");
      reply(this.errorReply(error));
    };
    const message = inbound.message;
    if (message.type === "ExecuteRequest") {
      // Queue commands, the hot path, are answered through callbacks (see execute()).
      try {
        this.execute(message.body, inbound.from, answer);
      } catch (error) {
        answer(error, null);
      }
      return;
    }
    answerWhenSettled(this.dispatch(message), answer);
  }

  /** Every request but ExecuteRequest, which handle() gives to execute(). */
  private async dispatch(message: Exclude<WireMessage, { type: "ExecuteRequest" }>): Promise<WireMessage> {
    switch (message.type) {
      case "LogRequest":
        this.requireLeader();
        return this.log(message.body);
      case "StatusRequest":
        this.requireLeader();
        return { type: "StatusReply", body: this.statusBody() };
      case "ConfigChangeRequest":
        return this.configChange(message.body.type, message.body.node);
      case "TransferLeaderRequest":
        return this.transfer(message.body.target);
      case "JoinRequest":
        return this.join(message.body);
      default:
        throw new RaftmqError("BAD_REQUEST", `a node does not serve ${message.type} to clients`);
    }
  }

  private requireLeader(): void {
    // The core's fields, not status(): status() copies the whole progress table, per request.
    const core = this.options.core;
    if (core.role === "leader") return;
    const leader = core.leader;
    throw new RaftmqError("RAFT_NOT_LEADER", leader === null ? "not the leader; leader unknown" : `not the leader; try ${leader}`, {
      details: { leader },
    });
  }

  // ---------------------------------------------------------------- queue commands

  /**
   * Answers through a callback, not a promise, on purpose: on a busy leader the promises of
   * execute(), of the proposal and their handlers were about a sixth of the bytes allocated per
   * command (HeapProfiler sampling, bench/README.md). It throws RaftmqError for what it refuses
   * at once (handle() answers that).
   */
  private execute(request: ExecuteRequest, from: string, answer: Answer): void {
    const op = opNames[request.op];
    if (op === undefined || op === "") throw new RaftmqError("BAD_REQUEST", `unknown queue operation ${request.op}`);
    this.requireLeader();
    if (op === "peek" || op === "length") {
      answerWhenSettled(this.read(request, op), answer);
      return;
    }
    const machine = this.options.stateMachine;
    const command: QueueCommand =
      op === "enqueue"
        ? { op, queue: request.queue, value: request.value, clientId: request.clientId, seq: request.seq, proposedAtMs: this.options.nowMs() }
        : { op, queue: request.queue, clientId: request.clientId, seq: request.seq, proposedAtMs: this.options.nowMs() };
    const data = encodeProposal(command, machine.limits); // throws BAD_REQUEST / VALUE_TOO_LARGE
    if (this.options.logger.isDebug()) this.options.logger.debug({ event: "client-request", op, client: from, seq: request.seq }, "client request");
    this.proposeOnce(command, data, (error, outcome) => {
      if (error !== null) return answer(error, null);
      let message: WireMessage;
      try {
        message = commandReply(request, outcome!);
      } catch (replyError) {
        return answer(replyError, null);
      }
      answer(null, message);
    });
  }

  /** peek and length: served once a ReadIndex round confirms this node still leads. */
  private async read(request: ExecuteRequest, op: "peek" | "length"): Promise<WireMessage> {
    const queueError = validateQueueName(request.queue);
    if (queueError !== null) throw queueError;
    await this.options.node.readBarrier();
    const machine = this.options.stateMachine;
    if (op === "length") return { type: "ExecuteReply", body: emptyExecuteReply({ op: request.op, length: machine.length(request.queue) }) };
    const peeked = machine.peek(request.queue);
    if (!peeked.ok) throw new RaftmqError("EMPTY", `queue ${JSON.stringify(request.queue)} is empty`);
    return { type: "ExecuteReply", body: emptyExecuteReply({ op: request.op, value: peeked.value }) };
  }

  /**
   * Proposes a queue command unless it is a retry: a retry of an applied command is answered
   * from the session cache, and a retry of a command still in the log (proposed by us or by an
   * earlier leader) waits for that entry. So a retried command is logged once, not once per try,
   * except when its first entry was lost with a leader change (then the state machine's session
   * still executes it once).
   */
  private proposeOnce(command: QueueCommand, data: Uint8Array, done: ProposalCallback<ApplyResult>): void {
    const cached = this.options.stateMachine.cachedResult(command.clientId, command.seq);
    if (cached !== null) return done(null, { index: 0, result: cached });
    const pending = this.inflight.get(command.clientId);
    if (pending !== undefined && pending.seq === command.seq) {
      pending.waiting.push(done);
      if (pending.waiting.length > joinedRequestsMax) {
        // A client retries only after giving up on its previous try, so the oldest waiter's
        // client listens no more; it still gets its one answer, a retryable one.
        pending.waiting.shift()!(new RaftmqError("RAFT_PROPOSAL_DROPPED", "a newer retry of this command waits for its entry instead"), null);
      }
      return;
    }
    this.options.node.proposeThen(data, this.track(command.clientId, command.seq, done));
  }

  /** Records that clientId's command seq is in the log; returns the callback its end goes to. */
  private track(clientId: string, seq: number, first: ProposalCallback<ApplyResult> | null): ProposalCallback<ApplyResult> {
    const entry: Inflight = { seq, waiting: first === null ? [] : [first] };
    this.inflight.set(clientId, entry);
    return (error, outcome) => {
      if (this.inflight.get(clientId) === entry) this.inflight.delete(clientId);
      for (const done of entry.waiting) done(error, outcome);
    };
  }

  /** A new leader learns which commands its log holds but has not applied yet (see proposeOnce). */
  private onRoleChange(): void {
    const core = this.options.core;
    if (core.status().role !== "leader") {
      this.inflight.clear();
      return;
    }
    const log = core.log;
    const from = Math.max(this.options.node.lastApplied + 1, log.firstIndex());
    for (let index = from; index <= log.lastIndex(); index++) {
      const entry = log.entry(index);
      if (entry.kind !== "normal") continue;
      let described: { clientId: string; seq: number };
      try {
        described = describeCommand(entry.data);
      } catch (error) {
        if (!isRaftmqError(error)) throw error;
        continue; // an undecodable entry is applied as BAD_REQUEST; nobody retries it
      }
      this.options.node.awaitEntryThen(index, entry.term, this.track(described.clientId, described.seq, null));
    }
  }

  // ---------------------------------------------------------------- log and status

  private log(request: LogRequest): WireMessage {
    const log = this.options.core.log;
    const limit = request.limit === 0 ? logPageEntriesMax : Math.min(request.limit, logPageEntriesMax);
    const from = Math.max(request.fromIndex, log.firstIndex());
    const entries = from > log.lastIndex() ? [] : log.slice(from, limit, 64 * 1024 * 1024);
    return {
      type: "LogReply",
      body: {
        leader: this.options.core.id,
        entries: entries.map(viewOf),
        firstIndex: log.firstIndex(),
        lastIndex: log.lastIndex(),
        commitIndex: log.commitIndex,
      },
    };
  }

  statusBody(): StatusReply {
    const status = this.options.core.status();
    const members: MemberStatus[] = [];
    const all = [...status.config.voters.map((id) => ({ id, voter: true })), ...status.config.learners.map((id) => ({ id, voter: false }))];
    for (const { id, voter } of all) {
      const progress = status.progress[id];
      const self = id === status.id;
      let role = voter ? "follower" : "learner";
      if (id === status.leader) role = "leader";
      if (self && status.role === "candidate") role = "candidate";
      members.push({
        id,
        role,
        voter,
        reachable: self || progress?.recentActive === true,
        matchIndex: self ? status.lastIndex : (progress?.matchIndex ?? 0),
        nextIndex: progress?.nextIndex ?? 0,
      });
    }
    return {
      nodeId: status.id,
      role: status.role,
      term: status.term,
      leader: status.leader ?? "",
      commitIndex: status.commitIndex,
      lastApplied: this.options.node.lastApplied,
      lastIndex: status.lastIndex,
      snapshotIndex: status.snapshotIndex,
      members,
    };
  }

  // ---------------------------------------------------------------- membership

  private async configChange(type: number, node: string): Promise<WireMessage> {
    const change = configChangeOf(type, node);
    this.requireLeader();
    const { index } = await this.options.node.proposeConfigChange(change);
    this.options.logger.info({ event: "membership", change: change.type, peer: node, index }, "membership change committed");
    const config = this.options.core.status().config;
    return { type: "ConfigChangeReply", body: { index, config } };
  }

  private async transfer(target: string): Promise<WireMessage> {
    if (target === "") throw new RaftmqError("BAD_REQUEST", "transfer-leader needs a target HOST:PORT");
    this.requireLeader();
    this.options.node.transferLeadership(target);
    const status = this.options.core.status();
    return { type: "TransferLeaderReply", body: { leader: status.leader ?? "", term: status.term } };
  }

  /**
   * A node asks to be added. Fresh (empty data dir) under an address that is still a member:
   * the old member is removed first, and only once that removal committed is the address added
   * back as a learner. The old incarnation's votes then count in no configuration the new one
   * can vote in, so a node that forgot its vote can never vote twice in a term (ARCHITECTURE.md).
   */
  private async join(request: JoinRequest): Promise<WireMessage> {
    const node = request.nodeId;
    if (!/^[^\s]+:\d{1,5}$/.test(node)) throw new RaftmqError("BAD_REQUEST", `join: bad node id ${JSON.stringify(node)}`);
    this.requireLeader();
    if (node === this.options.core.id) throw new RaftmqError("BAD_REQUEST", `join: ${node} is this leader's own address`);
    const config = this.options.core.status().config;
    const member = config.voters.includes(node) || config.learners.includes(node);
    if (member && request.fresh) {
      this.options.logger.info({ event: "member-replace", peer: node }, "fresh node under a member's address: replacing it");
      await this.options.node.proposeConfigChange({ type: "remove", node });
    }
    let index = 0;
    if (!member || request.fresh) {
      index = (await this.options.node.proposeConfigChange({ type: "add-learner", node })).index;
      this.options.logger.info({ event: "membership", change: "add-learner", peer: node, index }, "node joined as learner");
    }
    const status = this.options.core.status();
    return { type: "JoinReply", body: { clusterId: this.options.clusterId, leader: status.leader ?? "", config: status.config, index } };
  }

  // ---------------------------------------------------------------- errors

  errorReply(error: RaftmqError): WireMessage {
    const leader = typeof error.details.leader === "string" ? error.details.leader : "";
    return { type: "ErrorReply", body: { code: error.code, message: error.message, leaderId: leader, leaderAddress: leader } };
  }
}

function requestKind(message: WireMessage): string {
  if (message.type !== "ExecuteRequest") return message.type;
  return opNames[message.body.op] || "unknown";
}

function emptyExecuteReply(fields: Partial<{ op: number; index: number; value: string; length: number; entryIndex: number }>): {
  op: number;
  index: number;
  value: string;
  length: number;
  entryIndex: number;
} {
  return { op: 0, index: 0, value: "", length: 0, entryIndex: 0, ...fields };
}

function configChangeOf(type: number, node: string): ConfigChange {
  if (!/^[^\s]+:\d{1,5}$/.test(node)) throw new RaftmqError("BAD_REQUEST", `expected HOST:PORT, got ${JSON.stringify(node)}`);
  switch (type) {
    case 1:
      return { type: "add-learner", node: node as NodeId };
    case 2:
      return { type: "promote", node: node as NodeId };
    case 3:
      return { type: "remove", node: node as NodeId };
    default:
      throw new RaftmqError("BAD_REQUEST", `unknown membership change ${type}`);
  }
}

/** The reply to an enqueue or dequeue once its entry was applied; throws what the client gets as an error. */
function commandReply(request: ExecuteRequest, outcome: ProposalOutcome<ApplyResult>): WireMessage {
  const { index, result } = outcome;
  if (result === null) throw new RaftmqError("BAD_REQUEST", "command was not applied as a queue command");
  if (!result.ok) throw new RaftmqError(result.error, applyErrorMessage(result.error, request.queue));
  if (result.op === "enqueue") return { type: "ExecuteReply", body: emptyExecuteReply({ op: request.op, index: result.index, entryIndex: index }) };
  return { type: "ExecuteReply", body: emptyExecuteReply({ op: request.op, index: result.index, value: result.value, entryIndex: index }) };
}

function applyErrorMessage(code: string, queue: string): string {
  switch (code) {
    case "EMPTY":
      return `queue ${JSON.stringify(queue)} is empty`;
    case "QUEUE_FULL":
      return "the queue is full (count or byte limit reached)";
    case "VALUE_TOO_LARGE":
      return "value exceeds the configured size limit";
    case "SESSION_EXPIRED":
      return "client session expired: start again with a new client id";
    case "STALE_SEQUENCE":
      return "an older sequence number than this client's last command";
    default:
      return `command failed: ${code}`;
  }
}

function viewOf(entry: LogEntry): LogEntryView {
  const view: LogEntryView = { index: entry.index, term: entry.term, kind: entry.kind, op: "", queue: "", value: "", clientId: "", seq: 0, config: null };
  if (entry.kind === "normal") {
    try {
      const described = describeCommand(entry.data);
      view.op = described.op;
      view.queue = described.queue;
      view.value = described.value ?? "";
      view.clientId = described.clientId;
      view.seq = described.seq;
    } catch (error) {
      if (!isRaftmqError(error)) throw error;
      view.op = "invalid"; // applied as BAD_REQUEST by every node; shown, not hidden
    }
  } else if (entry.kind === "config") {
    view.config = decodeConfig(entry.data);
    view.op = "config";
  }
  return view;
}
