/**
 * Shared body of the CI simulator tests: run a fixed block of seeds and fail with the first
 * failing seed's error, replay command and trace. Seeds are fixed, so CI is deterministic.
 */
import type { Test } from "tap";
import { runSeed } from "./simulator";

export function runSeedBlock(t: Test, nodes: number, start: number, count: number): void {
  const failed: string[] = [];
  let firstTrace = "";
  let events = 0;
  for (let seed = start; seed < start + count; seed++) {
    const result = runSeed(seed, nodes);
    events += result.stats.events;
    if (!result.ok) {
      failed.push(`seed ${seed}: ${result.error}\n  replay: npm run sim -- --seeds 1 --start ${seed} --nodes ${nodes} --debug`);
      if (firstTrace === "") firstTrace = result.trace ?? "";
    }
  }
  if (failed.length > 0) t.comment(`trace of the first failing seed:\n${firstTrace}`);
  t.same(failed, [], `${count} seeds from ${start} on ${nodes} nodes (${events} events) pass every check`);
}
