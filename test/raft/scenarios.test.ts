/**
 * Runs every test/scenarios/*.txt script and compares its output with the file. Pass
 * `--rewrite` (or set RAFT_REWRITE=1) to regenerate the expected output; review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { runScenario } from "../scenarios/interpreter";

const dir = join(__dirname, "..", "scenarios");
const rewrite = process.argv.includes("--rewrite") || process.env.RAFT_REWRITE === "1";

for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  t.test(file, async (t) => {
    const path = join(dir, file);
    const expected = readFileSync(path, "utf8");
    const actual = runScenario(expected);
    if (rewrite) writeFileSync(path, actual);
    else t.equal(actual, expected, `${file} output matches (run with --rewrite to regenerate)`);
  });
}
