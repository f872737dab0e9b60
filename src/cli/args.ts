/**
 * Command-line parsing and validation for raftd and raftctl (minimist underneath).
 *
 * Flags are a contract users' scripts rely on: unknown flags, missing values and impossible
 * combinations are refused with CONFIG_INVALID and a message naming the flag, never ignored.
 */
import minimist from "minimist";
import { RaftmqError } from "../util/errors";
import { logLevels, type LogLevel } from "./logger";

export interface HostPort {
  host: string;
  port: number;
}

function invalid(message: string): RaftmqError {
  return new RaftmqError("CONFIG_INVALID", message);
}

/** Parses "host:port" (IPv6 as "[::1]:7001"); port 0 only when `allowZero`. */
export function parseHostPort(text: string, flag: string, allowZero = false): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) throw invalid(`${flag}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port > 65535 || (port === 0 && !allowZero)) throw invalid(`${flag}: port out of range in ${JSON.stringify(text)}`);
  return { host, port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

interface FlagSpec {
  strings: string[];
  booleans: string[];
}

/** Runs minimist and refuses unknown flags and string flags given without a value. */
export function parseFlags(argv: string[], spec: FlagSpec): minimist.ParsedArgs {
  const known = new Set([...spec.strings, ...spec.booleans, "_"]);
  const unknown: string[] = [];
  const parsed = minimist(argv, {
    string: spec.strings,
    boolean: spec.booleans,
    unknown: (arg) => {
      if (arg.startsWith("-")) unknown.push(arg);
      return !arg.startsWith("-");
    },
  });
  if (unknown.length > 0) throw invalid(`unknown option ${unknown[0]}`);
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw invalid(`unknown option --${key}`);
  }
  for (const name of spec.strings) {
    const value: unknown = parsed[name];
    if (Array.isArray(value)) throw invalid(`--${name} given more than once`);
    if (value === "" && argv.some((arg) => arg === `--${name}`)) throw invalid(`--${name} needs a value`);
  }
  return parsed;
}

/** A whole number from min (at least 1) to max, in decimal digits only. */
export function parsePositiveInt(text: unknown, flag: string, max: number, min = 1): number {
  const value = Number(text);
  if (typeof text !== "string" || !/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < Math.max(1, min) || value > max) {
    throw invalid(`${flag}: expected an integer from ${Math.max(1, min)} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A decimal number from 0 to max ("0.25", "1", ".5"); no exponents, signs or units. */
export function parseFraction(text: unknown, flag: string, max: number): number {
  const value = Number(text);
  if (typeof text !== "string" || !/^(\d+(\.\d*)?|\.\d+)$/.test(text) || !(value >= 0 && value <= max)) {
    throw invalid(`${flag}: expected a number from 0 to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

export function parseLogLevel(text: unknown): LogLevel {
  if (typeof text === "string" && (logLevels as readonly string[]).includes(text)) return text as LogLevel;
  throw invalid(`--log-level: expected one of ${logLevels.join("|")}, got ${JSON.stringify(text)}`);
}
