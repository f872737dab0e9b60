/**
 * The admin endpoint of one raftd (issue 7): plain HTTP on node:http, read-only.
 *
 *   GET /status            this node's view (status-view.ts buildStatus), JSON
 *   GET /log?from=N&limit=M a page of this node's log (limit 1..1000, default 50; no `from`: the
 *                          latest page); bad parameters: 400 {"ok":false,"error":"BAD_REQUEST",...}
 *   GET /metrics           Prometheus text (metrics.ts, a per-node registry, collected lazily)
 *   GET /                  the dashboard (static files from src/admin/static, read once at start)
 *
 * Every answer carries Access-Control-Allow-Origin: * so a dashboard served by one node can poll
 * the others. Only GET/HEAD/OPTIONS; anything else is 405. Bounded: at most connectionsMax open
 * connections, request headers and bodies time out, no request body is read.
 */
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { RaftmqError, isRaftmqError } from "../util/errors";
import { NodeMetrics, type MetricsSources } from "./metrics";
import { buildLogPage, buildStatus, parseLogQuery, type AdminAddressing } from "./status-view";

const connectionsMax = 128;
const requestTimeoutMs = 10_000;
const staticFiles: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  "/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
};

export interface AdminServerOptions {
  sources: MetricsSources;
  /** Where to listen (port 0: any free port). */
  host: string;
  port: number;
  /** Host to put in this node's admin URL (the bind host unless that is a wildcard). */
  urlHost: string;
  /** --admin auto: admin port = raft port + offset everywhere; null otherwise. */
  portOffset: number | null;
}

/** Finds the dashboard's files both when running from src (tsx) and from dist (compiled). */
export function staticDir(): string {
  const candidates = [path.join(__dirname, "static"), path.resolve(__dirname, "../../../src/admin/static")];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, "index.html"))) return dir;
  throw new RaftmqError("CONFIG_INVALID", `dashboard files not found in ${candidates.join(" or ")}`);
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly metrics: NodeMetrics;
  private readonly files = new Map<string, Buffer>();
  private readonly startedAt = performance.now();
  private addressing: AdminAddressing = { selfUrl: "", portOffset: null };
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly options: AdminServerOptions) {
    const dir = staticDir();
    for (const { file } of Object.values(staticFiles)) if (!this.files.has(file)) this.files.set(file, fs.readFileSync(path.join(dir, file)));
    this.metrics = new NodeMetrics(options.sources);
    this.server = http.createServer((request, response) => this.handle(request, response));
    this.server.maxConnections = connectionsMax;
    this.server.requestTimeout = requestTimeoutMs;
    this.server.headersTimeout = requestTimeoutMs;
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  /** Listens; resolves once bound (rejects with the listen error, e.g. EADDRINUSE). */
  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    await new Promise<void>((resolve, reject) => {
      admin.server.once("error", reject);
      admin.server.listen(options.port, options.host, () => {
        admin.server.off("error", reject);
        resolve();
      });
    });
    const port = (admin.server.address() as net.AddressInfo).port;
    const host = options.urlHost.includes(":") ? `[${options.urlHost}]` : options.urlHost;
    admin.addressing = { selfUrl: `http://${host}:${port}`, portOffset: options.portOffset };
    return admin;
  }

  get url(): string {
    return this.addressing.selfUrl;
  }

  async close(): Promise<void> {
    this.metrics.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    response.setHeader("Access-Control-Allow-Origin", "*");
    response.setHeader("Cache-Control", "no-store");
    if (request.method === "OPTIONS") {
      response.setHeader("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
      response.writeHead(204).end();
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      this.json(response, 405, { ok: false, error: "BAD_REQUEST", message: `method ${request.method ?? ""} not allowed` });
      return;
    }
    const url = new URL(request.url ?? "/", "http://admin.invalid");
    this.route(url, response).catch((error: unknown) => {
      if (!isRaftmqError(error)) throw error;
      this.json(response, 400, { ok: false, error: error.code, message: error.message });
    });
  }

  private async route(url: URL, response: http.ServerResponse): Promise<void> {
    const { sources } = this.options;
    switch (url.pathname) {
      case "/status":
        this.json(response, 200, buildStatus(sources, this.addressing, Math.round(performance.now() - this.startedAt)));
        return;
      case "/log":
        this.json(response, 200, buildLogPage(sources.core, parseLogQuery(url.searchParams)));
        return;
      case "/metrics": {
        const text = await this.metrics.text();
        response.writeHead(200, { "Content-Type": this.metrics.contentType }).end(text);
        return;
      }
      default: {
        const file = staticFiles[url.pathname];
        if (file === undefined) {
          this.json(response, 404, { ok: false, error: "NOT_FOUND", message: `no ${url.pathname}` });
          return;
        }
        response.writeHead(200, { "Content-Type": file.type }).end(this.files.get(file.file));
      }
    }
  }

  private json(response: http.ServerResponse, code: number, body: unknown): void {
    if (response.headersSent) return;
    response.writeHead(code, { "Content-Type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
  }
}
