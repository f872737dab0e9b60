/**
 * The JSON views behind the admin endpoint's GET /status and GET /log (issue 7).
 *
 * Both read the node's live objects (RaftCore, RaftNode, ClientService, QueueStateMachine) and
 * copy what they need; nothing here mutates them or awaits. Shapes are a contract for the
 * dashboard (src/admin/static) and for scripts: add fields, never rename.
 *
 *   /status  this node's view: role, term, leader, indexes, members (with the leader's progress
 *            per member: match index, lag, time since last contact), queue lengths, uptime,
 *            version, and the admin URL of this node and (when derivable) of each member.
 *   /log     a page of this node's log: at most logLimitMax entries, values cut at
 *            logValueCharsMax characters (the view is for eyes, not for replay).
 */
import type { RaftCore } from "../raft/core";
import { decodeConfig } from "../raft/membership";
import type { LogEntry } from "../raft/types";
import { describeCommand, type ApplyResult, type QueueStateMachine } from "../queue";
import type { ClientService } from "../node/client-service";
import type { RaftNode } from "../node/raft-node";
import { RaftmqError, isRaftmqError } from "../util/errors";

export const logLimitMax = 1000;
export const logLimitDefault = 50;
export const logValueCharsMax = 200;
/** Bytes of entries one /log page reads from the log at most. */
const logPageBytesMax = 8 * 1024 * 1024;
/** Queues listed in /status (and in metrics) at most. */
export const queuesListedMax = 100;

/** The live objects the admin endpoint reads. */
export interface AdminSources {
  node: RaftNode<ApplyResult>;
  core: RaftCore;
  service: ClientService;
  stateMachine: QueueStateMachine;
  /** ms per raft tick: turns RaftNode.lastHeardTick into time since last contact. */
  tickMs: number;
  version: string;
}

/** How this node's admin endpoint is reached, and how peers' are derived. */
export interface AdminAddressing {
  /** This node's admin base URL, e.g. http://127.0.0.1:8001 */
  selfUrl: string;
  /** With --admin auto: admin port = raft port + offset on every node; null otherwise. */
  portOffset: number | null;
}

export interface MemberView {
  id: string;
  role: string;
  voter: boolean;
  /** Leader only (null elsewhere, and for the leader itself its last index). */
  matchIndex: number | null;
  /** Leader's last index minus matchIndex (null when matchIndex is). */
  lag: number | null;
  /** ms since this node last received a raft message from the member (null: never), in whole
   * heartbeat intervals (the node counts ticks, not milliseconds). */
  lastContactMs: number | null;
  /** Leader only: the member answered within the last election timeout (null elsewhere). */
  reachable: boolean | null;
  /** The member's admin base URL when derivable (--admin auto, or this node). */
  adminUrl: string | null;
}

export interface StatusView {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  firstIndex: number;
  snapshotIndex: number;
  members: MemberView[];
  queues: Array<{ queue: string; length: number }>;
  messages: number;
  clientRequests: number;
  uptimeMs: number;
  /** The tick (heartbeat interval): lastContactMs is a whole number of these. */
  heartbeatMs: number;
  version: string;
  adminUrl: string;
  adminPortOffset: number | null;
}

/** Derives a member's admin URL from its raft address with the auto convention. */
export function adminUrlOf(raftAddress: string, portOffset: number | null): string | null {
  if (portOffset === null) return null;
  const match = /^(.*):(\d{1,5})$/.exec(raftAddress);
  if (match === null) return null;
  const port = Number(match[2]) + portOffset;
  if (port > 65535) return null;
  return `http://${match[1]}:${port}`;
}

export function buildStatus(sources: AdminSources, addressing: AdminAddressing, uptimeMs: number): StatusView {
  const { core, node } = sources;
  const status = core.status();
  const leading = status.role === "leader";
  const all = [...status.config.voters.map((id) => ({ id, voter: true })), ...status.config.learners.map((id) => ({ id, voter: false }))];
  const members: MemberView[] = all.map(({ id, voter }) => {
    const self = id === status.id;
    const progress = status.progress[id];
    let role = voter ? "follower" : "learner";
    if (id === status.leader) role = "leader";
    if (self && status.role === "candidate") role = "candidate";
    let matchIndex: number | null = null;
    if (self) matchIndex = status.lastIndex;
    else if (leading && progress !== undefined) matchIndex = progress.matchIndex;
    const heard = node.lastHeardTick.get(id);
    return {
      id,
      role,
      voter,
      matchIndex,
      lag: matchIndex === null || !leading ? null : status.lastIndex - matchIndex,
      lastContactMs: self ? 0 : heard === undefined ? null : (node.stats.ticks - heard) * sources.tickMs,
      reachable: self ? true : leading ? progress?.recentActive === true : null,
      adminUrl: self ? addressing.selfUrl : adminUrlOf(id, addressing.portOffset),
    };
  });
  return {
    id: status.id,
    role: status.role,
    term: status.term,
    leader: status.leader,
    commitIndex: status.commitIndex,
    appliedIndex: node.lastApplied,
    lastIndex: status.lastIndex,
    firstIndex: core.log.firstIndex(),
    snapshotIndex: status.snapshotIndex,
    members,
    queues: sources.stateMachine.queueLengths(queuesListedMax),
    messages: sources.stateMachine.stats().messageCount,
    clientRequests: sources.service.stats.requests,
    uptimeMs,
    heartbeatMs: sources.tickMs,
    version: sources.version,
    adminUrl: addressing.selfUrl,
    adminPortOffset: addressing.portOffset,
  };
}

export interface LogQuery {
  /** null: the latest page. */
  from: number | null;
  limit: number;
}

/** Parses /log's query; throws BAD_REQUEST (answered 400) on anything but small non-negative integers. */
export function parseLogQuery(params: URLSearchParams): LogQuery {
  for (const key of params.keys()) {
    if (key !== "from" && key !== "limit") throw new RaftmqError("BAD_REQUEST", `unknown parameter ${JSON.stringify(key)}`);
  }
  const from = params.get("from");
  const limit = params.get("limit");
  return {
    from: from === null ? null : parseIndex(from, "from", Number.MAX_SAFE_INTEGER),
    limit: limit === null ? logLimitDefault : parseIndex(limit, "limit", logLimitMax, 1),
  };
}

function parseIndex(text: string, name: string, max: number, min = 0): number {
  if (!/^\d{1,16}$/.test(text)) throw new RaftmqError("BAD_REQUEST", `${name}: expected a non-negative integer, got ${JSON.stringify(text.slice(0, 40))}`);
  const value = Number(text);
  if (value < min || value > max) throw new RaftmqError("BAD_REQUEST", `${name}: must be between ${min} and ${max}, got ${value}`);
  return value;
}

export interface LogEntryJson {
  index: number;
  term: number;
  kind: string;
  op: string;
  queue: string;
  value: string | null;
  valueTruncated: boolean;
  clientId: string;
  seq: number;
}

export interface LogPage {
  firstIndex: number;
  lastIndex: number;
  commitIndex: number;
  from: number;
  entries: LogEntryJson[];
}

export function buildLogPage(core: RaftCore, query: LogQuery): LogPage {
  const log = core.log;
  const first = log.firstIndex();
  const last = log.lastIndex();
  const wanted = query.from ?? Math.max(first, last - query.limit + 1);
  const from = Math.max(wanted, first);
  const entries = from > last ? [] : log.slice(from, query.limit, logPageBytesMax);
  return { firstIndex: first, lastIndex: last, commitIndex: log.commitIndex, from, entries: entries.map(entryJson) };
}

function entryJson(entry: LogEntry): LogEntryJson {
  const view: LogEntryJson = { index: entry.index, term: entry.term, kind: entry.kind, op: entry.kind, queue: "", value: null, valueTruncated: false, clientId: "", seq: 0 };
  if (entry.kind === "normal") {
    try {
      const described = describeCommand(entry.data);
      view.op = described.op;
      view.queue = described.queue;
      view.clientId = described.clientId;
      view.seq = described.seq;
      if (described.value !== undefined) {
        view.valueTruncated = described.value.length > logValueCharsMax;
        view.value = described.value.slice(0, logValueCharsMax);
      }
    } catch (error) {
      if (!isRaftmqError(error)) throw error;
      view.op = "invalid";
    }
  } else if (entry.kind === "config") {
    const config = decodeConfig(entry.data);
    view.value = `voters ${config.voters.join(",")}${config.learners.length > 0 ? ` learners ${config.learners.join(",")}` : ""}`;
  }
  return view;
}
