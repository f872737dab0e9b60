/**
 * The nodes' own log lines for a scenario that missed a target (bench/run.ts with --json). The
 * figures say that a target was missed; the lines say what the nodes did meanwhile: elections
 * and votes, snapshots, and the activity lines with GC pauses, slow writes and late ticks. A run
 * on a shared machine cannot be repeated, so they are kept when the miss happens.
 */
import type { ScenarioResult } from "./report";

/** What miss logs need of a node (BenchNode has it). */
export interface LoggedNode {
  readonly name: string;
  readonly address: string;
  /** Lines (JSON records or crash traces) that arrived from fromMs to toMs (Date.now()), in order. */
  linesBetween(fromMs: number, toMs: number): string[];
}

/** Lines from this long before the scenario's window to this long after it are kept. */
export const missLogMarginMs = 2_000;

type Scenario = Pick<ScenarioResult, "name" | "targets" | "windowStartMs" | "windowEndMs" | "nodeFigures">;

/** The text to keep for `result`, or null when it met every target it has. */
export function missLogText(result: Scenario, nodes: readonly LoggedNode[]): string | null {
  const missed = result.targets.filter((t) => !t.met);
  if (missed.length === 0) return null;
  const fromMs = result.windowStartMs - missLogMarginMs;
  const toMs = result.windowEndMs + missLogMarginMs;
  const out = [
    `# ${result.name}: missed ${missed.map((t) => `${t.what} ${t.target} (got ${t.value})`).join(", ")}`,
    `# node log lines from ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} (the scenario's window, ${missLogMarginMs} ms either side)`,
  ];
  for (const node of nodes) {
    const role = result.nodeFigures.find((f) => f.name === node.name)?.role ?? "unknown";
    const lines = node.linesBetween(fromMs, toMs);
    out.push(`==== ${node.name} ${node.address} (${role} when the scenario began): ${lines.length} lines`, ...lines);
  }
  return `${out.join("\n")}\n`;
}

/** A file name for a scenario's miss log: the scenario name with anything odd replaced. */
export function missLogFileName(scenarioName: string): string {
  return `${scenarioName.replace(/[^A-Za-z0-9._-]/g, "_")}.log`;
}

/** Where the miss logs of `--json FILE` go: FILE without .json, plus .logs. */
export function missLogsDirFor(jsonFile: string): string {
  return `${jsonFile.endsWith(".json") ? jsonFile.slice(0, -5) : jsonFile}.logs`;
}
