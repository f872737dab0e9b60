/**
 * src/admin: the admin endpoint (status, log, Prometheus metrics, dashboard) of a raftd.
 *
 * startAdmin() is what raftd calls once its node runs: it works out where to listen from the
 * flags (--admin HOST:PORT, or --admin auto = advertised raft port + 1000 on 127.0.0.1, or on the
 * --listen host with --admin-public), starts the server and logs `admin-listening` with the URL.
 */
import fs from "node:fs";
import path from "node:path";
import type { NodeLogger } from "../node/node-logger";
import { RaftmqError } from "../util/errors";
import { AdminServer } from "./admin-server";
import type { MetricsSources } from "./metrics";

export { AdminServer } from "./admin-server";
export { NodeMetrics } from "./metrics";
export { adminUrlOf, buildLogPage, buildStatus, parseLogQuery, logLimitMax, type StatusView, type LogPage } from "./status-view";

export interface AdminPlacement {
  /** Explicit --admin HOST:PORT, or null with auto. */
  admin: { host: string; port: number } | null;
  auto: boolean;
  public: boolean;
  /** This node's advertised raft address HOST:PORT (the auto convention's base). */
  raftAddress: string;
  /** The --listen host (what auto binds with --admin-public). */
  listenHost: string;
  portOffset: number;
}

/** The package.json version, from src/admin (tsx) or dist/src/admin (compiled). */
export function packageVersion(): string {
  for (const candidate of [path.resolve(__dirname, "../../package.json"), path.resolve(__dirname, "../../../package.json")]) {
    try {
      const parsed = JSON.parse(fs.readFileSync(candidate, "utf8")) as { name?: string; version?: string };
      if (parsed.name === "raftmq" && typeof parsed.version === "string") return parsed.version;
    } catch {
      continue; // not there: try the next layout
    }
  }
  return "unknown";
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

export async function startAdmin(placement: AdminPlacement, sources: Omit<MetricsSources, "version">, logger: NodeLogger): Promise<AdminServer> {
  const raftHost = placement.raftAddress.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  let host: string;
  let port: number;
  let urlHost: string;
  if (placement.auto) {
    const raftPort = Number(/:(\d+)$/.exec(placement.raftAddress)?.[1] ?? "0");
    port = raftPort + placement.portOffset;
    if (port > 65535) throw new RaftmqError("CONFIG_INVALID", `--admin auto: raft port ${raftPort} + ${placement.portOffset} is past 65535`);
    host = placement.public ? placement.listenHost : "127.0.0.1";
    urlHost = placement.public ? raftHost : "127.0.0.1";
  } else {
    if (placement.admin === null) throw new RaftmqError("CONFIG_INVALID", "startAdmin needs --admin HOST:PORT or auto");
    host = placement.admin.host;
    port = placement.admin.port;
    urlHost = isWildcard(host) ? raftHost : host;
  }
  let server: AdminServer;
  try {
    server = await AdminServer.start({
      sources: { ...sources, version: packageVersion() },
      host,
      port,
      urlHost,
      portOffset: placement.auto ? placement.portOffset : null,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== "string") throw error;
    throw new RaftmqError("CONFIG_INVALID", `admin endpoint: cannot listen on ${host}:${port}: ${code}`);
  }
  logger.info({ event: "admin-listening", url: server.url, dashboard: `${server.url}/` }, `admin endpoint and dashboard at ${server.url}/`);
  return server;
}
