/** CI subset of the deterministic simulator: 7-node clusters. */
import t from "tap";
import { runSeedBlock } from "./ci-runner";

t.test("7 nodes", async (t) => runSeedBlock(t, 7, 1, 2000));
