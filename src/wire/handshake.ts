/**
 * Handshake rules (pure). The connecting side's first frame is a Hello; the accepting side
 * answers with a HelloReply that either accepts (and tells how far it got in the connector's
 * sequence) or refuses with an error code, then closes. Nothing else is read before a Hello or
 * written before the reply.
 *
 * Refused: another cluster (WIRE_CLUSTER_MISMATCH), another protocol version (WIRE_BAD_VERSION),
 * a peer the acceptor does not know or an unnamed sender (WIRE_HANDSHAKE). A client may leave the
 * cluster id empty (raftctl knows only addresses); its frames then carry clusterTag 0, and a
 * Hello whose tag and cluster id disagree is refused.
 */
import type { ErrorCode } from "../util/errors";
import type { Hello } from "./schema.generated";

export const protocolVersion = 1;

export type HelloVerdict = { ok: true; role: "peer" | "client" } | { ok: false; code: ErrorCode; message: string };

export function judgeHello(hello: Hello, frameTagAnonymous: boolean, clusterId: string, acceptPeer: (nodeId: string) => boolean): HelloVerdict {
  if (frameTagAnonymous !== (hello.clusterId === "")) {
    return { ok: false, code: "WIRE_HANDSHAKE", message: "hello frame tag does not match its cluster id" };
  }
  if (hello.clusterId === "" && hello.role !== 2) {
    return { ok: false, code: "WIRE_CLUSTER_MISMATCH", message: "a peer must name its cluster" };
  }
  if (hello.clusterId !== clusterId && hello.clusterId !== "") {
    return { ok: false, code: "WIRE_CLUSTER_MISMATCH", message: `this node belongs to cluster ${clusterId}, not ${hello.clusterId}` };
  }
  if (hello.protocolVersion !== protocolVersion) {
    return { ok: false, code: "WIRE_BAD_VERSION", message: `protocol version ${hello.protocolVersion} unsupported, want ${protocolVersion}` };
  }
  if (hello.nodeId.length === 0 || hello.incarnation <= 0) {
    return { ok: false, code: "WIRE_HANDSHAKE", message: "hello without node id or incarnation" };
  }
  if (hello.role === 1) {
    if (!acceptPeer(hello.nodeId)) return { ok: false, code: "WIRE_HANDSHAKE", message: `unknown peer ${hello.nodeId}` };
    return { ok: true, role: "peer" };
  }
  if (hello.role === 2) return { ok: true, role: "client" };
  return { ok: false, code: "WIRE_HANDSHAKE", message: `unknown role ${hello.role}` };
}
