/** RaftConfig validation and membership changes. */
import t from "tap";
import { validateRaftConfig } from "../../src/raft/config";
import { applyConfigChange, decodeConfig, encodeConfig } from "../../src/raft/membership";
import { isRaftmqError } from "../../src/util/errors";

t.test("validateRaftConfig fills defaults and rejects bad or unknown options", async (t) => {
  const config = validateRaftConfig({ id: "a" });
  t.equal(config.electionTicks, 10);
  t.ok(Object.isFrozen(config));
  const bad = [
    { id: "" },
    { id: "a", electionTicks: 0 },
    { id: "a", electionTicks: 3, heartbeatTicks: 3 },
    { id: "a", maxInflightMsgs: 1.5 },
    { id: "a", electionTick: 10 },
    { id: "a", preVote: "yes" },
  ];
  for (const input of bad) {
    let caught: unknown = null;
    try {
      validateRaftConfig(input as never);
    } catch (error) {
      caught = error;
    }
    t.ok(isRaftmqError(caught, "CONFIG_INVALID"), JSON.stringify(input));
  }
});

t.test("config changes: add learner, promote, remove", async (t) => {
  const base = { voters: ["a", "b"], learners: [] as string[] };
  const added = applyConfigChange(base, { type: "add-learner", node: "c" });
  t.ok(added.ok);
  if (!added.ok) return;
  t.same(added.config, { voters: ["a", "b"], learners: ["c"] });
  const promoted = applyConfigChange(added.config, { type: "promote", node: "c" });
  t.ok(promoted.ok && promoted.config.voters.includes("c"));
  t.notOk(applyConfigChange(base, { type: "add-learner", node: "a" }).ok, "already a member");
  t.notOk(applyConfigChange(base, { type: "promote", node: "a" }).ok, "not a learner");
  t.notOk(applyConfigChange(base, { type: "remove", node: "z" }).ok, "not a member");
  t.notOk(applyConfigChange({ voters: ["a"], learners: [] }, { type: "remove", node: "a" }).ok, "last voter");
  t.same(decodeConfig(encodeConfig(added.config)), added.config, "codec round trip");
});
