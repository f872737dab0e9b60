// The failover loop's figures: runs without a new leader count as over the bound.
import t from "tap";
import { summarizeFailovers } from "../../bench/failover";

t.test("min, median and max of the elected runs; the bound counts slow runs and runs without a leader", async (t) => {
  t.same(summarizeFailovers([1_500, 1_100, 2_000, null, 3_400, 1_200], 2_000), {
    runs: 6,
    noNewLeader: 1,
    minMs: 1_100,
    p50Ms: 1_500,
    maxMs: 3_400,
    overBound: 3,
    boundMs: 2_000,
  });
});

t.test("no runs, or none with a new leader", async (t) => {
  t.same(summarizeFailovers([], 2_000), { runs: 0, noNewLeader: 0, minMs: null, p50Ms: null, maxMs: null, overBound: 0, boundMs: 2_000 });
  t.same(summarizeFailovers([null, null], 2_000), { runs: 2, noNewLeader: 2, minMs: null, p50Ms: null, maxMs: null, overBound: 2, boundMs: 2_000 });
});

t.test("the median of an even count is the lower middle", async (t) => {
  t.equal(summarizeFailovers([4, 1, 3, 2], 10).p50Ms, 2);
});
