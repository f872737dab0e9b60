/**
 * raftd's flags (issue 5 spells them; they are a contract: add, never rename):
 *
 *   raftd --listen HOST:PORT [--advertise HOST:PORT] [--join HOST:PORT] --data-dir DIR
 *         [--heartbeat-ms N] [--election-timeout-ms N] [--admin HOST:PORT|auto] [--admin-public]
 *         [--log-level trace|debug|info|warn|error] [--fsync always|never] [--wal-writes blocking|pool]
 *         [--snapshot-entries N] [--snapshot-log-fraction F] [--snapshot-chunk-bytes N] [--max-value-bytes N]
 *
 * Snapshots: one is taken once --snapshot-entries entries were applied since the last one AND
 * the log data applied since then reaches --snapshot-log-fraction of the last snapshot's size
 * (0 turns that rule off), or once that log data reaches 256 MiB (src/node/snapshot-policy.ts).
 *
 * Admin (src/admin, issue 7): --admin HOST:PORT serves plain HTTP there; --admin auto serves on
 * the advertised raft port + 1000 (the dashboard derives peers' admin URLs from their raft
 * addresses by the same rule). The admin endpoint binds loopback unless --admin-public is given:
 * a non-loopback --admin host without it is refused, and auto binds 127.0.0.1 (with
 * --admin-public: the --listen host).
 *
 * Time: the node ticks every heartbeat interval; one tick is heartbeatMs, so heartbeatTicks = 1
 * and electionTicks = round(electionTimeoutMs / heartbeatMs), at least 3 (a follower then waits a
 * random 1x plus one tick to 2x minus one tick of the election timeout before campaigning).
 */
import { RaftmqError } from "../util/errors";
import { DEFAULT_SNAPSHOT_POLICY } from "../node/snapshot-policy";
import { formatHostPort, parseFlags, parseFraction, parseHostPort, parseLogLevel, parsePositiveInt, type HostPort } from "./args";
import type { LogLevel } from "./logger";

export interface RaftdConfig {
  listen: HostPort;
  /** Null when --listen has port 0 and no --advertise: the bound address becomes the identity. */
  advertise: string | null;
  join: string | null;
  dataDir: string;
  heartbeatMs: number;
  electionTimeoutMs: number;
  /** Null when there is no admin endpoint or it is "auto" (then adminAuto is true). */
  admin: HostPort | null;
  adminAuto: boolean;
  adminPublic: boolean;
  logLevel: LogLevel;
  fsync: "always" | "never";
  /** How WAL writes reach the disk (src/storage/wal-writer.ts, writeFully). */
  walWrites: "blocking" | "pool";
  snapshotEntries: number;
  /** ... and once the log applied since the last snapshot is this fraction of its size (src/node/snapshot-policy.ts). */
  snapshotLogFraction: number;
  /** Snapshot data per InstallSnapshot frame and per file read/write (memory per transfer). */
  snapshotChunkBytes: number;
  maxValueBytes: number;
}

export const raftdUsage = `usage: raftd --listen HOST:PORT [--advertise HOST:PORT] [--join HOST:PORT] --data-dir DIR
             [--heartbeat-ms N] [--election-timeout-ms N] [--admin HOST:PORT|auto] [--admin-public]
             [--log-level trace|debug|info|warn|error] [--fsync always|never] [--wal-writes blocking|pool]
             [--snapshot-entries N] [--snapshot-log-fraction F] [--snapshot-chunk-bytes N] [--max-value-bytes N]`;

const defaults = {
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  snapshotEntries: DEFAULT_SNAPSHOT_POLICY.entries,
  snapshotLogFraction: DEFAULT_SNAPSHOT_POLICY.logFraction,
  snapshotChunkBytes: 1024 * 1024,
  maxValueBytes: 64 * 1024,
};

function invalid(message: string): RaftmqError {
  return new RaftmqError("CONFIG_INVALID", message);
}

export function parseRaftdArgs(argv: string[]): RaftdConfig {
  const flags = parseFlags(argv, {
    strings: [
      "listen",
      "advertise",
      "join",
      "data-dir",
      "heartbeat-ms",
      "election-timeout-ms",
      "admin",
      "log-level",
      "fsync",
      "wal-writes",
      "snapshot-entries",
      "snapshot-log-fraction",
      "snapshot-chunk-bytes",
      "max-value-bytes",
    ],
    booleans: ["help", "admin-public"],
  });
  if (flags._.length > 0) throw invalid(`unexpected argument ${JSON.stringify(String(flags._[0]))}`);
  if (flags.listen === undefined) throw invalid("--listen HOST:PORT is required");
  if (flags["data-dir"] === undefined || flags["data-dir"] === "") throw invalid("--data-dir DIR is required");
  const listen = parseHostPort(flags.listen, "--listen", true);
  let advertise: string | null = null;
  if (flags.advertise !== undefined) advertise = formatHostPort(parseHostPort(flags.advertise, "--advertise"));
  else if (listen.port !== 0) {
    if (listen.host === "0.0.0.0" || listen.host === "::") throw invalid("--advertise is required when --listen is a wildcard address");
    advertise = formatHostPort(listen);
  }
  const heartbeatMs = flags["heartbeat-ms"] === undefined ? defaults.heartbeatMs : parsePositiveInt(flags["heartbeat-ms"], "--heartbeat-ms", 60_000);
  const electionTimeoutMs =
    flags["election-timeout-ms"] === undefined
      ? Math.max(defaults.electionTimeoutMs, heartbeatMs * 10)
      : parsePositiveInt(flags["election-timeout-ms"], "--election-timeout-ms", 600_000);
  if (electionTimeoutMs < heartbeatMs * 3) {
    throw invalid(`--election-timeout-ms (${electionTimeoutMs}) must be at least 3 x --heartbeat-ms (${heartbeatMs})`);
  }
  const adminAuto = flags.admin === "auto";
  const adminPublic = flags["admin-public"] === true;
  const admin = flags.admin === undefined || adminAuto ? null : parseHostPort(flags.admin, "--admin", true);
  if (admin !== null && !adminPublic && !isLoopbackHost(admin.host)) {
    throw invalid(`--admin ${admin.host} is not a loopback address: add --admin-public to serve the admin endpoint beyond this machine`);
  }
  const fsync = flags.fsync ?? "always";
  if (fsync !== "always" && fsync !== "never") throw invalid(`--fsync: expected always|never, got ${JSON.stringify(fsync)}`);
  const walWrites = flags["wal-writes"] ?? "blocking";
  if (walWrites !== "blocking" && walWrites !== "pool") throw invalid(`--wal-writes: expected blocking|pool, got ${JSON.stringify(walWrites)}`);
  return {
    listen,
    advertise,
    join: flags.join === undefined ? null : formatHostPort(parseHostPort(flags.join, "--join")),
    dataDir: flags["data-dir"],
    heartbeatMs,
    electionTimeoutMs,
    admin,
    adminAuto,
    adminPublic,
    logLevel: flags["log-level"] === undefined ? "info" : parseLogLevel(flags["log-level"]),
    fsync,
    walWrites,
    snapshotEntries:
      flags["snapshot-entries"] === undefined ? defaults.snapshotEntries : parsePositiveInt(flags["snapshot-entries"], "--snapshot-entries", 1e9),
    snapshotLogFraction:
      flags["snapshot-log-fraction"] === undefined ? defaults.snapshotLogFraction : parseFraction(flags["snapshot-log-fraction"], "--snapshot-log-fraction", 100),
    // Within the 16 MiB frame limit with room for the frame's other fields.
    snapshotChunkBytes:
      flags["snapshot-chunk-bytes"] === undefined
        ? defaults.snapshotChunkBytes
        : parsePositiveInt(flags["snapshot-chunk-bytes"], "--snapshot-chunk-bytes", 8 * 1024 * 1024),
    maxValueBytes:
      flags["max-value-bytes"] === undefined ? defaults.maxValueBytes : parsePositiveInt(flags["max-value-bytes"], "--max-value-bytes", 8 * 1024 * 1024),
  };
}

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Admin port = advertised raft port + this, with --admin auto. */
export const adminAutoPortOffset = 1000;

export function electionTicksOf(config: RaftdConfig): number {
  return Math.max(3, Math.round(config.electionTimeoutMs / config.heartbeatMs));
}
