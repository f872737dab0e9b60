// PauseMonitor: GC pauses are counted and summed, the longest kept, and take() starts a new
// period. recordGc() is what the PerformanceObserver calls; the last test lets V8 report real
// collections (allocating 64 MiB of short-lived arrays cannot fit in the young generation).
import t from "tap";
import { PauseMonitor } from "../../src/node/pause-monitor";

t.test("sums GC pauses per period", async (t) => {
  const monitor = new PauseMonitor();
  monitor.recordGc(1.26);
  monitor.recordGc(0.5);
  monitor.recordGc(3.04);
  t.same(monitor.take(), { gcPauses: 3, gcPauseMs: 4.8, gcPauseMaxMs: 3 });
  t.same(monitor.take(), { gcPauses: 0, gcPauseMs: 0, gcPauseMaxMs: 0 }, "an empty period reads zeros");
  monitor.recordGc(0.04);
  t.same(monitor.take(), { gcPauses: 1, gcPauseMs: 0, gcPauseMaxMs: 0 }, "rounded to 0.1 ms, still counted");
});

t.test("the observer reports the collections V8 makes", async (t) => {
  // A monitor that also says when its observer delivered a GC (entries arrive asynchronously).
  let delivered: () => void = () => undefined;
  const firstGc = new Promise<void>((resolve) => (delivered = resolve));
  class Watched extends PauseMonitor {
    override recordGc(durationMs: number): void {
      super.recordGc(durationMs);
      delivered();
    }
  }
  const monitor = new Watched();
  monitor.start();
  let kept = 0;
  for (let i = 0; i < 64 * 1024; i++) kept += new Array(128).fill(i).length; // 64 Ki arrays of 1 KiB and more
  t.equal(kept, 64 * 1024 * 128);
  await firstGc; // bounded by tap's timeout
  const figures = monitor.take();
  monitor.stop();
  t.ok(figures.gcPauses > 0, `${figures.gcPauses} collections reported`);
  t.ok(figures.gcPauseMs >= figures.gcPauseMaxMs, "the total is at least the longest");
  monitor.recordGc(1); // stop() leaves recordGc working; only the observer is gone
  t.equal(monitor.take().gcPauses, 1);
});
