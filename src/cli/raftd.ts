/**
 * raftd: one node of a raftmq cluster. Puts the layers together:
 *
 *   flags -> data dir (identity.json + wal/) -> FileStorage.load()
 *         -> bootstrap (no --join, empty dir) | join (--join, empty dir) | restart (state on disk)
 *         -> QueueStateMachine (restored from the snapshot) + RaftCore + RaftNode
 *         -> ConnectionManager listening on --listen: raft messages to RaftNode, client
 *            requests to ClientService
 *
 * Exit codes: 0 after SIGINT/SIGTERM (leadership handed over first when leading, storage
 * flushed), 1 when the node failed (storage error, bug), 2 for bad flags or a data dir that
 * belongs to another address.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { RaftCore } from "../raft/core";
import type { PersistentState, RaftMessage } from "../raft/types";
import { makeQueueLimits, QueueStateMachine, type ApplyResult } from "../queue";
import { openFileStorage, type FileStorage } from "../storage/file-storage";
import { RaftmqError, isRaftmqError } from "../util/errors";
import { SeededRng } from "../util/rng";
import { osSeed } from "./os-seed";
import { ConnectionManager, type InboundMessage, type WireMessage } from "../wire";
import { raftFromWire, raftToWire, isRaftWireMessage } from "../wire/raft-convert";
import { ClusterClient } from "../client/cluster-client";
import { ClientService } from "../node/client-service";
import { readIdentity, writeIdentity, type NodeIdentity } from "../node/node-identity";
import { lockDataDir } from "../node/data-dir-lock";
import { NodeLogger } from "../node/node-logger";
import { PauseMonitor } from "../node/pause-monitor";
import { RaftNode } from "../node/raft-node";
import { DEFAULT_SNAPSHOT_POLICY } from "../node/snapshot-policy";
import { SnapshotReceiver, SnapshotSender } from "../node/snapshot-chunks";
import { FileSnapshotHost } from "../node/snapshot-host";
import { adminAutoPortOffset, electionTicksOf, parseRaftdArgs, raftdUsage, type RaftdConfig } from "./raftd-config";
import { startAdmin } from "../admin";
import { createLogger } from "./logger";
import { missingNodeFlags } from "./node-flags";
import type bunyan from "bunyan";

const joinTimeoutMs = 60_000;
/** Largest snapshot a node accepts from a leader (the storage's default load limit too). */
const snapshotBytesMax = 1024 * 1024 * 1024;
const stopTransferWaitMs = 3_000;

export async function main(argv: string[]): Promise<void> {
  let config: RaftdConfig;
  try {
    config = parseRaftdArgs(argv);
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    process.stderr.write(`raftd: ${error.code}: ${error.message}\n${raftdUsage}\n`);
    process.exitCode = 2;
    return;
  }
  const rootLogger = createLogger({ name: "raftd", level: config.logLevel });
  try {
    await run(config, rootLogger);
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    rootLogger.fatal({ err: error, code: error.code, event: "start-failed" }, error.message);
    process.stderr.write(`raftd: ${error.code}: ${error.message}\n`);
    process.exitCode = error.code === "CONFIG_INVALID" ? 2 : 1;
  }
}

/** With --listen port 0 and no --advertise, the address we get becomes our identity. */
async function resolveAdvertise(config: RaftdConfig): Promise<string> {
  if (config.advertise !== null) return config.advertise;
  const port = await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, config.listen.host, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
  config.listen = { host: config.listen.host, port };
  return `${config.listen.host}:${port}`;
}

function hasState(state: PersistentState): boolean {
  return state.hardState.term > 0 || state.entries.length > 0 || state.snapshot !== null;
}

async function run(config: RaftdConfig, rootLogger: bunyan): Promise<void> {
  const id = await resolveAdvertise(config);
  const logger = new NodeLogger(rootLogger, id);
  fs.mkdirSync(config.dataDir, { recursive: true });
  const lock = lockDataDir(config.dataDir);
  process.on("exit", () => lock.release());
  const storage = await openFileStorage(path.join(config.dataDir, "wal"), {
    fsync: config.fsync,
    walWrites: config.walWrites,
    logger: logger.child({ component: "storage" }),
  });
  const state = await storage.load();
  const { identity, initial } = await establishIdentity(config, id, state, storage, logger);

  const stateMachine = new QueueStateMachine(makeQueueLimits({ valueBytesMax: config.maxValueBytes }));
  const snapshotHost = new FileSnapshotHost(storage, stateMachine, config.snapshotChunkBytes);
  if (initial.snapshot !== null) await snapshotHost.restore(initial.snapshot.data); // then the core replays the log after it
  const rng = new SeededRng(osSeed());
  const core = new RaftCore({ id, electionTicks: electionTicksOf(config), heartbeatTicks: 1 }, initial, rng.fork(), logger);
  const manager = new ConnectionManager(
    {
      clusterId: identity.clusterId,
      nodeId: id,
      role: "peer",
      listen: config.listen,
      rng: rng.fork(),
      logger: logger.child({ component: "wire" }),
    },
    (inbound) => onInbound(inbound),
  );
  // GC pauses for the activity line (src/node/pause-monitor.ts).
  const pauses = new PauseMonitor();
  pauses.start();
  const node: RaftNode<ApplyResult> = new RaftNode<ApplyResult>({
    core,
    storage,
    stateMachine,
    snapshots: snapshotHost,
    transport: { send: (message) => sendRaft(message), flush: () => manager.flush() },
    logger,
    timers: { setInterval: (callback, ms) => setInterval(callback, ms), clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout) },
    tickMs: config.heartbeatMs,
    snapshotPolicy: { ...DEFAULT_SNAPSHOT_POLICY, entries: config.snapshotEntries, logFraction: config.snapshotLogFraction },
    waitersMax: 65_536,
    summaryMs: 5_000,
    pauses,
  });
  const service = new ClientService({ node, core, stateMachine, clusterId: identity.clusterId, logger, nowMs: () => Date.now() });

  const wireLogger = logger.child({ component: "wire" });
  /** Raft tolerates lost messages, so a message the wire refuses is logged and dropped. */
  function sendWire(to: string, message: WireMessage): boolean {
    try {
      return manager.send(to, message);
    } catch (error) {
      if (!isRaftmqError(error)) throw error;
      wireLogger.warn({ event: "send-failed", peer: to, type: message.type, code: error.code }, "message dropped");
      return true; // nothing to wait for: the loss is final and raft will send again
    }
  }
  const snapshotLogger = logger.child({ component: "snapshot" });
  const snapshotSender = new SnapshotSender(
    { send: (to, body) => sendWire(to, { type: "InstallSnapshot", body }), connected: (to) => manager.linkUsage(to)?.open ?? true },
    config.snapshotChunkBytes,
    snapshotLogger,
  );
  manager.on("drain", (peer: string) => snapshotSender.drained(peer));
  const snapshotReceiver = new SnapshotReceiver(storage, snapshotBytesMax, (message) => node.receive(message), snapshotLogger);

  function sendRaft(message: RaftMessage): void {
    // The snapshot's data is a file: streamed in chunks, never converted whole.
    if (message.type === "InstallSnapshot") snapshotSender.send(message);
    else sendWire(message.to, raftToWire(message));
  }

  function onInbound(inbound: InboundMessage): void {
    if (inbound.role === "peer" && isRaftWireMessage(inbound.message)) {
      const message = inbound.message;
      if (message.type === "InstallSnapshot") {
        snapshotReceiver.push(inbound.from, message.body);
        return;
      }
      node.receive(raftFromWire(message));
      return;
    }
    service.handle(inbound);
  }

  const bound = await manager.listen();
  const missing = missingNodeFlags(process.execArgv);
  if (missing.length > 0) {
    // Started as `node raftd-main.js` rather than through bin/raftd: it works, with more memory.
    logger.warn({ event: "node-flags-missing", missing }, `node runs without ${missing.join(" ")}: expect more RSS (see src/cli/node-flags.ts)`);
  }
  logger.info(
    { event: "listening", address: id, listen: `${bound.host}:${bound.port}`, clusterId: identity.clusterId, dataDir: config.dataDir, fsync: config.fsync },
    "listening",
  );
  node.on("stopped", () => pauses.stop());
  node.start();

  // Admin endpoint (issue 7): status, log, metrics, dashboard; closed when the node stops.
  if (config.admin !== null || config.adminAuto) {
    const placement = { admin: config.admin, auto: config.adminAuto, public: config.adminPublic, raftAddress: id, listenHost: config.listen.host, portOffset: adminAutoPortOffset };
    const admin = await startAdmin(placement, { node, core, service, stateMachine, tickMs: config.heartbeatMs, wire: manager, storage }, logger).catch(
      async (error: unknown) => {
        await node.stop(); // no admin endpoint although asked for one: do not run half-configured
        await manager.close();
        await storage.close();
        throw error;
      },
    );
    node.on("stopped", () => void admin.close());
  }

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: "stopping", signal }, "stopping");
    await handOver(node, core, logger);
    await node.stop();
    await node.snapshotIdle();
    await manager.close();
    await storage.close();
    logger.info({ event: "stopped" }, "stopped");
  };
  process.on("SIGINT", () => void stop("SIGINT").then(() => process.exit(0)));
  process.on("SIGTERM", () => void stop("SIGTERM").then(() => process.exit(0)));
  node.on("stopped", () => {
    if (node.failed === null || stopping) return;
    stopping = true;
    void manager.close().then(() => process.exit(1));
  });
}

/** Reads, creates (bootstrap or join) or checks the data dir's identity. */
async function establishIdentity(
  config: RaftdConfig,
  id: string,
  state: PersistentState,
  storage: FileStorage,
  logger: NodeLogger,
): Promise<{ identity: NodeIdentity; initial: PersistentState }> {
  const existing = await readIdentity(config.dataDir);
  if (existing !== null) {
    if (existing.nodeId !== id) {
      throw new RaftmqError("CONFIG_INVALID", `data dir ${config.dataDir} belongs to node ${existing.nodeId}, not ${id}`);
    }
    logger.info({ event: "restart", clusterId: existing.clusterId, term: state.hardState.term, lastIndex: lastIndexOf(state) }, "restarting with persisted state");
    return { identity: existing, initial: state };
  }
  if (hasState(state)) throw new RaftmqError("STORAGE_CORRUPT", `data dir ${config.dataDir} has a log but no identity.json`);
  if (config.join === null) {
    const identity = { clusterId: crypto.randomBytes(8).toString("hex"), nodeId: id };
    await writeIdentity(config.dataDir, identity);
    const initial = RaftCore.bootstrap([id]);
    await storage.persist(initial.hardState, initial.entries, null);
    logger.info({ event: "bootstrap", clusterId: identity.clusterId }, "bootstrapped a new cluster");
    return { identity, initial };
  }
  return { identity: await join(config, id, logger), initial: state };
}

async function join(config: RaftdConfig, id: string, logger: NodeLogger): Promise<NodeIdentity> {
  const join = config.join as string;
  logger.info({ event: "joining", contact: join }, "asking to join the cluster");
  const client = new ClusterClient({
    cluster: [join],
    timeoutMs: joinTimeoutMs,
    rng: new SeededRng(osSeed()),
    clientId: `join-${id}`,
    onRetry: (event) => logger.info({ event: "join-retry", target: event.target, code: event.code }, "join: retrying"),
  });
  try {
    const reply = await client.call({ type: "JoinRequest", body: { nodeId: id, fresh: true } });
    if (reply.type !== "JoinReply") throw new RaftmqError("WIRE_DECODE", `unexpected reply ${reply.type} to a join`);
    const identity = { clusterId: reply.body.clusterId, nodeId: id };
    await writeIdentity(config.dataDir, identity);
    logger.info({ event: "joined", clusterId: identity.clusterId, leader: reply.body.leader, index: reply.body.index }, "joined the cluster as a learner");
    return identity;
  } finally {
    await client.close();
  }
}

/** Thesis §3.10: a leader that is asked to stop hands leadership to the most caught-up voter. */
async function handOver(node: RaftNode<ApplyResult>, core: RaftCore, logger: NodeLogger): Promise<void> {
  const status = core.status();
  if (status.role !== "leader") return;
  let best: string | null = null;
  let bestMatch = -1;
  for (const voter of status.config.voters) {
    if (voter === status.id) continue;
    const progress = status.progress[voter];
    if (progress !== undefined && progress.recentActive && progress.matchIndex > bestMatch) {
      best = voter;
      bestMatch = progress.matchIndex;
    }
  }
  if (best === null) return;
  logger.info({ event: "transfer-on-stop", peer: best }, "handing leadership over before stopping");
  try {
    node.transferLeadership(best);
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    logger.warn({ event: "transfer-on-stop", code: error.code }, "could not hand leadership over");
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, stopTransferWaitMs);
    node.on("role-change", () => {
      if (core.status().role !== "leader") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function lastIndexOf(state: PersistentState): number {
  const last = state.entries[state.entries.length - 1];
  if (last !== undefined) return last.index;
  return state.snapshot?.meta.index ?? 0;
}
