// The bench's machine figures: the aggregate cpu line of /proc/stat split into busy, iowait,
// idle and steal shares between two readings, and the CPU probe (a fixed piece of work, timed).
import t from "tap";
import { cpuShares, parseCpuTimes, probeMs, readCpuTimes } from "../../bench/lib/machine-probe";
import { formatMachine } from "../../bench/lib/report";

const statA = [
  "cpu  6808877 263207 1286901 6411052 602424 0 286142 57012 0 0",
  "cpu0 3404438 131603 643450 3205526 301212 0 143071 28506 0 0",
  "intr 1 2 3",
].join("\n");
// 10 s later on 2 CPUs (2,000 ticks): user +574, system +453, idle +448, iowait +373, softirq +115, steal +47
const statB = "cpu  6809451 263207 1287354 6411500 602797 0 286257 57059 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";

t.test("parses the aggregate line: busy is user + nice + system + irq + softirq", async (t) => {
  t.same(parseCpuTimes(statA), { busy: 6808877 + 263207 + 1286901 + 0 + 286142, idle: 6411052, iowait: 602424, steal: 57012 });
  t.same(parseCpuTimes("cpu  10 0 5 100\n"), { busy: 15, idle: 100, iowait: 0, steal: 0 }, "an old kernel's four fields");
  t.equal(parseCpuTimes("cpu0 1 2 3 4\n"), null, "no aggregate line");
  t.equal(parseCpuTimes("cpu  1 x 3 4\n"), null, "a field that is not a number");
  t.equal(parseCpuTimes(""), null);
});

t.test("shares of the time between two readings sum to 1", async (t) => {
  const shares = cpuShares(parseCpuTimes(statA), parseCpuTimes(statB));
  t.ok(shares !== null);
  const total = 574 + 453 + 115 + 448 + 373 + 47;
  t.equal(shares!.busy, (574 + 453 + 115) / total);
  t.equal(shares!.idle, 448 / total);
  t.equal(shares!.iowait, 373 / total);
  t.equal(shares!.steal, 47 / total);
  t.equal(cpuShares(parseCpuTimes(statA), parseCpuTimes(statA)), null, "no time passed");
  t.equal(cpuShares(null, parseCpuTimes(statB)), null);
  t.equal(cpuShares(parseCpuTimes(statA), null), null);
});

t.test("this machine's counters and the probe", async (t) => {
  const now = readCpuTimes();
  if (process.platform === "linux") t.ok(now !== null && now.busy > 0 && now.idle >= 0, "/proc/stat is read on Linux");
  else t.equal(now, null);
  const ms = probeMs();
  t.ok(Number.isFinite(ms) && ms > 0, `the probe takes some time (${ms.toFixed(2)} ms here)`);
});

t.test("printed with the probe's ratio to the floors' and the shares", async (t) => {
  t.equal(
    formatMachine({ probeMs: 3.1, probeOverFloors: 1.32, shares: { busy: 0.64, iowait: 0.09, idle: 0.25, steal: 0.02 } }),
    "probe 3.10 ms (1.32 x the floors'), cpu busy 64%, iowait 9%, idle 25%, steal 2.0%",
  );
  t.equal(formatMachine({ probeMs: 2, probeOverFloors: null, shares: null }), "probe 2.00 ms", "no floors' probe, no /proc");
});
