/**
 * Helpers for connection-manager tests: managers on 127.0.0.1 port 0 with a capturing logger,
 * an echo responder, and cleanup that closes everything even when a test fails.
 * Fault model: none here (see fault-proxy.ts).
 */
import * as net from "node:net";
import type { Test } from "tap";
import { ConnectionManager, type InboundMessage } from "../../src/wire/manager";
import type { ManagerOptions, WireLogger } from "../../src/wire/options";
import type { WireMessage } from "../../src/wire/codec";
import { SeededRng } from "../../src/util/rng";

export const clusterId = "test-cluster";

export interface CapturedLog {
  level: "info" | "warn";
  fields: Record<string, unknown>;
  message: string;
}

export function captureLogger(): { logger: WireLogger; lines: CapturedLog[] } {
  const lines: CapturedLog[] = [];
  return {
    lines,
    logger: {
      info: (fields, message) => lines.push({ level: "info", fields, message }),
      warn: (fields, message) => lines.push({ level: "warn", fields, message }),
    },
  };
}

export interface Node {
  manager: ConnectionManager;
  id: string;
  port: number;
  inbound: InboundMessage[];
  logs: CapturedLog[];
}

let seed = 100;

/** A listening peer whose node id is its address; `respond` answers requests (default: echo). */
export async function startNode(t: Test, overrides: Partial<ManagerOptions> = {}, respond?: (inbound: InboundMessage) => void, port = 0): Promise<Node> {
  const { logger, lines } = captureLogger();
  const inbound: InboundMessage[] = [];
  const handler = respond ?? echo;
  // The node id is the address, so the port is chosen before the manager is made.
  const probe = port === 0 ? await freePort() : port;
  const id = `127.0.0.1:${probe}`;
  const manager = new ConnectionManager({ clusterId, nodeId: id, role: "peer", listen: { host: "127.0.0.1", port: probe }, rng: new SeededRng(seed++), logger, ...overrides }, (message) => {
    inbound.push(message);
    handler(message);
  });
  t.teardown(() => manager.close());
  await manager.listen();
  return { manager, id, port: probe, inbound, logs: lines };
}

export function startClient(t: Test, overrides: Partial<ManagerOptions> = {}): { manager: ConnectionManager; logs: CapturedLog[]; inbound: InboundMessage[] } {
  const { logger, lines } = captureLogger();
  const inbound: InboundMessage[] = [];
  const manager = new ConnectionManager({ clusterId, nodeId: `client-${seed}`, role: "client", rng: new SeededRng(seed++), logger, ...overrides }, (m) => inbound.push(m));
  t.teardown(() => manager.close());
  return { manager, logs: lines, inbound };
}

/** Answers every request with the same message. */
export function echo(inbound: InboundMessage): void {
  if (inbound.reply !== null) inbound.reply(inbound.message);
}

/** A port that was free a moment ago (listen on 0, close, reuse the number). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export function enqueue(value: string, seq: number): WireMessage {
  return { type: "ExecuteRequest", body: { op: 1, queue: "q", value, clientId: "c", seq } };
}

/** The value of an ExecuteRequest or ExecuteReply, or null for any other message. */
export function valueOf(message: WireMessage): string | null {
  return message.type === "ExecuteRequest" || message.type === "ExecuteReply" ? message.body.value : null;
}

/** Resolves when `predicate` holds, checking after each event-loop turn; rejects after `turnsMax` turns. */
export async function until(predicate: () => boolean, what: string, turnsMax = 200000): Promise<void> {
  for (let turn = 0; turn < turnsMax; turn++) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}
