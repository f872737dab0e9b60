/**
 * `npm run sim -- --seeds N --start S --nodes K [--verbose] [--debug]`: run seeds S..S+N-1 of the
 * deterministic simulator on K-node clusters (3, 5 or 7). A failing seed prints its error, the
 * command that replays it exactly, and the trace of its last events; the exit code is 1.
 */
import minimist from "minimist";
import { runSeed } from "./simulator";

function main(): void {
  const args = minimist(process.argv.slice(2), {
    string: ["seeds", "start", "nodes", "seed"],
    boolean: ["verbose", "debug", "stop-on-failure"],
    default: { seeds: "1", start: "1", nodes: "3", "stop-on-failure": true },
    unknown: (arg) => {
      if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
      return true;
    },
  });
  const seeds = Number(args.seeds);
  const start = Number(args.seed ?? args.start);
  const nodes = Number(args.nodes);
  if (!Number.isSafeInteger(seeds) || seeds <= 0) throw new Error("--seeds must be a positive integer");
  if (!Number.isSafeInteger(start)) throw new Error("--start must be an integer");
  if (![3, 5, 7].includes(nodes)) throw new Error("--nodes must be 3, 5 or 7");
  const began = process.hrtime.bigint();
  let failures = 0;
  let events = 0;
  for (let seed = start; seed < start + seeds; seed++) {
    const result = runSeed(seed, nodes, args.debug === true);
    events += result.stats.events;
    if (args.verbose === true) console.log(JSON.stringify({ seed, ok: result.ok, ...result.stats }));
    if (!result.ok) {
      failures++;
      console.log(`--- seed ${seed} (${nodes} nodes) FAILED: ${result.error}`);
      console.log(`params: ${JSON.stringify(result.params)}`);
      console.log(`trace (last events):\n${result.trace}`);
      console.log(`replay: npm run sim -- --seeds 1 --start ${seed} --nodes ${nodes} --debug`);
      if (args["stop-on-failure"] === true) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  console.log(
    `sim: ${seeds} seeds from ${start}, ${nodes} nodes: ${failures} failed, ${events} events, ${seconds.toFixed(1)} s`,
  );
  process.exitCode = failures === 0 ? 0 : 1;
}

main();
