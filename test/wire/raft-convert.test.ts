// Raft messages survive the trip to the wire and back, field for field, and the codec refuses
// what raft-convert could not represent (unsafe integers, unknown entry kinds, missing meta).
import t from "tap";
import type { RaftMessage } from "../../src/raft/types";
import { decodeBody, encodeBody, typeCodeOf } from "../../src/wire/codec";
import { isRaftWireMessage, raftFromWire, raftToWire } from "../../src/wire/raft-convert";
import { normalise } from "./samples";

const messages: RaftMessage[] = [
  { type: "RequestVote", from: "a", to: "b", term: 3, lastLogIndex: 10, lastLogTerm: 2, preVote: true, transfer: true },
  { type: "RequestVoteResponse", from: "b", to: "a", term: 3, granted: false, preVote: false },
  {
    type: "AppendEntries", from: "a", to: "b", term: 2 ** 40, prevLogIndex: 2 ** 52, prevLogTerm: 1, leaderCommit: 7, readContext: 3,
    entries: [
      { index: 1, term: 1, kind: "config", data: new Uint8Array([1]) },
      { index: 2, term: 1, kind: "noop", data: new Uint8Array(0) },
      { index: 3, term: 1, kind: "normal", data: Buffer.from("✓") },
    ],
  },
  { type: "AppendEntriesResponse", from: "b", to: "a", term: 2, success: true, matchIndex: 3, conflictIndex: 0, conflictTerm: 0, readContext: 3 },
  { type: "InstallSnapshot", from: "a", to: "b", term: 4, snapshot: { meta: { index: 9, term: 3, config: { voters: ["a", "b"], learners: [] } }, data: new Uint8Array([5, 6]) } },
  { type: "InstallSnapshotResponse", from: "b", to: "a", term: 4, matchIndex: 9 },
  { type: "TimeoutNow", from: "a", to: "b", term: 5 },
];

function plain(message: RaftMessage): unknown {
  return normalise(message);
}

t.test("every raft message round-trips through protobuf", async (t) => {
  for (const message of messages) {
    const wire = raftToWire(message);
    const decoded = decodeBody(typeCodeOf(wire.type), encodeBody(wire));
    t.ok(isRaftWireMessage(decoded), message.type);
    if (!isRaftWireMessage(decoded)) continue;
    t.same(plain(raftFromWire(decoded)), plain(message), message.type);
  }
  t.notOk(isRaftWireMessage({ type: "StatusRequest", body: {} }));
});

t.test("the codec refuses unsafe integers, unknown enum values and a missing snapshot meta", async (t) => {
  const unsafe = encodeBody({ type: "TimeoutNow", body: { from: "a", to: "b", term: 2 ** 60 } });
  t.throws(() => decodeBody(typeCodeOf("TimeoutNow"), unsafe), { code: "WIRE_DECODE" });
  const badKind = encodeBody({ type: "AppendEntries", body: { from: "a", to: "b", term: 1, prevLogIndex: 0, prevLogTerm: 0, leaderCommit: 0, readContext: 0, entries: [{ index: 1, term: 1, kind: 7 as never, data: new Uint8Array(0) }] } });
  t.throws(() => decodeBody(typeCodeOf("AppendEntries"), badKind), { code: "WIRE_DECODE" });
  const noMeta = encodeBody({ type: "InstallSnapshot", body: { from: "a", to: "b", term: 1, meta: null, data: new Uint8Array(0), chunkOffset: 0, totalBytes: 0 } });
  t.throws(() => decodeBody(typeCodeOf("InstallSnapshot"), noMeta), { code: "WIRE_DECODE" });
});
