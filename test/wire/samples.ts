/**
 * Sample messages for wire tests: one of every framed type, plus variants with empty fields,
 * unicode and large payloads. Pure data; the fault model is none.
 */
import { frameTypeCodes } from "../../src/wire/schema.generated";
import type { WireMessage, WireMessageType } from "../../src/wire/codec";

const unicode = "héllo wörld ✓ 日本語 🚀 \u0000 end";

export function sampleMessages(): WireMessage[] {
  const config = { voters: ["127.0.0.1:7001", "127.0.0.1:7002"], learners: ["127.0.0.1:7003"] };
  const messages: WireMessage[] = [
    { type: "Hello", body: { clusterId: "c1", nodeId: "n1", incarnation: 2 ** 52 + 1, role: 1, protocolVersion: 1, lastDeliveredSeq: 12, acceptorIncarnation: 3 } },
    { type: "HelloReply", body: { accepted: false, nodeId: "n2", incarnation: 7, lastDeliveredSeq: 99, errorCode: "WIRE_CLUSTER_MISMATCH", errorMessage: unicode } },
    { type: "Ping", body: { nonce: 1 } },
    { type: "Pong", body: { nonce: 0 } },
    { type: "RequestVote", body: { from: "a", to: "b", term: 3, lastLogIndex: 10, lastLogTerm: 2, preVote: true, transfer: false } },
    { type: "RequestVoteResponse", body: { from: "b", to: "a", term: 3, granted: true, preVote: true } },
    {
      type: "AppendEntries",
      body: {
        from: "a", to: "b", term: 4, prevLogIndex: 10, prevLogTerm: 3, leaderCommit: 9, readContext: 5,
        entries: [
          { index: 11, term: 4, kind: 0, data: new Uint8Array([1, 2, 3]) },
          { index: 12, term: 4, kind: 1, data: new Uint8Array(0) },
          { index: 13, term: 4, kind: 2, data: Buffer.from(unicode) },
        ],
      },
    },
    { type: "AppendEntries", body: { from: "", to: "", term: 0, prevLogIndex: 0, prevLogTerm: 0, leaderCommit: 0, readContext: 0, entries: [] } },
    { type: "AppendEntriesResponse", body: { from: "b", to: "a", term: 4, success: false, matchIndex: 0, conflictIndex: 7, conflictTerm: 2, readContext: 1 } },
    { type: "InstallSnapshot", body: { from: "a", to: "b", term: 5, meta: { index: 100, term: 4, config }, data: new Uint8Array([9, 8, 7]), chunkOffset: 0, totalBytes: 3 } },
    { type: "InstallSnapshot", body: { from: "a", to: "b", term: 5, meta: { index: 100, term: 4, config }, data: new Uint8Array([6, 5]), chunkOffset: 3, totalBytes: 5 } },
    { type: "InstallSnapshotResponse", body: { from: "b", to: "a", term: 5, matchIndex: 100 } },
    { type: "TimeoutNow", body: { from: "a", to: "b", term: 6 } },
    { type: "ExecuteRequest", body: { op: 1, queue: "jobs", value: unicode, clientId: "cl-1", seq: 1 } },
    { type: "ExecuteRequest", body: { op: 0, queue: "", value: "", clientId: "", seq: 0 } },
    { type: "ExecuteReply", body: { op: 2, index: 42, value: unicode, length: 0, entryIndex: 77 } },
    { type: "StatusRequest", body: {} },
    {
      type: "StatusReply",
      body: {
        nodeId: "n1", role: "leader", term: 6, leader: "127.0.0.1:7001", commitIndex: 80, lastApplied: 80, lastIndex: 81, snapshotIndex: 40,
        members: [
          { id: "127.0.0.1:7001", role: "leader", voter: true, reachable: true, matchIndex: 81, nextIndex: 82 },
          { id: "127.0.0.1:7003", role: "learner", voter: false, reachable: false, matchIndex: 0, nextIndex: 1 },
        ],
      },
    },
    { type: "LogRequest", body: { fromIndex: 1, limit: 100 } },
    {
      type: "LogReply",
      body: {
        leader: "127.0.0.1:7001", firstIndex: 1, lastIndex: 2, commitIndex: 2,
        entries: [
          { index: 1, term: 1, kind: "config", op: "config", queue: "", value: "", clientId: "", seq: 0, config },
          { index: 2, term: 1, kind: "normal", op: "enqueue", queue: "jobs", value: unicode, clientId: "cl-1", seq: 1, config: null },
        ],
      },
    },
    { type: "ConfigChangeRequest", body: { type: 1, node: "127.0.0.1:7004" } },
    { type: "ConfigChangeReply", body: { index: 81, config } },
    { type: "TransferLeaderRequest", body: { target: "127.0.0.1:7002" } },
    { type: "TransferLeaderReply", body: { leader: "127.0.0.1:7001", term: 6 } },
    { type: "JoinRequest", body: { nodeId: "127.0.0.1:7004", fresh: true } },
    { type: "JoinReply", body: { clusterId: "c1", leader: "127.0.0.1:7001", config, index: 90 } },
    { type: "ErrorReply", body: { code: "RAFT_NOT_LEADER", message: "not the leader", leaderId: "n2", leaderAddress: "127.0.0.1:7002" } },
  ];
  return messages;
}

export function allTypeNames(): WireMessageType[] {
  return Object.keys(frameTypeCodes) as WireMessageType[];
}

/** Plain-object view of a body for deep comparison: bytes as arrays, absent message fields as null. */
export function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value === null || value === undefined) return null;
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    // for..in sees protobufjs's prototype defaults as well as own fields.
    for (const key in value as Record<string, unknown>) {
      const field = (value as Record<string, unknown>)[key];
      if (typeof field === "function" || key.startsWith("$")) continue; // protobufjs's $type
      out[key] = normalise(field);
    }
    return out;
  }
  return value;
}
