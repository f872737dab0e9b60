/**
 * The load generator: `concurrency` streams, each one ClusterClient with one outstanding queue
 * command (the client protocol's rule), issuing commands back to back for a duration or until
 * a count is reached. Latency of every acknowledged command goes into an HDR histogram (in
 * microseconds, 3 significant digits, up to 120 s).
 *
 *   enqueue: every stream enqueues `payloadBytes`-long values;
 *   dequeue: every stream dequeues until the deadline, `opsMax` successes in all, or EMPTY;
 *   mixed:   every stream alternates enqueue and dequeue (a stream's k-th dequeue starts after
 *            its k-th enqueue was acknowledged, so the queue never runs dry: 50/50 and no EMPTY).
 *
 * With `track`, enqueued values are unique (`<stream>-<n>-` then padding), acknowledged ones are
 * recorded, and each op's start time and latency are kept (bounded) for failover analysis.
 * Errors other than EMPTY are counted by code and the stream goes on (the client already retried
 * for up to its deadline).
 */
import { performance } from "node:perf_hooks";
import type * as hdr from "hdr-histogram-js";
import type { ClusterClient } from "../../src/client/cluster-client";
import { newHistogram } from "./histogram";
import { isRaftmqError } from "../../src/util/errors";

export type LoadOp = "enqueue" | "dequeue" | "mixed";

export interface LoadSpec {
  op: LoadOp;
  queue: string;
  payloadBytes: number;
  durationMs: number;
  /** Stop after this many acknowledged commands in all (default unbounded). */
  opsMax?: number;
  track?: boolean;
  /** Checked before each command: true ends the run early (the cluster broke). */
  stop?: () => boolean;
}

export interface LoadProgress {
  ops: number;
  errors: number;
}

export interface OpSample {
  startMs: number;
  latencyUs: number;
}

export interface LoadResult {
  ops: number;
  enqueues: number;
  dequeues: number;
  elapsedMs: number;
  histogram: hdr.Histogram;
  errors: Record<string, number>;
  emptyReplies: number;
  /** With track: acknowledged enqueued values, and the dequeued values. */
  acked: string[];
  dequeued: string[];
  samples: OpSample[];
}

const samplesMax = 2_000_000;
const trackedMax = 2_000_000;

function valueOf(stream: number, n: number, payloadBytes: number, filler: string, track: boolean): string {
  if (!track) return filler;
  const head = `${stream}-${n}-`;
  return head.length >= payloadBytes ? head : head + filler.slice(0, payloadBytes - head.length);
}

export async function runLoad(clients: ClusterClient[], spec: LoadSpec, progress: LoadProgress): Promise<LoadResult> {
  const result: LoadResult = {
    ops: 0,
    enqueues: 0,
    dequeues: 0,
    elapsedMs: 0,
    histogram: newHistogram(),
    errors: {},
    emptyReplies: 0,
    acked: [],
    dequeued: [],
    samples: [],
  };
  const filler = "x".repeat(spec.payloadBytes);
  const opsMax = spec.opsMax ?? Number.POSITIVE_INFINITY;
  const track = spec.track === true;
  const started = performance.now();
  const deadline = started + spec.durationMs;
  const epochMs = Date.now() - started;

  const stream = async (client: ClusterClient, id: number): Promise<void> => {
    let n = 0;
    while (performance.now() < deadline && result.ops < opsMax && spec.stop?.() !== true) {
      const op = spec.op === "mixed" ? (n % 2 === 0 ? "enqueue" : "dequeue") : spec.op;
      const value = op === "enqueue" ? valueOf(id, n, spec.payloadBytes, filler, track) : "";
      n += 1;
      const t0 = performance.now();
      try {
        const reply = await client.execute(op, spec.queue, value);
        const latencyUs = Math.max(1, Math.round((performance.now() - t0) * 1000));
        result.histogram.recordValue(latencyUs);
        result.ops += 1;
        progress.ops += 1;
        if (op === "enqueue") {
          result.enqueues += 1;
          if (track && result.acked.length < trackedMax) result.acked.push(value);
        } else {
          result.dequeues += 1;
          if (track && result.dequeued.length < trackedMax) result.dequeued.push(reply.value);
        }
        if (track && result.samples.length < samplesMax) result.samples.push({ startMs: epochMs + t0, latencyUs });
      } catch (error) {
        const code = isRaftmqError(error) ? error.code : "UNKNOWN";
        if (code === "EMPTY") {
          result.emptyReplies += 1;
          if (spec.op === "dequeue") return; // drained
          continue;
        }
        result.errors[code] = (result.errors[code] ?? 0) + 1;
        progress.errors += 1;
      }
    }
  };
  await Promise.all(clients.map((client, i) => stream(client, i)));
  result.elapsedMs = performance.now() - started;
  return result;
}
