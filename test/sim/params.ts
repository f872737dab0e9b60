/**
 * Swarm testing: each seed draws its own core tunables and fault rates, so the suite covers both
 * quiet clusters (where rare interleavings get deep) and storms (where many faults overlap).
 */
import type { SeededRng } from "../../src/util/rng";

export interface SimParams {
  electionTicks: number;
  heartbeatTicks: number;
  maxInflightMsgs: number;
  maxEntriesPerMsg: number;
  maxBytesPerMsg: number;
  checkQuorum: boolean;
  preVote: boolean;
  promoteLagEntries: number;
  dropRate: number;
  duplicateRate: number;
  corruptRate: number;
  delayUnitsMin: number;
  delayUnitsJitter: number;
  fsyncUnitsMax: number;
  clockSkewUnits: number;
  crashRate: number;
  /** Probability that a crash hits a leader (leader churn makes Figure 8 histories likely). */
  crashLeaderBias: number;
  downTicksMax: number;
  /** RaftNode's order (src/node/raft-node.ts): committed entries already durable here are applied
   * while the Ready's write is in flight; otherwise everything is applied after it. */
  applyEarly: boolean;
  /** Per Ready with writes: probability of a crash before its sync completes (torn writes). */
  crashInSyncRate: number;
  partitionRate: number;
  partitionTicksMin: number;
  proposalsPerTick: number;
  configRate: number;
  transferRate: number;
  compactRate: number;
  readRate: number;
  spareNodes: number;
  /** Thesis §10.2.1 (what the runtime shell does): a leader's AppendEntries, InstallSnapshot and
   * TimeoutNow leave before its own write is durable, unless the Ready changes term or vote. */
  leaderSendsEarly: boolean;
  chaosTicks: number;
  livenessTicks: number;
}

function choose<T>(rng: SeededRng, options: readonly T[]): T {
  return options[rng.nextInt(options.length)]!;
}

export function pickParams(rng: SeededRng, nodes: number): SimParams {
  const electionTicks = 5 + rng.nextInt(11);
  return {
    electionTicks,
    heartbeatTicks: 1 + rng.nextInt(Math.max(1, Math.floor(electionTicks / 3))),
    maxInflightMsgs: 1 + rng.nextInt(8),
    maxEntriesPerMsg: choose(rng, [1, 1, 2, 3, 8, 16]),
    maxBytesPerMsg: 16 + rng.nextInt(256),
    checkQuorum: rng.chance(0.7),
    preVote: rng.chance(0.7),
    promoteLagEntries: rng.nextInt(8),
    dropRate: choose(rng, [0, 0.01, 0.05, 0.15, 0.3]),
    duplicateRate: choose(rng, [0, 0.01, 0.05, 0.2]),
    corruptRate: choose(rng, [0, 0.01, 0.05]),
    delayUnitsMin: 1 + rng.nextInt(5),
    delayUnitsJitter: choose(rng, [0, 5, 15, 40]),
    fsyncUnitsMax: choose(rng, [1, 5, 20]),
    clockSkewUnits: rng.nextInt(3),
    crashRate: choose(rng, [0, 0.003, 0.01, 0.03]),
    crashLeaderBias: choose(rng, [0, 0.5, 0.9]),
    downTicksMax: choose(rng, [5, 30, 100]),
    partitionRate: choose(rng, [0, 0.005, 0.02, 0.05]),
    partitionTicksMin: choose(rng, [5, 20, 60]),
    proposalsPerTick: choose(rng, [0.1, 0.5, 1.5]),
    configRate: choose(rng, [0, 0.005, 0.02]),
    transferRate: choose(rng, [0, 0.005, 0.02]),
    compactRate: choose(rng, [0, 0.01, 0.05]),
    readRate: choose(rng, [0, 0.05, 0.2]),
    spareNodes: rng.nextInt(3),
    leaderSendsEarly: rng.chance(0.5),
    crashInSyncRate: choose(rng, [0, 0.002, 0.01]),
    applyEarly: rng.chance(0.5),
    chaosTicks: 100 + rng.nextInt(300),
    livenessTicks: 60 * electionTicks + 300 + nodes * 10,
  };
}
