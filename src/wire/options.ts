/**
 * Configuration of a ConnectionManager, its defaults and validation (STYLE.md §6: reject unknown
 * options and impossible combinations when the config is built), plus the small interfaces the
 * manager takes so tests and the simulator can swap them: Timers, WireLogger.
 */
import bunyan from "bunyan";
import { RaftmqError } from "../util/errors";
import type { Rng } from "../util/rng";
import type { WireMessageType } from "./codec";
import { clusterTagOf, frameBytesMaxDefault, frameBytesMaxMax, frameBytesMaxMin } from "./frame";

export interface Timers {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The part of a bunyan logger the wire layer uses. */
export interface WireLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ManagerOptions {
  /** The cluster's id; a client that does not know it passes "" and is let in by any cluster. */
  clusterId: string;
  /** This process's identity; for a raftd its advertised "host:port". */
  nodeId: string;
  role: "peer" | "client";
  /** Where to accept connections (peers); clients leave it out. Port 0 picks a free port. */
  listen?: { host: string; port: number };
  /** Where a node id can be reached; default parses "host:port" (IPv6 as "[::1]:port"). */
  addressOf?: (nodeId: string) => { host: string; port: number };
  /** Whether a peer with this node id may connect (default: any); clients are always let in. */
  acceptPeer?: (nodeId: string) => boolean;
  rng: Rng;
  logger?: WireLogger;
  timers?: Timers;
  /** Distinguishes this process start from earlier ones; default drawn from rng. */
  incarnation?: number;
  frameBytesMax?: number;
  sendQueueFramesMax?: number;
  sendQueueBytesMax?: number;
  retransmitFramesMax?: number;
  retransmitBytesMax?: number;
  pendingCallsMax?: number;
  inboundPeersMax?: number;
  /** Bytes of unsent and unacknowledged replies kept for senders that are disconnected. */
  detachedRepliesBytesMax?: number;
  rpcTimeoutMsDefault?: number;
  rpcTimeoutMsByType?: Partial<Record<WireMessageType, number>>;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  reconnectBackoffMsMin?: number;
  reconnectBackoffMsMax?: number;
  /** Consecutive failed connects after which queued frames are dropped and calls failed. */
  reconnectAttemptsMax?: number;
}

export type ResolvedOptions = Required<Omit<ManagerOptions, "listen" | "incarnation">> & {
  listen: { host: string; port: number } | null;
  incarnation: number;
};

const defaults = {
  frameBytesMax: frameBytesMaxDefault,
  sendQueueFramesMax: 8192,
  sendQueueBytesMax: 64 * 1024 * 1024,
  retransmitFramesMax: 1024,
  retransmitBytesMax: 4 * 1024 * 1024,
  pendingCallsMax: 16384,
  inboundPeersMax: 1024,
  detachedRepliesBytesMax: 64 * 1024 * 1024,
  rpcTimeoutMsDefault: 5000,
  connectTimeoutMs: 3000,
  handshakeTimeoutMs: 5000,
  reconnectBackoffMsMin: 50,
  reconnectBackoffMsMax: 5000,
  reconnectAttemptsMax: 30,
};

/** Per-kind RPC timeouts: raft RPCs are answered without a disk wait or with one; client calls wait for a commit. */
const rpcTimeoutMsByTypeDefault: Partial<Record<WireMessageType, number>> = {
  RequestVote: 5000,
  AppendEntries: 10000,
  InstallSnapshot: 60000,
  ExecuteRequest: 15000,
  StatusRequest: 5000,
  LogRequest: 10000,
  ConfigChangeRequest: 30000,
  TransferLeaderRequest: 10000,
  JoinRequest: 30000,
  Ping: 5000,
};

const knownKeys = new Set<string>([
  "clusterId", "nodeId", "role", "listen", "addressOf", "acceptPeer", "rng", "logger", "timers", "incarnation",
  ...Object.keys(defaults), "rpcTimeoutMsByType",
]);

function invalid(message: string): RaftmqError {
  return new RaftmqError("CONFIG_INVALID", message);
}

export function parseAddress(nodeId: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(nodeId);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) throw new RaftmqError("CONFIG_INVALID", `not a host:port address: ${nodeId}`);
  return { host: match[1] ?? match[2]!, port };
}

export function resolveOptions(options: ManagerOptions): ResolvedOptions {
  for (const key of Object.keys(options)) if (!knownKeys.has(key)) throw invalid(`unknown wire option ${key}`);
  if (options.clusterId.length === 0 && options.role !== "client") throw invalid("clusterId must not be empty for a peer");
  if (options.clusterId.length > 0 && clusterTagOf(options.clusterId) === 0) throw invalid("clusterId hashes to the anonymous tag 0: pick another");
  if (options.nodeId.length === 0) throw invalid("nodeId must not be empty");
  if (options.role !== "peer" && options.role !== "client") throw invalid(`role must be peer or client`);
  const merged = { ...defaults };
  for (const key of Object.keys(defaults) as Array<keyof typeof defaults>) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) throw invalid(`${key} must be a positive integer`);
    merged[key] = value;
  }
  if (merged.frameBytesMax < frameBytesMaxMin || merged.frameBytesMax > frameBytesMaxMax) {
    throw invalid(`frameBytesMax must be in [${frameBytesMaxMin}, ${frameBytesMaxMax}]`);
  }
  if (merged.sendQueueBytesMax < merged.frameBytesMax) throw invalid("sendQueueBytesMax must hold one frame of frameBytesMax");
  if (merged.reconnectBackoffMsMax < merged.reconnectBackoffMsMin) throw invalid("reconnectBackoffMsMax < reconnectBackoffMsMin");
  const byType = { ...rpcTimeoutMsByTypeDefault, ...(options.rpcTimeoutMsByType ?? {}) };
  for (const [type, value] of Object.entries(byType)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw invalid(`rpcTimeoutMsByType.${type} must be a positive integer`);
  }
  const incarnation = options.incarnation ?? 1 + options.rng.nextU32() * 0x200000 + (options.rng.nextU32() & 0x1fffff);
  if (!Number.isSafeInteger(incarnation) || incarnation <= 0) throw invalid("incarnation must be a positive safe integer");
  return {
    ...merged,
    clusterId: options.clusterId,
    nodeId: options.nodeId,
    role: options.role,
    listen: options.listen ?? null,
    addressOf: options.addressOf ?? parseAddress,
    acceptPeer: options.acceptPeer ?? (() => true),
    rng: options.rng,
    logger: options.logger ?? bunyan.createLogger({ name: "raftmq", component: "wire", node: options.nodeId, level: "warn" }),
    timers: options.timers ?? realTimers,
    incarnation: Math.min(incarnation, Number.MAX_SAFE_INTEGER),
    rpcTimeoutMsByType: byType,
  };
}

export interface WireStats {
  framesSent: number;
  framesReceived: number;
  /** Frames dropped because their seq was already delivered (duplicates, replays). */
  framesDuplicate: number;
  /** Frames requeued after a reconnect because the receiver had not delivered them. */
  framesResent: number;
  /** Responses that found no pending call (timed out already, or a duplicate). */
  responsesLate: number;
  /** Bad frames by error code; each also closed its connection. */
  badFrames: Record<string, number>;
  connectsAttempted: number;
  handshakesAccepted: number;
  handshakesRefused: number;
  callsTimedOut: number;
  sendsRefused: number;
}

export function emptyStats(): WireStats {
  return {
    framesSent: 0, framesReceived: 0, framesDuplicate: 0, framesResent: 0, responsesLate: 0, badFrames: {},
    connectsAttempted: 0, handshakesAccepted: 0, handshakesRefused: 0, callsTimedOut: 0, sendsRefused: 0,
  };
}
