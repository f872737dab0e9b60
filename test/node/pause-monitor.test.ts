// PauseMonitor: GC pauses are summed, their longest kept, and the event loop's lateness read from
// its delay histogram minus the 10 ms sampling period; take() starts a new period. The histogram
// is a fake here (real delays are machine timing, for bench/, not tests), and GCs are fed through
// recordGc(), which is what the PerformanceObserver calls.
import t from "tap";
import { PauseMonitor, type LoopDelaySource } from "../../src/node/pause-monitor";

function fakeHistogram() {
  const state = { enabled: false, resets: 0, p99Ns: 0, maxNs: 0, count: 0 };
  const source: LoopDelaySource = {
    enable: () => (state.enabled = true),
    disable: () => !(state.enabled = false),
    reset: () => {
      state.resets += 1;
      state.p99Ns = state.maxNs = state.count = 0;
    },
    percentile: (p: number) => (p === 99 ? state.p99Ns : Number.NaN),
    get max() {
      return state.maxNs;
    },
    get count() {
      return state.count;
    },
  };
  return { state, source };
}

t.test("sums GC pauses and reads loop lateness per period", async (t) => {
  const { state, source } = fakeHistogram();
  const monitor = new PauseMonitor({ loopDelay: source, observeGc: false });
  monitor.start();
  t.ok(state.enabled, "start enables the histogram");
  monitor.recordGc(1.26);
  monitor.recordGc(0.5);
  monitor.recordGc(3.04);
  state.p99Ns = 12.5e6; // a 10 ms timer that fired after 12.5 ms: 2.5 ms late
  state.maxNs = 27.33e6;
  state.count = 480;
  t.same(monitor.take(), { gcPauses: 3, gcPauseMs: 4.8, gcPauseMaxMs: 3, loopDelayP99Ms: 2.5, loopDelayMaxMs: 17.3 });
  t.equal(state.resets, 1, "take() resets the histogram");
  t.same(monitor.take(), { gcPauses: 0, gcPauseMs: 0, gcPauseMaxMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0 }, "an empty period reads zeros");
  state.p99Ns = 9.9e6; // on time, a hair early: never negative
  state.maxNs = 10.05e6;
  state.count = 3;
  t.same(monitor.take(), { gcPauses: 0, gcPauseMs: 0, gcPauseMaxMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0.1 });
  monitor.stop();
  t.notOk(state.enabled, "stop disables the histogram");
});

t.test("the real sources: a busy stretch shows as loop lateness", async (t) => {
  const monitor = new PauseMonitor();
  monitor.start();
  await new Promise((resolve) => setTimeout(resolve, 50)); // some on-time samples first
  const until = Date.now() + 60;
  while (Date.now() < until); // the loop cannot run its 10 ms timer for 60 ms
  await new Promise((resolve) => setTimeout(resolve, 30));
  const figures = monitor.take();
  monitor.stop();
  // The timer was held up by the whole busy stretch, minus at most one 10 ms period of phase.
  t.ok(figures.loopDelayMaxMs >= 40, `loop delay max ${figures.loopDelayMaxMs} ms after a 60 ms busy stretch`);
  t.ok(figures.gcPauses >= 0 && Number.isFinite(figures.gcPauseMs), "GC figures are numbers");
});
