/**
 * PauseMonitor: the garbage collections of this process, per activity period (RaftNode's
 * `activity` line). Every GC V8 reports through PerformanceObserver "gc" (scavenges,
 * mark-compacts, incremental marking steps) runs on the thread and stops the Ready loop.
 *
 * A c64 enqueue round on the bench machine lasts about 1.5 ms, so a 2 ms GC is a p99 event
 * (bench/README.md, session 8). The observer costs nothing between GCs: no timer, no wake-up
 * (an event-loop delay histogram, which samples with a 10 ms timer, was tried and left out for
 * its wake-ups on the latency path). Bounded: three numbers, reset by every take().
 */
import { PerformanceObserver } from "node:perf_hooks";

export interface PauseFigures {
  /** Garbage collections reported in the period, their total and longest duration (ms). */
  gcPauses: number;
  gcPauseMs: number;
  gcPauseMaxMs: number;
}

export class PauseMonitor {
  private gcPauses = 0;
  private gcPauseMs = 0;
  private gcPauseMaxMs = 0;
  private readonly observer: PerformanceObserver;
  private running = false;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.recordGc(entry.duration);
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.observer.observe({ entryTypes: ["gc"] });
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.observer.disconnect();
  }

  /** One GC of `durationMs` (the observer calls this; exposed for tests). */
  recordGc(durationMs: number): void {
    this.gcPauses += 1;
    this.gcPauseMs += durationMs;
    if (durationMs > this.gcPauseMaxMs) this.gcPauseMaxMs = durationMs;
  }

  /** The figures since the last take() (or start()), then starts a new period. */
  take(): PauseFigures {
    const figures: PauseFigures = { gcPauses: this.gcPauses, gcPauseMs: tenths(this.gcPauseMs), gcPauseMaxMs: tenths(this.gcPauseMaxMs) };
    this.gcPauses = 0;
    this.gcPauseMs = 0;
    this.gcPauseMaxMs = 0;
    return figures;
  }
}

/** Milliseconds rounded to 0.1 ms, as the activity line prints them. */
export function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}
