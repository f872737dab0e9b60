/**
 * Cluster membership: encoding of config entries, applying one ConfigChange, and bootstrap.
 *
 * Why single-server changes (thesis §4.1) rather than joint consensus: adding or removing one
 * voter at a time means any majority of the old voter set and any majority of the new one
 * overlap, so two disjoint majorities can never exist, and no "joint" phase is needed. Each
 * config entry takes effect on a node as soon as it is appended to its log (not when committed),
 * and the leader allows at most one uncommitted config entry, and none before it has committed
 * an entry of its own term (the fix for the single-server-change bug Ongaro reported on
 * raft-dev in 2015). New servers join as learners (they receive the log but neither vote nor
 * count), and the leader promotes them once caught up, so adding a server never makes the
 * cluster wait for an empty log to fill. Removal is always an explicit operator action: dead
 * members are never removed automatically, because the core cannot tell dead from partitioned.
 *
 * Bootstrap: a brand-new cluster is started by giving every initial member the PersistentState
 * from bootstrapState(voters): one committed config entry (index 1, term 1) naming the voters.
 * A single-node cluster is bootstrapState([id]). A node that joins later starts from
 * emptyState() and waits for the leader to replicate the log (or a snapshot) to it.
 */
import { assert } from "../util/assert";
import type { ClusterConfig, ConfigChange, NodeId, PersistentState, ProposeResult } from "./types";

/** ProposeResult plus the refusal of a change that makes no sense against the current config. */
export type ConfigChangeResult =
  | ProposeResult
  | { ok: false; reason: "invalid-change"; leaderHint: NodeId | null; detail: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeConfig(config: ClusterConfig): Uint8Array {
  return encoder.encode(JSON.stringify({ voters: config.voters, learners: config.learners }));
}

export function decodeConfig(data: Uint8Array): ClusterConfig {
  const parsed = JSON.parse(decoder.decode(data)) as { voters?: unknown; learners?: unknown };
  assert(Array.isArray(parsed.voters), "config entry: voters must be an array");
  assert(Array.isArray(parsed.learners), "config entry: learners must be an array");
  const config: ClusterConfig = {
    voters: parsed.voters.map(String),
    learners: parsed.learners.map(String),
  };
  checkConfig(config);
  return config;
}

/** A node appears at most once, in voters or learners. */
export function checkConfig(config: ClusterConfig): void {
  const seen = new Set<NodeId>();
  for (const node of [...config.voters, ...config.learners]) {
    assert(!seen.has(node), "config: node listed twice");
    seen.add(node);
  }
}

export function isVoter(config: ClusterConfig, node: NodeId): boolean {
  return config.voters.includes(node);
}

export function isMember(config: ClusterConfig, node: NodeId): boolean {
  return config.voters.includes(node) || config.learners.includes(node);
}

/** The new configuration after `change`, or a reason it is refused. */
export function applyConfigChange(
  config: ClusterConfig,
  change: ConfigChange,
): { ok: true; config: ClusterConfig } | { ok: false; detail: string } {
  const { node } = change;
  switch (change.type) {
    case "add-learner":
      if (isMember(config, node)) return { ok: false, detail: "node is already a member" };
      return { ok: true, config: { voters: [...config.voters], learners: [...config.learners, node] } };
    case "promote":
      if (!config.learners.includes(node)) return { ok: false, detail: "node is not a learner" };
      return {
        ok: true,
        config: { voters: [...config.voters, node], learners: config.learners.filter((n) => n !== node) },
      };
    case "remove":
      if (!isMember(config, node)) return { ok: false, detail: "node is not a member" };
      if (config.voters.length === 1 && config.voters[0] === node) {
        return { ok: false, detail: "cannot remove the last voter" };
      }
      return {
        ok: true,
        config: {
          voters: config.voters.filter((n) => n !== node),
          learners: config.learners.filter((n) => n !== node),
        },
      };
  }
}

/** PersistentState for each initial member of a brand-new cluster (same on every member). */
export function bootstrapState(voters: NodeId[]): PersistentState {
  assert(voters.length > 0, "bootstrap needs at least one voter");
  const config: ClusterConfig = { voters: [...voters], learners: [] };
  checkConfig(config);
  return {
    hardState: { term: 1, votedFor: null, commitIndex: 1 },
    snapshot: null,
    entries: [{ index: 1, term: 1, kind: "config", data: encodeConfig(config) }],
  };
}

/** PersistentState of a node that will join an existing cluster (as a learner). */
export function emptyState(): PersistentState {
  return { hardState: { term: 0, votedFor: null, commitIndex: 0 }, snapshot: null, entries: [] };
}
