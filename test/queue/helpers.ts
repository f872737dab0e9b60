/**
 * Test helpers for the queue state machine: a Driver that stamps entry indexes, encodes commands,
 * applies them and checks every invariant after every command (STYLE.md §4).
 */
import { encodeCommand } from "../../src/queue/command-codec";
import { makeQueueLimits, QueueLimits } from "../../src/queue/limits";
import { QueueStateMachine } from "../../src/queue/state-machine";
import { ApplyResult } from "../../src/queue/types";

export function smallLimits(overrides: Partial<QueueLimits> = {}): QueueLimits {
  return makeQueueLimits({
    valueBytesMax: 16,
    queuesMax: 3,
    messagesMax: 12,
    valueBytesTotalMax: 64,
    sessionsMax: 4,
    sessionCacheBytesMax: 32,
    sessionTtlMs: 1000,
    ...overrides,
  });
}

export class Driver {
  readonly machine: QueueStateMachine;
  index = 0;
  nowMs = 1_000_000;
  private readonly nextSeq = new Map<string, number>();

  constructor(limits: QueueLimits = makeQueueLimits()) {
    this.machine = new QueueStateMachine(limits);
  }

  applyBytes(data: Uint8Array): ApplyResult {
    this.index += 1;
    const result = this.machine.apply(this.index, data);
    this.machine.checkInvariants();
    return result;
  }

  /** Sends the client's next command (seq allocated here) unless `seq` is given. */
  enqueue(clientId: string, value: string, queue = "default", seq?: number): ApplyResult {
    const s = seq ?? this.allocate(clientId);
    return this.applyBytes(encodeCommand({ op: "enqueue", queue, value, clientId, seq: s, proposedAtMs: this.nowMs }));
  }

  dequeue(clientId: string, queue = "default", seq?: number): ApplyResult {
    const s = seq ?? this.allocate(clientId);
    return this.applyBytes(encodeCommand({ op: "dequeue", queue, clientId, seq: s, proposedAtMs: this.nowMs }));
  }

  /** The last seq this driver allocated for `clientId`. */
  lastSeq(clientId: string): number {
    return (this.nextSeq.get(clientId) ?? 1) - 1;
  }

  private allocate(clientId: string): number {
    const seq = this.nextSeq.get(clientId) ?? 1;
    this.nextSeq.set(clientId, seq + 1);
    return seq;
  }
}
