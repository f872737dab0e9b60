/**
 * CoreLogger: the only logging surface the pure core sees (as etcd-io/raft takes Config.Logger).
 * Messages are short fixed phrases; variable parts go in `fields`. The runtime adapts a bunyan
 * child logger (which adds `node`); the simulator writes to a per-seed ring buffer.
 */
export type LogFields = Record<string, unknown>;

export interface CoreLogger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
}

export const nullCoreLogger: CoreLogger = Object.freeze({
  debug(): void {},
  info(): void {},
  warn(): void {},
});
