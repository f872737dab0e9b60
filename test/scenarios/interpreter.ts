/**
 * Scenario scripts (STYLE.md §9, after etcd-io/raft's interaction tests): a .txt file holds
 * commands ("> cmd args"), each followed by the output it must produce. runScenario() executes
 * a file against a Harness and returns the text with freshly generated outputs; the test
 * compares it with the file, and `--rewrite` (or RAFT_REWRITE=1) writes it back instead.
 * Lines starting with '#' are comments and are kept. checkInvariants() runs after every step.
 *
 * Commands:
 *   add-voters <ids...> [prevote=bool checkquorum=bool election=N heartbeat=N inflight=N maxentries=N]
 *   add-empty <id> [options]      a new node with an empty log (to join as a learner)
 *   campaign <id>                 start an election now (pre-vote first if configured)
 *   tick <id> [n] | tick-all [n]  tick (messages stay queued)
 *   run <n>                       n rounds of: tick every node once, then stabilize
 *   deliver [from=] [to=] [type=] [drop]   deliver (or drop) the queued messages that match
 *   stabilize [quiet]             deliver until nothing is left; prints every message
 *   partition <ids> | <ids>       cut both directions; isolate <id>; heal
 *   propose <id> <text>; config <id> <add-learner|promote|remove> <node>; transfer <id> <target>
 *   read <id> <requestId>; compact <id> <index>; crash <id>; restart <id>
 *   status <id>; log <id>; applied <id>; readstates <id>; progress <id>; leader
 */
import { describeMessage, Harness, type CoreOptions } from "../raft/harness";
import type { ConfigChange, RaftMessage } from "../../src/raft/types";

interface Block {
  preamble: string[];
  command: string;
}

function parse(text: string): { blocks: Block[]; trailer: string[] } {
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let inOutput = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("> ")) {
      blocks.push({ preamble, command: line.slice(2).trim() });
      preamble = [];
      inOutput = true;
    } else if (line.startsWith("#") || line.trim() === "") {
      inOutput = false;
      preamble.push(line);
    } else if (!inOutput) {
      preamble.push(line);
    }
  }
  while (preamble.length > 0 && preamble[preamble.length - 1] === "") preamble.pop();
  return { blocks, trailer: preamble };
}

function parseOptions(words: string[]): CoreOptions {
  const options: Record<string, number | boolean> = {};
  const names: Record<string, string> = {
    prevote: "preVote",
    checkquorum: "checkQuorum",
    election: "electionTicks",
    heartbeat: "heartbeatTicks",
    inflight: "maxInflightMsgs",
    maxentries: "maxEntriesPerMsg",
    autopromote: "autoPromote",
  };
  for (const word of words) {
    const [key, value] = word.split("=");
    const name = names[key!];
    if (name === undefined || value === undefined) throw new Error(`bad option ${word}`);
    options[name] = value === "true" ? true : value === "false" ? false : Number(value);
  }
  return options as CoreOptions;
}

export class ScenarioRunner {
  readonly harness = new Harness({ electionTicks: 10, heartbeatTicks: 1 });

  run(command: string): string[] {
    const [verb, ...args] = command.split(/\s+/);
    const h = this.harness;
    const arg = (k: number): string => {
      const value = args[k];
      if (value === undefined) throw new Error(`${verb}: missing argument ${k + 1}`);
      return value;
    };
    switch (verb) {
      case "add-voters": {
        const ids = args.filter((a) => !a.includes("="));
        h.addVoters(ids, parseOptions(args.filter((a) => a.includes("="))));
        return [];
      }
      case "add-empty":
        h.addEmpty(arg(0), parseOptions(args.slice(1)));
        return [];
      case "campaign": {
        const core = h.core(arg(0));
        core.campaign(core.config.preVote ? "pre-vote" : "election");
        h.process(arg(0));
        return [];
      }
      case "tick":
        h.tick(arg(0), args[1] === undefined ? 1 : Number(args[1]));
        return [];
      case "tick-all":
        h.tickAll(args[0] === undefined ? 1 : Number(args[0]));
        return [];
      case "run":
        h.run(Number(arg(0)));
        return [];
      case "deliver":
        return this.deliver(args);
      case "stabilize": {
        const delivered = h.stabilize();
        return args[0] === "quiet" ? [] : delivered.map(describeMessage);
      }
      case "partition": {
        const bar = args.indexOf("|");
        h.partition(args.slice(0, bar), args.slice(bar + 1));
        return [];
      }
      case "isolate":
        h.isolate(arg(0));
        return [];
      case "heal":
        h.heal();
        return [];
      case "propose":
        return [JSON.stringify(h.propose(arg(0), args.slice(1).join(" ")))];
      case "config": {
        const change = { type: arg(1), node: arg(2) } as ConfigChange;
        const result = h.core(arg(0)).proposeConfigChange(change);
        h.process(arg(0));
        return [JSON.stringify(result)];
      }
      case "transfer": {
        const result = h.core(arg(0)).transferLeadership(arg(1));
        h.process(arg(0));
        return [JSON.stringify(result)];
      }
      case "read": {
        const result = h.core(arg(0)).readIndex(Number(arg(1)));
        h.process(arg(0));
        return [JSON.stringify(result)];
      }
      case "compact": {
        const snapshot = h.core(arg(0)).compact(Number(arg(1)), new TextEncoder().encode(`snap@${arg(1)}`));
        void h.node(arg(0)).storage.compact(snapshot); // the harness's disk syncs at once
        return [`snapshot index=${snapshot.meta.index} term=${snapshot.meta.term}`];
      }
      case "crash":
        h.crash(arg(0));
        return [];
      case "restart":
        h.restart(arg(0));
        h.process(arg(0));
        return [];
      case "status":
        return [this.status(arg(0))];
      case "log":
        return this.log(arg(0));
      case "applied":
        return [h.appliedText(arg(0)).join(" ") || "(none)"];
      case "readstates": {
        const states = h.node(arg(0)).readStates;
        return states.length === 0 ? ["(none)"] : states.map((s) => `request=${s.requestId} index=${s.index}`);
      }
      case "progress":
        return Object.entries(h.core(arg(0)).status().progress).map(
          ([peer, p]) => `${peer}: match=${p.matchIndex} next=${p.nextIndex} ${p.state}`,
        );
      case "leader":
        return [h.leader() ?? "(none)"];
      default:
        throw new Error(`unknown command ${verb}`);
    }
  }

  private deliver(args: string[]): string[] {
    const want: Record<string, string> = {};
    let drop = false;
    for (const a of args) {
      if (a === "drop") drop = true;
      else {
        const [k, v] = a.split("=");
        want[k!] = v!;
      }
    }
    const matches = (m: RaftMessage): boolean =>
      (want.from === undefined || m.from === want.from) &&
      (want.to === undefined || m.to === want.to) &&
      (want.type === undefined || m.type === want.type);
    const h = this.harness;
    if (drop) {
      h.processAll();
      const dropped = h.queue.filter(matches);
      h.queue = h.queue.filter((m) => !matches(m));
      return dropped.map((m) => `dropped ${describeMessage(m)}`);
    }
    return h.deliver(matches).map(describeMessage);
  }

  private status(id: string): string {
    const s = this.harness.core(id).status();
    return (
      `${id}: ${s.role} term=${s.term} leader=${s.leader ?? "-"} commit=${s.commitIndex} applied=${s.lastApplied} ` +
      `last=${s.lastIndex}/${s.lastTerm} snap=${s.snapshotIndex} voters=${s.config.voters.join(",")} ` +
      `learners=${s.config.learners.join(",") || "-"}`
    );
  }

  private log(id: string): string[] {
    const log = this.harness.core(id).log;
    const lines: string[] = [];
    if (log.snapshotIndex() > 0) lines.push(`snapshot ${log.snapshotIndex()}/${log.snapshotTerm()}`);
    for (let index = log.firstIndex(); index <= log.lastIndex(); index++) {
      const e = log.entry(index);
      const data = e.kind === "normal" ? ` ${new TextDecoder().decode(e.data)}` : "";
      lines.push(`${e.index}/${e.term} ${e.kind}${data}`);
    }
    return lines.length === 0 ? ["(empty)"] : lines;
  }
}

/** Runs a scenario file's commands; returns the file text with regenerated outputs. */
export function runScenario(text: string): string {
  const { blocks, trailer } = parse(text);
  const runner = new ScenarioRunner();
  const out: string[] = [];
  for (const block of blocks) {
    out.push(...block.preamble, `> ${block.command}`);
    let output: string[];
    try {
      output = runner.run(block.command);
    } catch (error) {
      if ((error as Error).name === "AssertionError") throw error;
      output = [`error: ${(error as Error).message}`];
    }
    out.push(...output);
  }
  out.push(...trailer);
  return out.join("\n") + "\n";
}
