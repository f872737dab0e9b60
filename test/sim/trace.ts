/**
 * Trace: a bounded per-seed ring buffer of simulator events and core log lines. Nothing is
 * formatted unless a run fails, so tracing costs little on the (many) passing seeds.
 */
import type { CoreLogger, LogFields } from "../../src/raft/logger";

interface TraceRecord {
  time: number;
  node: string;
  text: string;
  fields: LogFields | null;
}

export class Trace {
  private records: TraceRecord[] = [];
  private next = 0;
  now = 0;

  constructor(private readonly capacity: number) {}

  add(node: string, text: string, fields: LogFields | null = null): void {
    const record = { time: this.now, node, text, fields };
    if (this.records.length < this.capacity) this.records.push(record);
    else this.records[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
  }

  loggerFor(node: string, debug: boolean): CoreLogger {
    const trace = this;
    return {
      debug: debug ? (fields, message) => trace.add(node, message, fields) : () => {},
      info: (fields, message) => trace.add(node, message, fields),
      warn: (fields, message) => trace.add(node, `WARN ${message}`, fields),
    };
  }

  format(): string {
    const ordered =
      this.records.length < this.capacity
        ? this.records
        : [...this.records.slice(this.next), ...this.records.slice(0, this.next)];
    return ordered
      .map((r) => `t=${r.time} ${r.node.padEnd(4)} ${r.text}${r.fields === null ? "" : " " + safeJson(r.fields)}`)
      .join("\n");
  }
}

function safeJson(fields: LogFields): string {
  return JSON.stringify(fields, (_key, value: unknown) =>
    value instanceof Uint8Array ? `<${value.length} bytes>` : value,
  );
}
