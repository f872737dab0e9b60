// raftd's node flags live in one list (src/cli/node-flags.ts); bin/raftd, which users start,
// must carry the same ones on its #! line, and a raftd started without them must say so.
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { missingNodeFlags, raftdNodeFlags } from "../../src/cli/node-flags";

t.test("bin/raftd's #! line passes raftdNodeFlags to node", async (t) => {
  const firstLine = fs.readFileSync(path.resolve(__dirname, "../../bin/raftd"), "utf8").split("\n")[0];
  t.equal(firstLine, `#!/usr/bin/env -S node ${raftdNodeFlags.join(" ")}`);
});

t.test("missingNodeFlags names the flags a process lacks", async (t) => {
  t.same(missingNodeFlags([]), raftdNodeFlags);
  t.same(missingNodeFlags(["--inspect", ...raftdNodeFlags]), []);
  t.same(missingNodeFlags(["--max-semi-space-size=16"]), raftdNodeFlags, "another value is not ours");
});
