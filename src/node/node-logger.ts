/**
 * NodeLogger: the runtime's logger. A bunyan child that always carries `node`, and `role` and
 * `term` as they are now (STYLE.md §8), so every line of a node says who said it and when in
 * raft time. It also adapts itself to the pure core's CoreLogger.
 */
import type bunyan from "bunyan";
import type { CoreLogger, LogFields } from "../raft/logger";

export class NodeLogger implements CoreLogger {
  private current: bunyan;

  constructor(
    private readonly base: bunyan,
    readonly node: string,
  ) {
    this.current = base.child({ node }, true);
  }

  setRole(role: string, term: number): void {
    this.current = this.base.child({ node: this.node, role, term }, true);
  }

  /** A child for a component (wire, storage, client) that keeps the node field. */
  child(fields: LogFields): bunyan {
    return this.current.child(fields, false);
  }

  trace(fields: LogFields, message: string): void {
    this.current.trace(fields, message);
  }

  debug(fields: LogFields, message: string): void {
    this.current.debug(fields, message);
  }

  info(fields: LogFields, message: string): void {
    this.current.info(fields, message);
  }

  warn(fields: LogFields, message: string): void {
    this.current.warn(fields, message);
  }

  error(fields: LogFields, message: string): void {
    this.current.error(fields, message);
  }

  isDebug(): boolean {
    return this.current.level() <= 20;
  }
}
