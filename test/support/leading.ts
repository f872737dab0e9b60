/**
 * Resolves once `core` leads (at once if it does already): a lone voter that RaftNode.start()
 * campaigns leads only after its Ready with the new term and vote is durable, a turn of the
 * loop later (src/raft/core-base.ts becomeCandidate).
 */
import type { RaftNode } from "../../src/node/raft-node";
import type { RaftCore } from "../../src/raft/core";

export function leading<Result>(node: RaftNode<Result>, core: RaftCore): Promise<void> {
  return new Promise((resolve) => {
    if (core.role === "leader") return resolve();
    node.on("role-change", () => {
      if (core.role === "leader") resolve();
    });
  });
}
