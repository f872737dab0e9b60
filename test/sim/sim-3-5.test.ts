/** CI subset of the deterministic simulator: 3- and 5-node clusters (the 7-node block runs in parallel). */
import t from "tap";
import { runSeedBlock } from "./ci-runner";

t.test("3 nodes", async (t) => runSeedBlock(t, 3, 1, 3000));
t.test("5 nodes", async (t) => runSeedBlock(t, 5, 1, 1500));
