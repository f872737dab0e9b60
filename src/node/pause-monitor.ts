/**
 * PauseMonitor: what held this process's thread up, per activity period (RaftNode's `activity`
 * line): garbage collection (every GC V8 reports through PerformanceObserver "gc": scavenges,
 * mark-compacts and incremental marking steps all run on the thread and stop the Ready loop), and
 * how late the event loop ran a 10 ms timer (perf_hooks.monitorEventLoopDelay), which also
 * catches long synchronous work, a slow blocking WAL write and a frozen VM.
 *
 * A c64 enqueue round on the bench machine lasts about 1.5 ms, so a 2 ms GC or a 5 ms write shows
 * in the p99 (bench/README.md, session 8); these figures let a run say which of them it met.
 * Bounded: three numbers and a histogram of fixed size, reset by every take().
 */
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from "node:perf_hooks";

export interface PauseFigures {
  /** Garbage collections reported in the period, their total and longest duration (ms). */
  gcPauses: number;
  gcPauseMs: number;
  gcPauseMaxMs: number;
  /** Lateness of the event loop's 10 ms sampling timer: p99 and max over the period (ms). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** What take() needs of a loop-delay histogram (IntervalHistogram; tests pass a fake). */
export interface LoopDelaySource {
  enable(): boolean;
  disable(): boolean;
  reset(): void;
  percentile(percentile: number): number;
  readonly max: number;
  readonly count?: number;
}

const loopDelayResolutionMs = 10;
const nsPerMs = 1e6;

export class PauseMonitor {
  private gcPauses = 0;
  private gcPauseMs = 0;
  private gcPauseMaxMs = 0;
  private observer: PerformanceObserver | null = null;
  private readonly loopDelay: LoopDelaySource;
  private running = false;

  /** `loopDelay`: default monitorEventLoopDelay at 10 ms; `observeGc` false leaves GC to recordGc() (tests). */
  constructor(options: { loopDelay?: LoopDelaySource; observeGc?: boolean } = {}) {
    this.loopDelay = options.loopDelay ?? (monitorEventLoopDelay({ resolution: loopDelayResolutionMs }) as IntervalHistogram);
    if (options.observeGc !== false) {
      this.observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) this.recordGc(entry.duration);
      });
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDelay.enable();
    this.observer?.observe({ entryTypes: ["gc"] });
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.loopDelay.disable();
    this.observer?.disconnect();
  }

  /** One GC of `durationMs` (the observer calls this; exposed for tests). */
  recordGc(durationMs: number): void {
    this.gcPauses += 1;
    this.gcPauseMs += durationMs;
    if (durationMs > this.gcPauseMaxMs) this.gcPauseMaxMs = durationMs;
  }

  /** The figures since the last take() (or start()), then starts a new period. */
  take(): PauseFigures {
    const sampled = this.loopDelay.count === undefined || this.loopDelay.count > 0;
    const figures: PauseFigures = {
      gcPauses: this.gcPauses,
      gcPauseMs: tenths(this.gcPauseMs),
      gcPauseMaxMs: tenths(this.gcPauseMaxMs),
      // The histogram holds how long each 10 ms timer took to fire in ns; a timer on time reads
      // about 10 ms, so the resolution is taken off: what is left is how late the loop was.
      loopDelayP99Ms: sampled ? lateness(this.loopDelay.percentile(99)) : 0,
      loopDelayMaxMs: sampled ? lateness(this.loopDelay.max) : 0,
    };
    this.gcPauses = 0;
    this.gcPauseMs = 0;
    this.gcPauseMaxMs = 0;
    this.loopDelay.reset();
    return figures;
  }
}

function lateness(ns: number): number {
  if (!Number.isFinite(ns)) return 0;
  return tenths(Math.max(0, ns / nsPerMs - loopDelayResolutionMs));
}

function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}
