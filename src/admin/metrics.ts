/**
 * Prometheus metrics for one raftd (issue 7), on a per-node prom-client Registry (never the
 * global one, so several nodes can live in one process, e.g. in tests).
 *
 * Lazy: gauges and counters read the node's own counters in their collect() callbacks, which
 * prom-client runs only when /metrics is scraped. The only work on the hot path is behind hooks
 * that are null without an admin endpoint: ClientService.requestTimer (client request latency per
 * kind and result), RaftNode.persistObserver (write + fsync latency of each persisted Ready) and
 * RaftNode.messageObserver (raft RPC round trips per kind, paired by rpc-latency.ts). Elections are counted
 * from RaftNode "role-change" events (becoming candidate: started; becoming leader: won), so a
 * pre-vote round that never became a candidacy is not counted as an election.
 */
import { performance } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { StorageStats } from "../storage/fs-util";
import type { WireStats } from "../wire/options";
import { RpcLatency } from "./rpc-latency";
import { queuesListedMax, type AdminSources } from "./status-view";

export interface MetricsSources extends AdminSources {
  wire: { readonly stats: WireStats };
  storage: { stats(): Readonly<StorageStats> };
}

const roles = ["follower", "precandidate", "candidate", "leader", "learner"] as const;
const secondsBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
/** Distinct request kinds / results kept as label values at most (label cardinality bound). */
const labelValuesMax = 64;

export class NodeMetrics {
  readonly registry = new Registry();
  private electionsStarted = 0;
  private electionsWon = 0;
  private lastRole: string;
  private lastTerm: number;
  private readonly requestLabels = new Set<string>();

  constructor(private readonly sources: MetricsSources) {
    this.registry.setDefaultLabels({ node: sources.core.id });
    this.lastRole = sources.core.status().role;
    this.lastTerm = sources.core.status().term;
    this.defineRaftGauges();
    this.defineCounters();
    this.defineHistograms();
  }

  /** Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Detaches the hooks installed on the node and the client service. */
  close(): void {
    this.sources.node.persistObserver = null;
    this.sources.node.messageObserver = null;
    this.sources.service.requestTimer = null;
    this.registry.clear();
  }

  private gauge(name: string, help: string, collect: (gauge: Gauge) => void, labelNames: string[] = []): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        collect(this);
      },
    });
  }

  /** A counter whose value is read from a running total at scrape time. */
  private counter(name: string, help: string, collect: (set: (labels: Record<string, string>, value: number) => void) => void, labelNames: string[] = []): void {
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        collect((labels, value) => {
          if (value > 0) this.inc(labels, value);
        });
      },
    });
  }

  private defineRaftGauges(): void {
    const { core, node, stateMachine } = this.sources;
    this.gauge("raftmq_term", "Current raft term", (g) => g.set(core.status().term));
    this.gauge(
      "raftmq_role",
      "1 for this node's current role",
      (g) => {
        const role = core.status().role;
        for (const r of roles) g.set({ role: r }, r === role ? 1 : 0);
      },
      ["role"],
    );
    this.gauge("raftmq_commit_index", "Highest log index known committed", (g) => g.set(core.status().commitIndex));
    this.gauge("raftmq_applied_index", "Highest log index applied to the queue state machine", (g) => g.set(node.lastApplied));
    this.gauge("raftmq_last_log_index", "Index of the last log entry", (g) => g.set(core.log.lastIndex()));
    this.gauge("raftmq_log_entries", "Entries held in the log (after the snapshot)", (g) => g.set(core.log.lastIndex() - core.log.firstIndex() + 1));
    this.gauge("raftmq_snapshot_index", "Index covered by the latest snapshot", (g) => g.set(core.status().snapshotIndex));
    this.gauge("raftmq_wal_bytes_since_snapshot", "WAL bytes written since the latest snapshot", (g) => g.set(this.sources.storage.stats().bytesSinceSnapshot));
    const peerGauge = (pick: (match: number, last: number) => number) => (g: Gauge) => {
      g.reset();
      const status = core.status();
      if (status.role !== "leader") return;
      for (const [peer, progress] of Object.entries(status.progress)) {
        if (peer === status.id) continue;
        g.set({ peer }, pick(progress.matchIndex, status.lastIndex));
      }
    };
    this.gauge("raftmq_peer_match_index", "Leader only: highest index known replicated on each peer", peerGauge((match) => match), ["peer"]);
    this.gauge("raftmq_peer_replication_lag_entries", "Leader only: last log index minus each peer's match index", peerGauge((match, last) => last - match), ["peer"]);
    this.gauge(
      "raftmq_queue_depth",
      `Messages per queue (at most ${queuesListedMax} queues)`,
      (g) => {
        g.reset();
        for (const { queue, length } of stateMachine.queueLengths(queuesListedMax)) g.set({ queue }, length);
      },
      ["queue"],
    );
    this.gauge("raftmq_queue_messages", "Messages in all queues", (g) => g.set(stateMachine.stats().messageCount));
  }

  private defineCounters(): void {
    const { node, wire, storage } = this.sources;
    node.on("role-change", () => this.onRoleChange());
    this.counter("raftmq_elections_started_total", "Times this node became a candidate", (set) => set({}, this.electionsStarted));
    this.counter("raftmq_elections_won_total", "Times this node became leader", (set) => set({}, this.electionsWon));
    this.counter(
      "raftmq_frames_rejected_total",
      "Inbound frames rejected (connection closed), by error code",
      (set) => {
        for (const [reason, count] of Object.entries(wire.stats.badFrames)) set({ reason }, count);
      },
      ["reason"],
    );
    this.counter("raftmq_frames_duplicate_total", "Inbound frames dropped as duplicates", (set) => set({}, wire.stats.framesDuplicate));
    this.counter("raftmq_frames_received_total", "Inbound frames delivered", (set) => set({}, wire.stats.framesReceived));
    this.counter("raftmq_frames_sent_total", "Frames written to sockets", (set) => set({}, wire.stats.framesSent));
    this.counter("raftmq_raft_messages_received_total", "Raft messages stepped into the core", (set) => set({}, node.stats.messagesReceived));
    this.counter("raftmq_raft_messages_sent_total", "Raft messages handed to the transport", (set) => set({}, node.stats.messagesSent));
    this.counter("raftmq_entries_applied_total", "Log entries applied since start", (set) => set({}, node.stats.applied));
    this.counter("raftmq_snapshots_taken_total", "Snapshots taken since start", (set) => set({}, node.stats.snapshots));
    this.counter("raftmq_storage_fsyncs_total", "fsync/datasync calls", (set) => set({}, storage.stats().fsyncs));
    this.counter("raftmq_storage_bytes_written_total", "Bytes written to the WAL", (set) => set({}, storage.stats().bytesWritten));
  }

  private defineHistograms(): void {
    const requests = new Counter({
      name: "raftmq_client_requests_total",
      help: "Client requests answered, by op (queue op or request type) and result (ok or error code)",
      labelNames: ["op", "result"],
      registers: [this.registry],
    });
    const requestSeconds = new Histogram({
      name: "raftmq_client_request_seconds",
      help: "Client request latency on this node (arrival to reply), by op",
      labelNames: ["op"],
      buckets: secondsBuckets,
      registers: [this.registry],
    });
    const persistSeconds = new Histogram({
      name: "raftmq_storage_persist_seconds",
      help: "Latency of persisting one Ready (WAL write + fsync when --fsync always)",
      buckets: secondsBuckets,
      registers: [this.registry],
    });
    this.sources.service.requestTimer = (kind) => {
      const started = performance.now();
      const op = this.boundedLabel(kind);
      return (result) => {
        const seconds = (performance.now() - started) / 1000;
        requestSeconds.observe({ op }, seconds);
        requests.inc({ op, result: this.boundedLabel(result) });
      };
    };
    const rpcSeconds = new Histogram({
      name: "raftmq_raft_rpc_seconds",
      help: "Raft RPC round trip as this node sent it, by kind (append, heartbeat, vote, prevote, snapshot)",
      labelNames: ["kind"],
      buckets: secondsBuckets,
      registers: [this.registry],
    });
    const rpc = new RpcLatency(
      () => performance.now(),
      (kind, ms) => rpcSeconds.observe({ kind }, ms / 1000),
    );
    this.counter("raftmq_raft_rpc_unpaired_total", "Raft requests whose response never came or could not be paired", (set) => set({}, rpc.dropped));
    this.sources.node.messageObserver = (message, direction) => rpc.onMessage(message, direction);
    // RaftNode times each persist for its activity line already; the histogram takes that figure.
    this.sources.node.persistObserver = (ms) => persistSeconds.observe(ms / 1000);
  }

  private boundedLabel(value: string): string {
    if (this.requestLabels.has(value)) return value;
    if (this.requestLabels.size >= labelValuesMax) return "other";
    this.requestLabels.add(value);
    return value;
  }

  /** Role-change fires on a new role or a new term; a candidacy seen only as its won outcome (the
   * loop went candidate -> leader in one pass) still counts as started. */
  private onRoleChange(): void {
    const { role, term } = this.sources.core.status();
    const changed = role !== this.lastRole || term !== this.lastTerm;
    const wasCandidate = this.lastRole === "candidate" && term === this.lastTerm;
    this.lastRole = role;
    this.lastTerm = term;
    if (!changed) return;
    if (role === "candidate") this.electionsStarted += 1;
    if (role === "leader") {
      if (!wasCandidate) this.electionsStarted += 1;
      this.electionsWon += 1;
    }
  }
}
