/**
 * raftctl: the raftmq client (issue 5 spells the contract; add, never rename):
 *
 *   raftctl --cluster HOST:PORT[,HOST:PORT...] [--timeout-ms N] [--json] [--queue NAME] COMMAND
 *     enqueue STRING | dequeue | peek | length | log | status | add-server HOST:PORT |
 *     remove-server HOST:PORT | transfer-leader HOST:PORT | dashboard [--admin HOST:PORT]
 *   (no COMMAND: an interactive REPL with the same commands, plus help and quit)
 *
 * It follows NOT_LEADER redirects and retries timeouts with the same client id and sequence
 * number (exactly-once), and gives up after --timeout-ms with exit code 1. --json prints one
 * JSON object per command on stdout; errors are {"ok":false,"error":CODE,"message":...} with a
 * non-zero exit code (1: the cluster said no or did not answer, 2: bad usage).
 *
 * `dashboard` prints the URL of the admin dashboard (src/admin): --admin HOST:PORT names the admin
 * endpoint; without it the leader's admin endpoint is assumed at its raft port + 1000 (raftd
 * --admin auto). Either way the URL is checked (GET /status) before it is printed.
 */
import readline from "node:readline";
import { ClusterClient, type QueueOpName } from "../client/cluster-client";
import { RaftmqError, isRaftmqError } from "../util/errors";
import { SeededRng } from "../util/rng";
import { osSeed } from "./os-seed";
import type { WireMessage } from "../wire";
import { formatHostPort, parseFlags, parseHostPort, parsePositiveInt } from "./args";

export const raftctlUsage = `usage: raftctl --cluster HOST:PORT[,HOST:PORT...] [--timeout-ms N] [--json] [--queue NAME] COMMAND
commands:
  enqueue STRING            append STRING to the queue
  dequeue                   take the oldest message (error EMPTY when there is none)
  peek                      show the oldest message without taking it
  length                    number of messages in the queue
  log                       the leader's log, oldest entry first
  status                    leader, term, commit index and members
  add-server HOST:PORT      add a node (as a learner, promoted once caught up)
  remove-server HOST:PORT   remove a node
  transfer-leader HOST:PORT hand leadership to a voter
  dashboard                 print the dashboard URL (--admin HOST:PORT, else leader's raft port + 1000)
without COMMAND: an interactive prompt (help, quit)`;

const logPageLimit = 5_000;
const logPagesMax = 1_000;

interface CtlOptions {
  cluster: string[];
  timeoutMs: number;
  json: boolean;
  queue: string;
  /** --admin HOST:PORT for `dashboard`; null: the auto convention. */
  admin: string | null;
}

/** The outcome of one command: what to print and the exit code. */
interface Outcome {
  json: Record<string, unknown>;
  text: string;
  exitCode: number;
}

export async function main(argv: string[]): Promise<void> {
  let options: CtlOptions;
  let command: string[];
  try {
    const flags = parseFlags(argv, { strings: ["cluster", "timeout-ms", "queue", "admin"], booleans: ["json", "help"] });
    if (flags.help === true) {
      process.stdout.write(raftctlUsage + "\n");
      return;
    }
    if (typeof flags.cluster !== "string" || flags.cluster === "") throw new RaftmqError("CONFIG_INVALID", "--cluster HOST:PORT[,HOST:PORT...] is required");
    options = {
      cluster: flags.cluster.split(",").map((address) => formatHostPort(parseHostPort(address.trim(), "--cluster"))),
      timeoutMs: flags["timeout-ms"] === undefined ? 10_000 : parsePositiveInt(flags["timeout-ms"], "--timeout-ms", 3_600_000),
      json: flags.json === true,
      queue: typeof flags.queue === "string" ? flags.queue : "default",
      admin: typeof flags.admin === "string" ? formatHostPort(parseHostPort(flags.admin, "--admin")) : null,
    };
    command = flags._.map(String);
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    const json = argv.includes("--json");
    print(usageError(error.message), json);
    process.exitCode = 2;
    return;
  }
  const client = new ClusterClient({ cluster: options.cluster, timeoutMs: options.timeoutMs, rng: new SeededRng(osSeed()) });
  try {
    if (command.length === 0) {
      await repl(client, options);
    } else {
      const outcome = await runCommand(client, options, command);
      print(outcome, options.json);
      process.exitCode = outcome.exitCode;
    }
  } finally {
    await client.close();
  }
}

function print(outcome: Outcome, json: boolean): void {
  const stream = outcome.exitCode === 0 || json ? process.stdout : process.stderr;
  stream.write((json ? JSON.stringify(outcome.json) : outcome.text) + "\n");
}

function usageError(message: string): Outcome {
  return { json: { ok: false, error: "BAD_REQUEST", message }, text: `error BAD_REQUEST: ${message}\n${raftctlUsage}`, exitCode: 2 };
}

function failure(error: RaftmqError): Outcome {
  return { json: { ok: false, error: error.code, message: error.message }, text: `error ${error.code}: ${error.message}`, exitCode: 1 };
}

/** Runs one command; never throws for errors the cluster or the user caused. */
export async function runCommand(client: ClusterClient, options: CtlOptions, words: string[]): Promise<Outcome> {
  const [name, ...args] = words;
  const arity: Record<string, number> = {
    enqueue: 1,
    dequeue: 0,
    peek: 0,
    length: 0,
    log: 0,
    status: 0,
    "add-server": 1,
    "remove-server": 1,
    "transfer-leader": 1,
    dashboard: 0,
  };
  if (name === undefined || arity[name] === undefined) return usageError(`unknown command ${JSON.stringify(name ?? "")}`);
  if (args.length !== arity[name]) {
    return usageError(name === "enqueue" ? "enqueue takes exactly one STRING (quote it if it has spaces)" : `${name} takes ${arity[name]} argument(s)`);
  }
  try {
    switch (name) {
      case "enqueue":
      case "dequeue":
      case "peek":
      case "length":
        return await queueCommand(client, options, name, args[0] ?? "");
      case "log":
        return await logCommand(client);
      case "status":
        return await statusCommand(client);
      case "dashboard":
        return await dashboardCommand(client, options);
      default:
        return await membershipCommand(client, name, args[0] ?? "");
    }
  } catch (error) {
    if (!isRaftmqError(error)) throw error;
    return failure(error);
  }
}

async function queueCommand(client: ClusterClient, options: CtlOptions, op: QueueOpName, value: string): Promise<Outcome> {
  const reply = await client.execute(op, options.queue, value);
  switch (op) {
    case "enqueue":
      return { json: { ok: true, index: reply.index }, text: `ok index=${reply.index}`, exitCode: 0 };
    case "dequeue":
      return { json: { ok: true, value: reply.value, index: reply.index }, text: reply.value, exitCode: 0 };
    case "peek":
      return { json: { ok: true, value: reply.value }, text: reply.value, exitCode: 0 };
    case "length":
      return { json: { ok: true, length: reply.length }, text: String(reply.length), exitCode: 0 };
  }
}

async function logCommand(client: ClusterClient): Promise<Outcome> {
  const entries: Array<Record<string, unknown>> = [];
  let leader = "";
  let from = 0;
  for (let page = 0; page < logPagesMax; page++) {
    const reply = expect(await client.call({ type: "LogRequest", body: { fromIndex: from, limit: logPageLimit } }), "LogReply");
    leader = reply.body.leader;
    for (const entry of reply.body.entries) {
      const view: Record<string, unknown> = { index: entry.index, term: entry.term, kind: entry.kind };
      if (entry.op !== "") view.op = entry.op;
      if (entry.kind === "normal") {
        view.queue = entry.queue;
        if (entry.op === "enqueue") view.value = entry.value;
      }
      if (entry.config !== null && entry.config !== undefined) view.config = { voters: entry.config.voters, learners: entry.config.learners };
      entries.push(view);
    }
    const last = reply.body.entries[reply.body.entries.length - 1];
    if (last === undefined || last.index >= reply.body.lastIndex) break;
    from = last.index + 1;
  }
  const lines = entries.map((entry) => {
    const what = entry.kind === "normal" ? `${String(entry.op)}${entry.op === "enqueue" ? ` ${JSON.stringify(entry.value)}` : ""} (${String(entry.queue)})` : entry.kind === "config" ? `config ${JSON.stringify(entry.config)}` : String(entry.kind);
    return `${String(entry.index).padStart(6)}  t${String(entry.term).padEnd(4)} ${what}`;
  });
  return { json: { leader, entries }, text: [`leader ${leader}`, ...lines].join("\n"), exitCode: 0 };
}

async function statusCommand(client: ClusterClient): Promise<Outcome> {
  const reply = expect(await client.call({ type: "StatusRequest", body: {} }), "StatusReply");
  const body = reply.body;
  const members = body.members.map((member) => ({
    id: member.id,
    role: member.role,
    voter: member.voter,
    reachable: member.reachable,
    matchIndex: member.matchIndex,
  }));
  const lines = [
    `leader ${body.leader}  term ${body.term}  commitIndex ${body.commitIndex}  lastIndex ${body.lastIndex}`,
    ...members.map((m) => `  ${m.id.padEnd(22)} ${m.role.padEnd(9)} ${m.voter ? "voter  " : "learner"} ${m.reachable ? "up  " : "DOWN"} match=${m.matchIndex}`),
  ];
  return { json: { leader: body.leader, term: body.term, commitIndex: body.commitIndex, members }, text: lines.join("\n"), exitCode: 0 };
}

/** Admin port = raft port + this under raftd --admin auto (src/cli/raftd-config.ts). */
const adminAutoPortOffset = 1000;
const adminCheckTimeoutMs = 5_000;

async function dashboardCommand(client: ClusterClient, options: CtlOptions): Promise<Outcome> {
  let base: string;
  let leader = "";
  if (options.admin !== null) {
    base = `http://${options.admin}`;
  } else {
    leader = expect(await client.call({ type: "StatusRequest", body: {} }), "StatusReply").body.leader;
    const match = /^(.*):(\d+)$/.exec(leader);
    if (match === null) throw new RaftmqError("ADMIN_UNAVAILABLE", "no leader known: cannot locate the dashboard");
    base = `http://${match[1]}:${Number(match[2]) + adminAutoPortOffset}`;
  }
  let id: string;
  try {
    const response = await fetch(`${base}/status`, { signal: AbortSignal.timeout(Math.min(options.timeoutMs, adminCheckTimeoutMs)) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    id = String(((await response.json()) as { id?: unknown }).id);
  } catch (error) {
    const how = options.admin === null ? " (start raftd with --admin auto, or pass --admin HOST:PORT)" : "";
    throw new RaftmqError("ADMIN_UNAVAILABLE", `no admin endpoint answers at ${base}${how}: ${(error as Error).message}`);
  }
  const url = `${base}/`;
  return { json: { ok: true, url, node: id, leader }, text: url, exitCode: 0 };
}

async function membershipCommand(client: ClusterClient, name: string, target: string): Promise<Outcome> {
  const node = formatHostPort(parseHostPort(target, name));
  if (name === "transfer-leader") {
    const reply = expect(await client.call({ type: "TransferLeaderRequest", body: { target: node } }), "TransferLeaderReply");
    return { json: { ok: true, target: node, term: reply.body.term }, text: `leadership transfer to ${node} started`, exitCode: 0 };
  }
  const type = name === "add-server" ? 1 : 3;
  const reply = expect(await client.call({ type: "ConfigChangeRequest", body: { type, node } }), "ConfigChangeReply");
  const config = { voters: reply.body.config?.voters ?? [], learners: reply.body.config?.learners ?? [] };
  return {
    json: { ok: true, index: reply.body.index, config },
    text: `ok index=${reply.body.index} voters=${config.voters.join(",")} learners=${config.learners.join(",") || "-"}`,
    exitCode: 0,
  };
}

function expect<T extends WireMessage["type"]>(reply: WireMessage, type: T): Extract<WireMessage, { type: T }> {
  if (reply.type !== type) throw new RaftmqError("WIRE_DECODE", `expected ${type}, got ${reply.type}`);
  return reply as Extract<WireMessage, { type: T }>;
}

/** Splits a REPL line into words; "double quotes" keep spaces, \" escapes a quote. */
export function splitWords(line: string): string[] | null {
  const words: string[] = [];
  let current = "";
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && quoted && i + 1 < line.length) {
      current += line[++i];
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (/\s/.test(c) && !quoted) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quoted) return null;
  if (inWord) words.push(current);
  return words;
}

async function repl(client: ClusterClient, options: CtlOptions): Promise<void> {
  // A prompt only for people: piped input (scripts, tests) gets exactly one output line per command.
  const interactive = process.stdin.isTTY === true;
  const rl = readline.createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, prompt: "raftmq> ", terminal: interactive });
  const prompt = (): void => {
    if (interactive) rl.prompt();
  };
  if (interactive) process.stdout.write(`connected to ${options.cluster.join(",")}; type help for commands\n`);
  prompt();
  for await (const line of rl) {
    const words = splitWords(line);
    if (words === null) {
      process.stdout.write("error BAD_REQUEST: unbalanced quote\n");
    } else if (words.length === 0) {
      // empty line: prompt again
    } else if (words[0] === "quit" || words[0] === "exit") {
      break;
    } else if (words[0] === "help") {
      process.stdout.write(raftctlUsage.split("\n").slice(1).join("\n") + "\n");
    } else {
      print(await runCommand(client, options, words), options.json);
    }
    prompt();
  }
  rl.close();
}
