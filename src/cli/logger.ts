/**
 * Process-wide bunyan logger for raftd and raftctl.
 *
 * When stdout is a TTY, records are rendered as one readable line each
 *   12:00:01.234 INFO  127.0.0.1:7001 t=3 leader  became leader  index=17
 * otherwise they are bunyan's JSON lines, one per record, for machines (pipe them through
 * `bunyan` or `jq`). Every child logger carries `node`; the runtime adds term, role, peer, index.
 */
import bunyan from "bunyan";
import { Writable } from "node:stream";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
export const logLevels: readonly LogLevel[] = ["trace", "debug", "info", "warn", "error"];

const levelNames: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};

const levelColours: Record<number, string> = { 10: "90", 20: "36", 30: "32", 40: "33", 50: "31", 60: "35" };

/** Fields that bunyan adds to every record, or that the line shows in fixed places. */
const fixedFields = new Set(["name", "hostname", "pid", "level", "msg", "time", "v", "node", "term", "role", "component"]);

function formatValue(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) || value === "" ? JSON.stringify(value) : value;
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value);
}

/** Renders one bunyan record as one human-readable line (pure: exported for tests). */
export function formatRecord(record: Record<string, unknown>, colour: boolean): string {
  const time = record.time instanceof Date ? record.time : new Date(String(record.time));
  const clock = time.toISOString().slice(11, 23);
  const level = typeof record.level === "number" ? record.level : 30;
  const levelText = levelNames[level] ?? String(level);
  const paint = (code: string, text: string): string => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const parts: string[] = [paint("90", clock), paint(levelColours[level] ?? "0", levelText)];
  if (record.node !== undefined) parts.push(String(record.node));
  if (record.term !== undefined) parts.push(`t=${String(record.term)}`);
  if (record.role !== undefined) parts.push(String(record.role).padEnd(9));
  parts.push(paint("1", String(record.msg ?? "")));
  const extras: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (fixedFields.has(key) || value === undefined) continue;
    if (key === "err" && value !== null && typeof value === "object") {
      const err = value as { code?: unknown; message?: unknown };
      extras.push(`err=${formatValue(err.code ?? err.message)}`);
      continue;
    }
    extras.push(`${key}=${formatValue(value)}`);
  }
  if (extras.length > 0) parts.push(paint("90", extras.join(" ")));
  return parts.join(" ");
}

class PrettyStream extends Writable {
  constructor(
    private readonly target: NodeJS.WriteStream,
    private readonly colour: boolean,
  ) {
    super({ objectMode: true });
  }

  override _write(record: Record<string, unknown>, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.target.write(formatRecord(record, this.colour) + "\n");
    done();
  }
}

export interface LoggerOptions {
  name: string;
  level: LogLevel;
  /** Defaults to process.stdout. */
  stream?: NodeJS.WriteStream;
  /** Force JSON (true) or pretty (false); default: pretty when the stream is a TTY. */
  json?: boolean;
}

export function createLogger(options: LoggerOptions): bunyan {
  const target = options.stream ?? process.stdout;
  const pretty = options.json === undefined ? target.isTTY === true : !options.json;
  const stream: bunyan.Stream = pretty
    ? { type: "raw", stream: new PrettyStream(target, target.isTTY === true), level: options.level }
    : { stream: target, level: options.level };
  return bunyan.createLogger({ name: options.name, streams: [stream], serializers: { err: bunyan.stdSerializers.err } });
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): bunyan {
  return bunyan.createLogger({ name: "silent", streams: [], level: bunyan.FATAL + 1 });
}
